"""Helpers shared by the workspace-administration tests (registration and
invites, sessions, admin actions; end to end and on a cluster)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import websockets

from hubbub.protocol.errors import ErrorCode
from support import WAIT, WS, Server, auth, check_frame, start_server

PASSWORD = "correct horse"
# A close that must come "promptly" (a revoked session, a deactivated account):
# the bound of the wait, so a failure is an assertion and not a hang.
PROMPT = 5.0
# No rate limit in the way (a test that wants one passes its own `--limit`,
# which overrides these).
LIMITS = "messages_per_second=1000,message_burst=1000,registrations_per_hour=1000"


def api_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The documented error body of `r`, which must be `status` and `code`."""
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["error"], body
    err: dict[str, Any] = body["error"]
    assert err["code"] == code, err
    assert ErrorCode[code].status == status
    return err


async def closed_with(ws: WS, timeout: float = WAIT) -> tuple[int, str]:
    """Read until the server closes the connection (bounded); its close code
    and reason. Frames read meanwhile are kept in `ws.backlog`."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not closed within {timeout} s; got {ws.backlog}")
            try:
                raw = await asyncio.wait_for(ws.conn.recv(), left)
            except TimeoutError:
                continue
            frame = json.loads(raw)
            check_frame(frame)
            ws.backlog.append(frame)
    except websockets.ConnectionClosed as exc:
        rcvd = exc.rcvd
        assert rcvd is not None, "the server must send a close frame"
        return rcvd.code, rcvd.reason


async def frames_until_pong(ws: WS) -> list[dict[str, Any]]:
    """Everything the server sends the connection before it answers a ping
    sent now (a connection's frames arrive in the order they were written)."""
    reply = await ws.request({"action": "ping"})
    assert reply["type"] == "pong", reply
    got, ws.backlog[:] = list(ws.backlog), []
    return got


async def register(
    http: httpx.AsyncClient,
    username: str,
    *,
    invite: str | None = None,
    password: str = PASSWORD,
) -> str:
    body: dict[str, Any] = {"username": username, "password": password}
    if invite is not None:
        body["invite"] = invite
    r = await http.post("/api/auth/register", json=body)
    assert r.status_code == 201, r.text
    return r.json()["token"]  # type: ignore[no-any-return]


async def login(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    r = await http.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["token"]  # type: ignore[no-any-return]


async def me(http: httpx.AsyncClient, token: str) -> dict[str, Any]:
    r = await http.get("/api/me", headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def user_exists(http: httpx.AsyncClient, token: str, username: str) -> bool:
    r = await http.get(f"/api/users/{username}", headers=auth(token))
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200


async def create_invite(http: httpx.AsyncClient, token: str, **body: Any) -> dict[str, Any]:
    r = await http.post("/api/invites", json=body, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def invites(http: httpx.AsyncClient, token: str) -> dict[str, dict[str, Any]]:
    r = await http.get("/api/invites", headers=auth(token))
    assert r.status_code == 200, r.text
    return {i["id"]: i for i in r.json()}


async def history(
    http: httpx.AsyncClient, token: str, channel: str
) -> list[tuple[int, str | None, str]]:
    """The channel's messages, oldest first: (seq, author, text)."""
    r = await http.get(
        f"/api/channels/{channel}/messages", params={"after": 0, "limit": 200}, headers=auth(token)
    )
    assert r.status_code == 200, r.text
    return [(m["seq"], m["author"]["username"], m["text"]) for m in r.json()["messages"]]


async def post(
    http: httpx.AsyncClient, token: str, channel: str, text: str, client_id: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"text": text}
    if client_id is not None:
        body["client_id"] = client_id
    return await http.post(f"/api/channels/{channel}/messages", json=body, headers=auth(token))


async def create_channel(
    http: httpx.AsyncClient, token: str, name: str, **extra: Any
) -> dict[str, Any]:
    r = await http.post("/api/channels", json={"name": name, **extra}, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def audit(http: httpx.AsyncClient, token: str, **params: Any) -> list[dict[str, Any]]:
    r = await http.get("/api/audit", params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@contextlib.contextmanager
def own_server(data_dir: Path, *extra: str) -> Iterator[Server]:
    """A server of the test's own (sign-up open unless `extra` says otherwise)."""
    server = start_server(data_dir, "--limit", LIMITS, *extra)
    try:
        yield server
    finally:
        server.stop()


def sync_register(http: httpx.Client, username: str, invite: str | None = None) -> str:
    body: dict[str, Any] = {"username": username, "password": PASSWORD}
    if invite is not None:
        body["invite"] = invite
    r = http.post("/api/auth/register", json=body)
    assert r.status_code == 201, r.text
    return r.json()["token"]  # type: ignore[no-any-return]


def unique(prefix: str) -> str:
    """A fresh name per call (tests on a shared server never collide)."""
    return f"{prefix}-{next(_counter)}"


_counter = iter(range(1, 1_000_000))
