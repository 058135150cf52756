"""Browser tests: the web client in Debian's Chromium, driven by Playwright,
against a real `hubbub serve` process (the `server` fixture).

One browser per session; each test gets fresh contexts (separate tabs with
separate sessionStorage, i.e. separate signed-in users or devices)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from support import Server

from .helpers import CHROMIUM, CHROMIUM_ARGS, Web


def require_chromium() -> None:
    """Skip without Debian's Chromium; on CI that is a failure, not a skip."""
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        await b.close()


@pytest.fixture
def server(server_factory: Callable[..., Server]) -> Server:
    # A custom command's server in these tests is tests/receiver.py, on 127.0.0.1.
    return server_factory("--outbound-allow", "127.0.0.1")


@pytest_asyncio.fixture(loop_scope="session")
async def web(browser: Browser, server: Server) -> AsyncIterator[Web]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        w = Web(browser, server, http)
        try:
            yield w
        finally:
            await w.close()
        assert not w.page_errors, f"uncaught errors in the page: {w.page_errors}"
