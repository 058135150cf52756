"""Security defaults: tokens, private channels, Origin, limits, guests, logs.

Each refusal uses its documented error or close code, and the server (and the
other connections of the same user) keep working afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import websockets

from hubbub.core.auth import issue_token
from hubbub.protocol.errors import ErrorCode
from support import WAIT, WS, Server, auth, check_frame, start_server, ws_connect

PASSWORD = "correct horse"


# --- helpers ---------------------------------------------------------------------------------


def server_secret(server: Server) -> str:
    with sqlite3.connect(server.data_dir / "hubbub.db") as db:
        (secret,) = db.execute("SELECT value FROM meta WHERE key = 'jwt_secret'").fetchone()
    assert isinstance(secret, str) and len(secret) >= 32
    return secret


def user_id(server: Server, username: str) -> int:
    with sqlite3.connect(server.data_dir / "hubbub.db") as db:
        (uid,) = db.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
    return int(uid)


def wait_for_log(server: Server, text: str) -> str:
    """The server's output once it contains `text` (a thread reads it: poll, bounded)."""
    deadline = time.monotonic() + WAIT
    while text not in "".join(server.log) and time.monotonic() < deadline:
        time.sleep(0.02)
    return "".join(server.log)


def b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def closed_with(ws: WS) -> tuple[int, str]:
    """Read until the server closes (bounded by WAIT); return its close code and reason."""
    deadline = time.monotonic() + WAIT
    with pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            await ws.recv(timeout=max(0.0, deadline - time.monotonic()))
    rcvd = info.value.rcvd
    assert rcvd is not None, "the server must send a close frame"
    return rcvd.code, rcvd.reason


async def is_alive(ws: WS) -> None:
    assert (await ws.request({"action": "ping"}))["type"] == "pong"


async def hello(ws: WS, username: str) -> None:
    frame = await ws.expect("hello")
    assert frame["user"]["username"] == username


async def reg(http: httpx.AsyncClient, username: str) -> str:
    r = await http.post("/api/auth/register", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return r.json()["token"]  # type: ignore[no-any-return]


async def messages(http: httpx.AsyncClient, token: str, channel: str) -> list[tuple[int, str]]:
    r = await http.get(
        f"/api/channels/{channel}/messages", params={"after": 0, "limit": 200}, headers=auth(token)
    )
    assert r.status_code == 200, r.text
    return [(m["seq"], m["text"]) for m in r.json()["messages"]]


def api_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["error"], body
    err: dict[str, Any] = body["error"]
    assert {"code", "message"} <= set(err) <= {"code", "message", "field", "retry_after"}, err
    assert err["code"] == code and ErrorCode[code].status == status
    return err


# --- a server shared by the tests that need no special limits --------------------------------


@dataclasses.dataclass
class World:
    server: Server
    tokens: dict[str, str]
    secret: str

    def url(self, user: str) -> str:
        return f"{self.server.ws_url}?token={self.tokens[user]}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """alice, bob and carol. bob owns public #lounge (alice is not in it), private
    #vault (only bob) and a DM with carol; alice owns #guestroom (guests enter
    only existing public channels: the default). All three are in #general,
    which alice's registration made."""
    server = start_server(
        tmp_path_factory.mktemp("security"),
        "--allow-guests",
        "--limit",
        "messages_per_second=1000,message_burst=1000",
    )
    try:
        with httpx.Client(base_url=server.url, timeout=WAIT) as http:
            tokens = {}
            for name in ("alice", "bob", "carol"):
                r = http.post("/api/auth/register", json={"username": name, "password": PASSWORD})
                assert r.status_code == 201, r.text
                tokens[name] = r.json()["token"]
            for owner, body in [
                ("alice", {"name": "guestroom"}),
                ("bob", {"name": "lounge"}),
                ("bob", {"name": "vault", "private": True, "topic": "the plans"}),
            ]:
                r = http.post("/api/channels", json=body, headers=auth(tokens[owner]))
                assert r.status_code == 201, r.text
            r = http.post("/api/dms", json={"usernames": ["carol"]}, headers=auth(tokens["bob"]))
            assert r.status_code == 200 and r.json()["name"] == "dm:bob,carol", r.text
            for channel in ("vault", "dm:bob,carol", "lounge"):
                r = http.post(
                    f"/api/channels/{channel}/messages",
                    json={"text": f"secret words in {channel}", "client_id": channel},
                    headers=auth(tokens["bob"]),
                )
                assert r.status_code == 201, r.text
        yield World(server, tokens, server_secret(server))
    finally:
        server.stop()


