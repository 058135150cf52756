"""What an operator reads (issue #19, defect 9): at `--log-level info`, one
JSON object per line for connections opened and closed (with their close
codes) and slow consumers; HTTP access lines only with `--access-log`; no
token ever."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets

from support import WAIT, Server, register, ws_connect


def records(server: Server) -> list[dict[str, Any]]:
    out = []
    for line in list(server.log):
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


async def wait_for(server: Server, found: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for r in records(server):
            if found(r):
                return r
        await asyncio.sleep(0.05)
    raise AssertionError(f"no such log record in {records(server)}")


async def test_connections_and_closes_are_logged_as_json(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory("--log-level", "info")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        token = await register(http, "alice")
        r = await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
    async with ws_connect(f"{server.ws_url}?token={token}") as ws:
        await ws.expect("hello")
    async with ws_connect(f"{server.ws_url}?token=forged-token-value") as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    opened = await wait_for(server, lambda r: r.get("event") == "open")
    assert opened["logger"] == "hubbub.ws" and opened["level"] == "info"
    assert opened["path"].startswith("/ws?token=[redacted]")
    refused = await wait_for(server, lambda r: r.get("event") == "close" and r["code"] == 4001)
    assert refused["by"] == "server" and refused["peer"].startswith("127.0.0.1:")
    left = await wait_for(server, lambda r: r.get("event") == "close" and r["by"] == "client")
    assert left["code"] == 1000
    text = "".join(server.log)
    assert token not in text and "forged-token-value" not in text
    # Access logs are off by default: no line for GET /api/me.
    assert not [r for r in records(server) if r["logger"] == "uvicorn.access"]


async def test_access_log_is_a_switch(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--log-level", "info", "--access-log")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        assert (await http.get("/ping")).status_code == 200
    access = await wait_for(server, lambda r: r["logger"] == "uvicorn.access")
    assert "/ping" in access["message"]
