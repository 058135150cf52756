"""Fixtures the e2e modules with a server of their own (a module-scoped
`server`) share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from admin_support import PASSWORD
from support import WAIT, Server


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as client:
        yield client


@pytest.fixture(scope="module")
def owner(server: Server) -> str:
    """The workspace's owner (the first account of this server)."""
    with httpx.Client(base_url=server.url, timeout=WAIT) as http:
        r = http.post("/api/auth/register", json={"username": "boss", "password": PASSWORD})
        assert r.status_code == 201, r.text
        return r.json()["token"]  # type: ignore[no-any-return]