@pytest.fixture
async def api(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.server.url, timeout=WAIT) as client:
        yield client


# --- tokens ----------------------------------------------------------------------------------


def bad_tokens(world: World) -> dict[str, str]:
    """Tokens that must all be refused, and why."""
    alice = world.tokens["alice"]
    uid = user_id(world.server, "alice")
    now = int(time.time())
    header, payload, signature = alice.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    bob_claims = {**claims, "sub": str(user_id(world.server, "bob")), "name": "bob"}
    sid = claims["sid"]  # alice's session: only the signature is wrong below
    return {
        "garbage": "not-a-token",
        "empty": "",
        "truncated": alice[:-3],
        "forged-payload": f"{header}.{b64(bob_claims)}.{signature}",  # alice's signature
        "other-secret": issue_token("another server's secret" * 2, uid, "alice", sid, 3600),
        "alg-none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg-none-upper": f"{b64({'alg': 'None', 'typ': 'JWT'})}.{payload}.",
        "alg-hs512": jwt.encode(claims, world.secret, algorithm="HS512"),
        "no-exp": jwt.encode({"sub": str(uid), "iat": now}, world.secret, algorithm="HS256"),
        "no-sub": jwt.encode({"exp": now + 3600}, world.secret, algorithm="HS256"),
        "sub-not-int": jwt.encode(
            {"sub": "alice", "exp": now + 3600}, world.secret, algorithm="HS256"
        ),
        "unknown-user": issue_token(world.secret, 999_999, "ghost", sid, 3600),
        "no-session": issue_token(world.secret, uid, "alice", "never-started", 3600),
        "no-sid": jwt.encode({"sub": str(uid), "exp": now + 3600}, world.secret, algorithm="HS256"),
        "expired": issue_token(world.secret, uid, "alice", sid, -10),
    }


BAD_TOKEN_NAMES = [
    "garbage",
    "empty",
    "truncated",
    "forged-payload",
    "other-secret",
    "alg-none",
    "alg-none-upper",
    "alg-hs512",
    "no-exp",
    "no-sub",
    "sub-not-int",
    "unknown-user",
    "no-session",
    "no-sid",
    "expired",
]


# A well-signed token naming a session the server never started (for that
# user) is refused as an ended session would be; other bad tokens are invalid.
BAD_TOKEN_CODES = {
    "expired": "token_expired",
    "no-session": "session_ended",
    "unknown-user": "session_ended",
}


@pytest.mark.parametrize("how", ["query", "auth-frame"])
@pytest.mark.parametrize("which", BAD_TOKEN_NAMES)
async def test_bad_token_closes_4001(world: World, which: str, how: str) -> None:
    token = bad_tokens(world)[which]
    async with ws_connect(world.url("alice")) as alice:
        await hello(alice, "alice")
        if how == "query":
            # `?token=` with nothing in it is a bad token too, not "no token".
            async with ws_connect(f"{world.server.ws_url}?token={token}") as ws:
                code, reason = await closed_with(ws)
        else:
            async with ws_connect(world.server.ws_url) as ws:
                await ws.send({"action": "auth", "token": token})
                code, reason = await closed_with(ws)
        assert code == 4001
        assert ("expired" in reason) == (which == "expired"), reason
        assert token not in reason or not token
        # the server, and the user's good connection, are fine
        await is_alive(alice)
        async with ws_connect(world.url("alice")) as again:
            await hello(again, "alice")


async def test_an_empty_token_with_a_room_is_no_guest(world: World) -> None:
    # Guests are on here: `?token=` must still be a bad token, not an anonymous
    # connection to the room (issue #19, defect 7).
    async with ws_connect(f"{world.server.ws_url}?token=&room_name=lounge") as ws:
        assert (await closed_with(ws))[0] == 4001


async def test_bad_tokens_over_rest(world: World, api: httpx.AsyncClient) -> None:
    tokens = bad_tokens(world)
    assert list(tokens) == BAD_TOKEN_NAMES
    before = await messages(api, world.tokens["alice"], "general")
    for which, token in tokens.items():
        if which == "empty":
            continue  # `Bearer ` is not a valid header value (no token is tested elsewhere)
        r = await api.get("/api/me", headers=auth(token))
        api_error(r, 401, BAD_TOKEN_CODES.get(which, "token_invalid"))
        assert r.headers["www-authenticate"] == "Bearer"
        r = await api.post(
            "/api/channels/general/messages",
            json={"text": "forged", "client_id": f"forged-{which}"},
            headers=auth(token),
        )
        assert r.status_code == 401
    assert await messages(api, world.tokens["alice"], "general") == before


async def test_frames_before_auth_are_refused_then_auth_works(
    world: World, api: httpx.AsyncClient
) -> None:
    async with ws_connect(world.server.ws_url) as ws:
        for frame in [
            {"action": "ping"},
            {"action": "subscribe", "channel": "general"},
            {"action": "send", "channel": "general", "text": "early", "client_id": "early"},
            {"action": "history", "channel": "vault"},
            {"action": "sendMessage", "content": "early", "room_name": "general"},
        ]:
            err = await ws.request(frame)
            assert (err["type"], err["code"]) == ("error", "not_authenticated"), err
        # bad input is still reported as such, and does not end the grace period
        err = await ws.request({"action": "auth", "token": 5})
        assert (err["code"], err["field"]) == ("invalid_input", "token")
        err = await ws.request({"action": "auth"})
        assert (err["code"], err["message"]) == ("invalid_input", "token not in message dict")
        await ws.conn.send("{nope")
        assert (await ws.recv())["code"] == "invalid_json"

        await ws.send({"action": "auth", "token": world.tokens["alice"]})
        await hello(ws, "alice")
        await is_alive(ws)
        err = await ws.request({"action": "auth", "token": world.tokens["bob"]})
        assert (err["code"], err["field"]) == ("invalid_input", "action")  # already signed in
        ack = await ws.request(
            {"action": "send", "channel": "general", "text": "late", "client_id": "late"}
        )
        assert ack["type"] == "ack" and ack["message"]["author"]["username"] == "alice"
    assert await messages(api, world.tokens["alice"], "general") == [(ack["seq"], "late")]


async def test_auth_timeout_closes_4002(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--limit", "auth_timeout=0.5")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        token = await reg(http, "alice")
    async with ws_connect(f"{server.ws_url}?token={token}") as signed_in:
        await hello(signed_in, "alice")
        started = time.monotonic()
        async with ws_connect(server.ws_url) as silent, ws_connect(server.ws_url) as chatty:
            # frames other than `auth` do not extend the grace period
            err = await chatty.request({"action": "ping"})
            assert err["code"] == "not_authenticated"
            assert (await closed_with(silent))[0] == 4002
            assert (await closed_with(chatty))[0] == 4002
            assert time.monotonic() - started >= 0.5
        # opened before them, authenticated in time: untouched by the timeout
        await is_alive(signed_in)


async def test_idle_timeout_closes_4003_and_pings_keep_alive(
    server_factory: Callable[..., Server],
) -> None:
    idle_timeout = 1.5
    server = server_factory("--limit", f"idle_timeout={idle_timeout}")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        token = await reg(http, "alice")
    url = f"{server.ws_url}?token={token}"
    opened = time.monotonic()
    async with ws_connect(url) as busy, ws_connect(url) as idle:
        await hello(busy, "alice")
        await hello(idle, "alice")

        async def keep_pinging() -> None:
            while time.monotonic() - opened < 2 * idle_timeout:
                await is_alive(busy)
                await asyncio.sleep(idle_timeout / 5)  # a heartbeat, not a wait

        pinger = asyncio.create_task(keep_pinging())
        try:
            code, _ = await closed_with(idle)
            assert code == 4003
            assert time.monotonic() - opened >= idle_timeout
            await asyncio.wait_for(pinger, WAIT)
        finally:
            pinger.cancel()
        await is_alive(busy)  # two idle timeouts later, thanks to its pings


async def test_rate_limit_per_user(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--limit", "messages_per_second=2,message_burst=3")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        alice, bob = await reg(http, "alice"), await reg(http, "bob")  # both join #general
        async with (
            ws_connect(f"{server.ws_url}?token={alice}") as a1,
            ws_connect(f"{server.ws_url}?token={alice}") as a2,
            ws_connect(f"{server.ws_url}?token={bob}") as b,
        ):
            for ws, name in ((a1, "alice"), (a2, "alice"), (b, "bob")):
                await hello(ws, name)
            # six sends pipelined: the burst of three goes through, then refusals
            replies = await pipelined_sends(a1, "a1-", 6)
            assert [r["type"] for r in replies[:3]] == ["ack"] * 3
            assert any(r["type"] == "error" for r in replies), replies
            await is_alive(a1)  # a refused send does not hurt the connection

            # the limit is per user: alice's other connection is limited too, bob is not
            more = await pipelined_sends(a2, "a2-", 3)
            assert any(r["type"] == "error" for r in more), more
            ack = await b.request(
                {"action": "send", "channel": "general", "text": "bob", "client_id": "b1"}
            )
            assert ack["type"] == "ack"

            acked, refused = set(), []
            for r in replies + more:
                if r["type"] == "ack":
                    acked.add(r["client_id"])
                else:
                    assert r["code"] == "rate_limited", r
                    assert 0 < r["retry_after"] <= 0.5  # one token at 2 per second
                    refused.append(r)
            # nothing refused was stored
            stored = await messages(http, alice, "general")
            assert sorted(t for _, t in stored) == sorted(acked | {"bob"})

            # waiting as told, a refused message goes through, once
            last = refused[-1]
            cid = last["id"]
            deadline = time.monotonic() + WAIT
            while last["type"] == "error" and time.monotonic() < deadline:
                assert last["code"] == "rate_limited", last
                await asyncio.sleep(last["retry_after"])  # the server says when
                last = await a2.request(
                    {"action": "send", "channel": "general", "text": cid, "client_id": cid}
                )
            assert last["type"] == "ack" and not last["duplicate"], last
            assert await messages(http, alice, "general") == [*stored, (last["seq"], cid)]


async def pipelined_sends(ws: WS, prefix: str, n: int) -> list[dict[str, Any]]:
    """Send `n` messages without waiting, then return the answer to each."""
    for i in range(n):
        cid = f"{prefix}{i}"
        await ws.send(
            {"action": "send", "channel": "general", "text": cid, "client_id": cid, "id": cid}
        )
    return [await _reply(ws, f"{prefix}{i}") for i in range(n)]


async def _reply(ws: WS, fid: str) -> dict[str, Any]:
    """The frame answering `fid` (ack or error). Other frames are kept: with
    pipelined sends a refusal can arrive before earlier sends' acks."""
    deadline = time.monotonic() + WAIT
    while True:
        for i, f in enumerate(ws.backlog):
            if f.get("id") == fid:
                return ws.backlog.pop(i)
        raw = await asyncio.wait_for(ws.conn.recv(), max(0.0, deadline - time.monotonic()))
        frame = json.loads(raw)
        check_frame(frame)
        if frame.get("id") == fid:
            return frame  # type: ignore[no-any-return]
        ws.backlog.append(frame)


async def test_connections_per_user_over_the_limit_close_4029(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory("--limit", "max_connections_per_user=2")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        alice, bob = await reg(http, "alice"), await reg(http, "bob")
    url = f"{server.ws_url}?token={alice}"
    async with ws_connect(url) as first, ws_connect(url) as second:
        await hello(first, "alice")
        await hello(second, "alice")
        async with ws_connect(url) as third:
            assert (await closed_with(third))[0] == 4029
        async with ws_connect(server.ws_url) as fourth:  # the same limit for `auth` frames
            await fourth.send({"action": "auth", "token": alice})
            assert (await closed_with(fourth))[0] == 4029
        await is_alive(first)
        await is_alive(second)
        async with ws_connect(f"{server.ws_url}?token={bob}") as other_user:
            await hello(other_user, "bob")
        await first.close()
        async with ws_connect(url) as replacement:  # a slot is free again
            await hello(replacement, "alice")
            await is_alive(second)


async def test_max_subscriptions(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--limit", "max_subscriptions=2")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        alice = await reg(http, "alice")
        for name in ("c1", "c2", "c3"):
            r = await http.post("/api/channels", json={"name": name}, headers=auth(alice))
            assert r.status_code == 201
    async with ws_connect(f"{server.ws_url}?token={alice}") as ws:
        await hello(ws, "alice")
        for name in ("c1", "c2", "c1"):  # subscribing again is not another subscription
            assert (await ws.request({"action": "subscribe", "channel": name}))["type"] == (
                "subscribed"
            )
        err = await ws.request({"action": "subscribe", "channel": "c3", "since": 0})
        assert (err["type"], err["code"]) == ("error", "too_many_subscriptions")
        # still following c1 and c2, not c3
        ack = await ws.request({"action": "send", "channel": "c3", "text": "x", "client_id": "x"})
        assert ack["type"] == "ack"
        ack = await ws.request({"action": "send", "channel": "c2", "text": "y", "client_id": "y"})
        assert ack["type"] == "ack"
        got = await ws.expect("message")
        assert (got["channel"], got["text"]) == ("c2", "y")
        assert (await ws.request({"action": "unsubscribe", "channel": "c2"}))["type"] == (
            "unsubscribed"
        )
        sub = await ws.request({"action": "subscribe", "channel": "c3", "since": 0})
        assert sub["type"] == "subscribed" and sub["replayed"] == 1
        got = await ws.expect("message", channel="c3")
        assert got["text"] == "x"
        await is_alive(ws)


# --- who may see what ----------------------------------------------------------------------


HIDDEN = ["vault", "dm:bob,carol"]


@pytest.mark.parametrize("hidden", HIDDEN)
async def test_private_channels_are_not_found_for_non_members(
    world: World, api: httpx.AsyncClient, hidden: str
) -> None:
    """Never `forbidden`: the answer is the one for a channel that does not exist."""
    missing = "no-such-channel"
    bob_before = await messages(api, world.tokens["bob"], hidden)
    async with ws_connect(world.url("alice")) as ws:
        await hello(ws, "alice")
        for action, extra in [
            ("subscribe", {}),
            ("subscribe", {"since": 0}),
            ("send", {"text": "let me in", "client_id": "sneak"}),
            ("history", {}),
            ("history", {"after": 0}),
            ("typing", {}),
            ("read", {"seq": 1}),
        ]:
            answers = []
            for name in (hidden, missing):
                err = await ws.request({"action": action, "channel": name, **extra})
                assert (err["type"], err["code"]) == ("error", "not_found"), (action, err)
                answers.append(err["message"].replace(repr(name), "<name>"))
            assert answers[0] == answers[1], answers
        # the tutorial actions of a signed-in user do not get in either
        err = await ws.request({"action": "sendMessage", "room_name": hidden, "content": "in?"})
        assert err.get("type") == "error", err
        assert err["code"] in ("not_found", "invalid_name"), err
        await ws.send({"action": "getRecentMessages", "room_name": hidden})
        assert (await ws.recv()) == {"messages": []}  # as for a room nobody used yet
        await is_alive(ws)
        assert ws.backlog == []

    h = auth(world.tokens["alice"])
    for method, path, body in [
        ("GET", "", None),
        ("GET", "/members", None),
        ("GET", "/messages", None),
        ("POST", "/messages", {"text": "let me in", "client_id": "sneak"}),
        ("POST", "/join", None),
        ("POST", "/leave", None),
        ("POST", "/read", {"seq": 1}),
        ("POST", "/invite", {"username": "alice"}),
        ("PUT", "/topic", {"topic": "mine now"}),
    ]:
        answers = []
        for name in (hidden, missing):
            r = await api.request(method, f"/api/channels/{name}{path}", json=body, headers=h)
            err = api_error(r, 404, "not_found")
            answers.append(err["message"].replace(repr(name), "<name>"))
        assert answers[0] == answers[1], (method, path, answers)
    r = await api.get("/api/channels", headers=h)
    assert hidden not in [c["name"] for c in r.json()]
    # bob's channel is exactly as it was
    assert await messages(api, world.tokens["bob"], hidden) == bob_before
    r = await api.get(f"/api/channels/{hidden}/members", headers=auth(world.tokens["bob"]))
    assert "alice" not in r.json()["members"]


async def test_public_channel_needs_membership_to_post(
    world: World, api: httpx.AsyncClient
) -> None:
    before = await messages(api, world.tokens["bob"], "lounge")
    assert before
    async with ws_connect(world.url("alice")) as ws:
        await hello(ws, "alice")
        for action, extra in [
            ("send", {"text": "hi", "client_id": "early"}),
            ("typing", {}),
            ("read", {"seq": 1}),
        ]:
            err = await ws.request({"action": action, "channel": "lounge", **extra})
            assert (err["type"], err["code"]) == ("error", "not_a_member"), (action, err)
        # a public channel can be previewed without joining
        page = await ws.request({"action": "history", "channel": "lounge"})
        assert [(m["seq"], m["text"]) for m in reversed(page["messages"])] == before
        sub = await ws.request({"action": "subscribe", "channel": "lounge"})
        assert sub["type"] == "subscribed"
        await is_alive(ws)
    assert await messages(api, world.tokens["bob"], "lounge") == before


# --- the handshake ------------------------------------------------------------------------


async def test_origin_allowlist(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--allowed-origin", "https://chat.example.com")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        token = await reg(http, "alice")
    url = f"{server.ws_url}?token={token}"
    for origin in [
        "http://evil.example",
        "https://chat.example.com.evil.example",
        f"http://127.0.0.1:{server.port}.evil.example",
        "http://chat.example.com",  # another scheme is another origin
        "null",
    ]:
        with pytest.raises(websockets.InvalidStatus) as info:
            async with ws_connect(url, origin=origin):
                pass
        assert info.value.response.status_code == 403, origin
    for origin in [None, f"http://127.0.0.1:{server.port}", "https://chat.example.com"]:
        async with ws_connect(url, origin=origin) as ws:
            await hello(ws, "alice")
            await is_alive(ws)


async def upgrade_status(port: int, host: str, origin: str | None = None) -> int:
    """The HTTP status of a WebSocket upgrade to 127.0.0.1:`port` sent with
    these Host and Origin headers: what a browser sends after DNS rebinding
    (`evil.example` resolving to 127.0.0.1), or a proxy that rewrites Host."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [
            "GET /ws HTTP/1.1",
            f"Host: {host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
            *([f"Origin: {origin}"] if origin is not None else []),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), WAIT)
        return int(status_line.split()[1])
    finally:
        writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_dns_rebinding_is_refused(server_factory: Callable[..., Server]) -> None:
    # Issue #19, defect 8: a page on evil.example (resolving to 127.0.0.1) sends
    # a Host and an Origin that agree with each other; neither is this server's.
    server = server_factory()
    p = server.port
    for host, origin in [
        (f"evil.example:{p}", f"http://evil.example:{p}"),
        ("evil.example", "http://evil.example"),
        ("127.0.0.1", "http://127.0.0.1"),  # port 80 is not where it listens
        (f"127.0.0.1:{p}", f"http://127.0.0.1:{p}.evil.example"),
    ]:
        assert await upgrade_status(p, host, origin) == 403, (host, origin)
    assert await upgrade_status(p, f"evil.example:{p}") == 101  # no Origin: not a browser


async def test_default_public_origins_are_where_it_listens(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory()  # --port 0: the port it got is the one that counts
    p = server.port
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        token = await reg(http, "alice")
    for origin in [f"http://127.0.0.1:{p}", f"http://localhost:{p}"]:
        async with ws_connect(f"{server.ws_url}?token={token}", origin=origin) as ws:
            await hello(ws, "alice")
        # Whatever Host arrives (nginx's `$host` drops the port, issue #20).
        for host in [f"127.0.0.1:{p}", "127.0.0.1", f"localhost:{p}", "upstream", "evil.example"]:
            assert await upgrade_status(p, host, origin) == 101, (host, origin)
    for origin in [
        f"http://127.0.0.1:{p + 1}",
        f"https://127.0.0.1:{p}",
        f"http://localhost:{p + 1}",
        f"http://[::1]:{p}",  # it listens on 127.0.0.1 only
        f"http://0.0.0.0:{p}",
        f"http://127.0.0.2:{p}",
    ]:
        assert await upgrade_status(p, f"127.0.0.1:{p}", origin) == 403, origin


async def test_public_url_replaces_the_default(server_factory: Callable[..., Server]) -> None:
    server = server_factory(
        "--public-url",
        "https://chat.example.com",
        "--allowed-origin",
        "https://staging.example.com",
    )
    p = server.port
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        token = await reg(http, "alice")
    for origin in [None, "https://chat.example.com", "https://staging.example.com"]:
        async with ws_connect(f"{server.ws_url}?token={token}", origin=origin) as ws:
            await hello(ws, "alice")
            await is_alive(ws)
    for host in ["chat.example.com", f"127.0.0.1:{p}", "upstream:8000"]:  # Host does not matter
        assert await upgrade_status(p, host, "https://chat.example.com") == 101, host
    for host, origin in [
        (f"127.0.0.1:{p}", f"http://127.0.0.1:{p}"),  # no longer the default once configured
        (f"localhost:{p}", f"http://localhost:{p}"),
        ("chat.example.com", "http://chat.example.com"),  # another scheme
        ("chat.example.com:8443", "https://chat.example.com:8443"),  # another port
        (f"evil.example:{p}", f"http://evil.example:{p}"),
    ]:
        assert await upgrade_status(p, host, origin) == 403, origin


async def test_several_public_urls_from_the_environment(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(
        tmp_path / "data",
        env={"HUBBUB_PUBLIC_URL": f"https://Chat.Example.com:443/app/,http://127.0.0.1:{port}"},
        port=port,
    )
    try:
        for origin in ["https://chat.example.com", f"http://127.0.0.1:{port}"]:
            assert await upgrade_status(port, "upstream", origin) == 101, origin
        for origin in [f"http://localhost:{port}", "http://chat.example.com"]:
            assert await upgrade_status(port, f"localhost:{port}", origin) == 403, origin
    finally:
        server.stop()


async def test_any_origin_with_a_star(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--public-url", "https://chat.example.com", "--allowed-origin", "*")
    p = server.port
    assert await upgrade_status(p, f"evil.example:{p}", f"http://evil.example:{p}") == 101


@pytest.mark.parametrize("path", ["/", "/other", "/ws/", "/wsx", "/api/ws", "/WS"])
async def test_websocket_on_another_path_is_404(world: World, path: str) -> None:
    url = f"ws://127.0.0.1:{world.server.port}{path}?token={world.tokens['alice']}"
    with pytest.raises(websockets.InvalidStatus) as info:
        async with ws_connect(url):
            pass
    assert info.value.response.status_code == 404
    async with ws_connect(world.url("alice")) as ws:
        await hello(ws, "alice")


# --- guests ------------------------------------------------------------------------------


async def test_guests_rejected_4001_when_off(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--no-allow-guests")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        token = await reg(http, "alice")
        async with ws_connect(f"{server.ws_url}?room_name=lobby") as guest:
            assert (await closed_with(guest))[0] == 4001
        async with ws_connect(server.ws_url) as guest:
            await guest.send({"action": "sendMessage", "content": "hi", "user_name": "mallory"})
            assert (await guest.recv())["code"] == "not_authenticated"
        r = await http.get("/api/channels/lobby", headers=auth(token))
        api_error(r, 404, "not_found")  # no room was made for the guest
        # a signed-in user may still use the tutorial protocol
        async with ws_connect(f"{server.ws_url}?token={token}&room_name=lobby") as ws:
            await ws.send({"action": "sendMessage", "content": "hello lobby"})
            got = await ws.recv()
            assert got == {"messages": [{"user_name": "alice", "content": "hello lobby"}]}


async def test_guest_may_not_use_native_actions(world: World, api: httpx.AsyncClient) -> None:
    general_before = await messages(api, world.tokens["alice"], "general")
    vault_before = await messages(api, world.tokens["bob"], "vault")
    async with ws_connect(f"{world.server.ws_url}?room_name=guestroom") as guest:
        for frame in [
            {"action": "subscribe", "channel": "general"},
            {"action": "send", "channel": "general", "text": "hi", "client_id": "g1"},
            {"action": "history", "channel": "general"},
            {"action": "typing", "channel": "guestroom"},
            {"action": "read", "channel": "guestroom", "seq": 0},
            {"action": "watch_presence", "usernames": ["alice"]},
            {"action": "unsubscribe", "channel": "guestroom"},
            {"action": "auth", "token": world.tokens["alice"]},
        ]:
            err = await guest.request(frame)
            assert (err["type"], err["code"]) == ("error", "forbidden"), (frame, err)
            await is_alive(guest)
        # nor reach private channels through the tutorial actions
        for frame in [
            {"action": "sendMessage", "room_name": "vault", "content": "x", "user_name": "m"},
            {
                "action": "sendMessage",
                "room_name": "dm:bob,carol",
                "content": "x",
                "user_name": "m",
            },
        ]:
            err = await guest.request(frame)
            assert err.get("type") == "error" and err["code"] in ("not_found", "invalid_name"), err
        # reading a private room looks exactly like reading an unused one: empty
        for room in ("vault", "no-such-room"):
            await guest.send({"action": "getRecentMessages", "room_name": room})
            assert (await guest.recv()) == {"messages": []}
        # what guests may do still works
        await guest.send({"action": "sendMessage", "content": "hi all", "user_name": "mallory"})
        assert (await guest.recv()) == {"messages": [{"user_name": "mallory", "content": "hi all"}]}
        assert guest.backlog == []
    assert await messages(api, world.tokens["alice"], "general") == general_before
    assert await messages(api, world.tokens["bob"], "vault") == vault_before


# Names a guest may not use, each for another reason: private, a DM, unused,
# invalid, too long. Issue #19, defect 1: they must look the same to a guest.
UNUSABLE = ["vault", "dm:bob,carol", "no-such-room", "Not%20A%20Room", "x" * 81]


async def test_a_guest_cannot_tell_private_dm_and_unused_room_names_apart(
    world: World, api: httpx.AsyncClient
) -> None:
    vault_before = await messages(api, world.tokens["bob"], "vault")
    for name in UNUSABLE:
        async with ws_connect(f"{world.server.ws_url}?room_name={name}") as guest:
            assert await closed_with(guest) == (4004, "no such room"), name
    async with ws_connect(f"{world.server.ws_url}?room_name=guestroom") as guest:
        answers = []
        for name in UNUSABLE:
            frame = {"action": "sendMessage", "room_name": name, "user_name": "m", "content": "x"}
            err = await guest.request(frame)
            answers.append({k: v for k, v in err.items() if k != "id"})
            await guest.send({"action": "getRecentMessages", "room_name": name})
            assert (await guest.recv()) == {"messages": []}, name
        assert answers == [{"type": "error", "code": "not_found", "message": "no such room"}] * len(
            UNUSABLE
        )
        await is_alive(guest)
        assert guest.backlog == []
    # Nothing was made or posted.
    r = await api.get("/api/channels/no-such-room", headers=auth(world.tokens["alice"]))
    api_error(r, 404, "not_found")
    assert await messages(api, world.tokens["bob"], "vault") == vault_before


async def test_a_taken_channel_name_is_409_whatever_its_kind(
    world: World, api: httpx.AsyncClient
) -> None:
    # Documented: 409 says the name is taken, not by what (as Slack and Mattermost).
    h = auth(world.tokens["alice"])
    for name in ("vault", "lounge", "general"):
        r = await api.post("/api/channels", json={"name": name, "private": True}, headers=h)
        api_error(r, 409, "conflict")
        assert r.json()["error"]["message"] == f"channel {name!r} exists"


# --- logs and accounts ------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["info", "debug"])
async def test_tokens_never_reach_the_log(
    server_factory: Callable[..., Server], level: str
) -> None:
    # The access log is on here: it is where a token would most likely leak.
    server = server_factory("--log-level", level, "--access-log")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        token = await reg(http, "alice")
        r = await http.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
        login_token = r.json()["token"]
        assert (await http.get("/api/me", headers=auth(token))).status_code == 200
        # a token put in a query string by mistake is redacted in the access log
        r = await http.get("/api/me", params={"token": login_token}, headers=auth(token))
        assert r.status_code == 200
        async with ws_connect(f"{server.ws_url}?token={token}") as ws:
            await hello(ws, "alice")
            await ws.send(
                {"action": "sendMessage", "content": "hi", "room_name": "x", "token": login_token}
            )
            await is_alive(ws)
        async with ws_connect(f"{server.ws_url}?room_name=lobby&token={token}x") as ws:
            assert (await closed_with(ws))[0] == 4001
        async with ws_connect(server.ws_url) as ws:
            await ws.send({"action": "auth", "token": login_token})
            await hello(ws, "alice")
        marker = f"marker-{time.monotonic_ns()}"
        assert (await http.get("/healthz", params={"m": marker})).status_code == 200
    # The access-log line of the last request shows every earlier line is in.
    log = await asyncio.to_thread(wait_for_log, server, marker)
    assert marker in log, log
    assert "token=[redacted]" in log, log
    secret = server_secret(server)
    for t in (token, login_token, secret):
        for part in t.split("."):
            assert part not in log, f"{part!r} leaked into the log"
    assert PASSWORD not in log


async def test_login_errors_and_throttle(world: World, api: httpx.AsyncClient) -> None:
    r = await api.post("/api/auth/register", json={"username": "dave", "password": PASSWORD})
    assert r.status_code == 201
    dave = r.json()["token"]
    wrong = {"username": "dave", "password": "wrong password"}
    unknown = await api.post("/api/auth/login", json={**wrong, "username": "nobody-here"})
    first = await api.post("/api/auth/login", json=wrong)
    # an unknown account and a wrong password look the same
    assert api_error(unknown, 401, "bad_credentials") == api_error(first, 401, "bad_credentials")
    for _ in range(4):
        api_error(await api.post("/api/auth/login", json=wrong), 401, "bad_credentials")
    # from this address, even the right password is refused now
    for body in (wrong, {"username": "dave", "password": PASSWORD}):
        r = await api.post("/api/auth/login", json=body)
        err = api_error(r, 429, "login_throttled")
        assert 0 < err["retry_after"] <= 15 * 60
        assert 1 <= int(r.headers["retry-after"]) <= 15 * 60
        assert "token" not in r.text
    # the throttle is per address and account (tests/e2e/test_throttle.py has dave
    # logging in from elsewhere): others log in from here, and dave's token still works
    r = await api.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200
    r = await api.get("/api/me", headers=auth(dave))
    assert r.status_code == 200 and r.json()["username"] == "dave"


async def test_secret_is_generated_per_server(
    world: World, server_factory: Callable[..., Server]
) -> None:
    """No hard-coded secret: another server's token means nothing here."""
    other = server_factory()
    assert server_secret(other) != world.secret
    async with httpx.AsyncClient(base_url=other.url, timeout=WAIT) as http:
        r = await http.get("/api/me", headers=auth(world.tokens["alice"]))
        api_error(r, 401, "token_invalid")
    async with ws_connect(f"{other.ws_url}?token={world.tokens['alice']}") as ws:
        assert (await closed_with(ws))[0] == 4001
