"""The S1 tutorial protocol (API Gateway WebSocket chat) on the self-hosted
server: `?room_name=` on connect, `sendMessage`, `getRecentMessages`, pushes of
`{"messages": [...]}`, shared with native clients through the room's channel.
The fixture's server runs with --allow-guests and, as in the tutorial, guests
create a room by naming it (--guest-rooms create); the default, guests in
existing public channels only, has its own tests at the end."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from support import WAIT, WS, Server, auth, register, start_server, ws_connect


@pytest.fixture
def server(server_factory: Callable[..., Server]) -> Server:
    """Guests create rooms by naming them, as in the tutorial."""
    return server_factory("--guest-rooms", "create")


@contextlib.asynccontextmanager
async def room(server: Server, name: str, token: str | None = None) -> AsyncIterator[WS]:
    """A tutorial connection in room `name`, ready: its room is open."""
    url = f"{server.ws_url}?room_name={name}" + (f"&token={token}" if token else "")
    async with ws_connect(url) as ws:
        # Frames are handled in order, so an answer means the room is open.
        await recent(ws)
        yield ws


@contextlib.asynccontextmanager
async def native(server: Server, token: str) -> AsyncIterator[WS]:
    async with ws_connect(f"{server.ws_url}?token={token}") as ws:
        await ws.expect("hello")
        yield ws


async def recent(ws: WS, **extra: Any) -> list[dict[str, str]]:
    await ws.send({"action": "getRecentMessages", **extra})
    frame = await ws.recv()
    assert set(frame) == {"messages"}, frame
    return frame["messages"]  # type: ignore[no-any-return]


async def pushed(ws: WS) -> list[dict[str, str]]:
    frame = await ws.recv()
    assert set(frame) == {"messages"}, frame
    return frame["messages"]  # type: ignore[no-any-return]


async def test_two_guests_chat_in_a_room(server: Server) -> None:
    async with room(server, "room1") as a, room(server, "room1") as b:
        await a.send({"action": "sendMessage", "user_name": "ann", "content": "hello"})
        for ws in (a, b):
            assert await pushed(ws) == [{"user_name": "ann", "content": "hello"}]
        await b.send({"action": "sendMessage", "user_name": "ben", "content": "hi ann"})
        for ws in (a, b):
            assert await pushed(ws) == [{"user_name": "ben", "content": "hi ann"}]


async def test_username_key_variant(server: Server) -> None:
    async with room(server, "room1") as a, room(server, "room1") as b:
        await a.send({"action": "sendMessage", "username": "ann", "content": "hey"})
        for ws in (a, b):
            assert await pushed(ws) == [{"user_name": "ann", "content": "hey"}]
        # `user_name` wins when both are given.
        await a.send(
            {"action": "sendMessage", "user_name": "ann", "username": "other", "content": "x"}
        )
        assert await pushed(b) == [{"user_name": "ann", "content": "x"}]


async def test_room_is_the_public_channel_of_the_same_name(
    server: Server, http: httpx.AsyncClient
) -> None:
    alice = await register(http, "alice")
    async with room(server, "room1") as guest, native(server, alice) as nat:
        r = await http.get("/api/channels/room1", headers=auth(alice))
        assert r.status_code == 200 and r.json()["kind"] == "public"
        sub = await nat.request({"action": "subscribe", "channel": "room1"})
        assert sub["type"] == "subscribed"

        await guest.send({"action": "sendMessage", "user_name": "ann", "content": "from S1"})
        assert await pushed(guest) == [{"user_name": "ann", "content": "from S1"}]
        got = await nat.expect("message")
        assert (got["channel"], got["seq"], got["text"]) == ("room1", 1, "from S1")
        assert got["author"] == {"username": None, "display_name": "ann"}

        r = await http.post("/api/channels/room1/join", headers=auth(alice))
        assert r.status_code == 200
        ack = await nat.request(
            {"action": "send", "channel": "room1", "text": "from native", "client_id": "n1"}
        )
        assert ack["type"] == "ack" and ack["seq"] == 2
        assert await pushed(guest) == [{"user_name": "alice", "content": "from native"}]
        # REST sends reach tutorial connections too.
        r = await http.post(
            "/api/channels/room1/messages",
            json={"text": "over rest", "client_id": "n2"},
            headers=auth(alice),
        )
        assert r.status_code == 201
        assert await pushed(guest) == [{"user_name": "alice", "content": "over rest"}]

    page = (await http.get("/api/channels/room1/messages", headers=auth(alice))).json()
    assert [m["text"] for m in page["messages"]] == ["over rest", "from native", "from S1"]


async def test_get_recent_messages_is_the_last_ten_oldest_first(server: Server) -> None:
    async with room(server, "room1") as a:
        assert await recent(a) == []
        for i in range(12):
            await a.send({"action": "sendMessage", "user_name": "ann", "content": f"m{i}"})
            assert await pushed(a) == [{"user_name": "ann", "content": f"m{i}"}]
        assert await recent(a) == [{"user_name": "ann", "content": f"m{i}"} for i in range(2, 12)]
        # Another room by name, from the same connection.
        async with room(server, "room2") as other:
            await other.send({"action": "sendMessage", "user_name": "cy", "content": "there"})
            assert await pushed(other) == [{"user_name": "cy", "content": "there"}]
        assert await recent(a, room_name="room2") == [{"user_name": "cy", "content": "there"}]
    async with room(server, "room1") as late:
        assert len(await recent(late)) == 10


async def test_missing_fields_name_the_field(server: Server, http: httpx.AsyncClient) -> None:
    alice = await register(http, "alice")
    async with room(server, "room1") as guest, native(server, alice) as nat:
        for ws, frame, field in (
            (guest, {"action": "sendMessage", "user_name": "ann"}, "content"),
            (guest, {"action": "sendMessage", "content": "who am I"}, "user_name"),
            (nat, {"action": "sendMessage", "content": "where"}, "room_name"),
            (nat, {"action": "getRecentMessages"}, "room_name"),
        ):
            err = await ws.request(frame)
            assert err["type"] == "error", err
            assert err["code"] == "invalid_input"
            assert err["message"] == f"{field} not in message dict"
            assert err["field"] == field
        # Nothing was stored, and the connections are fine.
        await guest.send({"action": "sendMessage", "user_name": "ann", "content": "ok"})
        assert await pushed(guest) == [{"user_name": "ann", "content": "ok"}]
        assert await recent(guest) == [{"user_name": "ann", "content": "ok"}]


async def test_token_connection_posts_as_the_user(server: Server, http: httpx.AsyncClient) -> None:
    alice = await register(http, "alice")
    bob = await register(http, "bob")
    async with room(server, "room1", alice) as a, room(server, "room1") as guest:
        # Opening the room made alice a member of its channel.
        r = await http.get("/api/channels/room1", headers=auth(alice))
        assert r.json()["is_member"] is True
        await a.send({"action": "sendMessage", "content": "signed in"})
        for ws in (a, guest):
            assert await pushed(ws) == [{"user_name": "alice", "content": "signed in"}]
        # A signed-in user cannot pose as someone else.
        await a.send({"action": "sendMessage", "user_name": "mallory", "content": "me?"})
        for ws in (a, guest):
            assert await pushed(ws) == [{"user_name": "alice", "content": "me?"}]

        # The original tutorial sends a token in each frame.
        await guest.send({"action": "sendMessage", "token": bob, "content": "bob here"})
        for ws in (a, guest):
            assert await pushed(ws) == [{"user_name": "bob", "content": "bob here"}]
        err = await guest.request(
            {"action": "sendMessage", "token": "not-a-token", "user_name": "x", "content": "no"}
        )
        assert (err["type"], err["code"]) == ("error", "token_invalid")

    page = (await http.get("/api/channels/room1/messages", headers=auth(alice))).json()
    authors = [(m["author"]["username"], m["text"]) for m in reversed(page["messages"])]
    assert authors == [("alice", "signed in"), ("alice", "me?"), ("bob", "bob here")]


async def test_other_rooms_receive_nothing(server: Server) -> None:
    async with (
        room(server, "room1") as a,
        room(server, "room1") as b,
        room(server, "room2") as c,
    ):
        await a.send({"action": "sendMessage", "user_name": "ann", "content": "only room1"})
        assert await pushed(b) == [{"user_name": "ann", "content": "only room1"}]
        # Had room2 been sent it, it would have arrived before this answer.
        assert await recent(c) == []
        await c.send({"action": "sendMessage", "user_name": "cy", "content": "only room2"})
        assert await pushed(c) == [{"user_name": "cy", "content": "only room2"}]
        assert await pushed(a) == [{"user_name": "ann", "content": "only room1"}]
        assert await recent(a) == [{"user_name": "ann", "content": "only room1"}]
        assert await recent(b) == [{"user_name": "ann", "content": "only room1"}]


async def test_ping_is_pong(http: httpx.AsyncClient) -> None:
    r = await http.get("/ping")
    assert r.status_code == 200
    assert r.text == "PONG!"
    assert r.headers["content-type"].startswith("text/plain")


async def test_a_message_sent_the_moment_a_guest_connects_reaches_it(server: Server) -> None:
    # The S1 protocol has no resume: once the handshake is done, the room must
    # already be joined (issue #19, defect 10: 8 of 20 such messages were lost).
    async with room(server, "just-in") as a:
        for i in range(30):
            async with ws_connect(f"{server.ws_url}?room_name=just-in") as b:
                text = f"at once {i}"
                await a.send({"action": "sendMessage", "user_name": "ann", "content": text})
                assert await pushed(b) == [{"user_name": "ann", "content": text}]
                assert await pushed(a) == [{"user_name": "ann", "content": text}]


# --- which rooms guests may use (issue #19, defects 1 and 5) -------------------------------


async def closed_with(ws: WS) -> tuple[int, str]:
    """Read until the server closes (bounded by WAIT); its close code and reason."""
    deadline = time.monotonic() + WAIT
    with pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            await ws.recv(timeout=max(0.0, deadline - time.monotonic()))
    rcvd = info.value.rcvd
    assert rcvd is not None, "the server must send a close frame"
    return rcvd.code, rcvd.reason


async def test_by_default_guests_enter_only_existing_public_channels(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory()  # --guest-rooms existing, the default
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        alice = await register(http, "alice")
        for _ in range(2):  # connecting makes no room: the second try is refused the same
            async with ws_connect(f"{server.ws_url}?room_name=lobby") as guest:
                assert await closed_with(guest) == (4004, "no such room")
        r = await http.get("/api/channels/lobby", headers=auth(alice))
        assert r.status_code == 404
        listed = (await http.get("/api/channels", headers=auth(alice))).json()
        assert [c["name"] for c in listed] == ["general"]  # joined on registering; no lobby

        r = await http.post("/api/channels", json={"name": "lobby"}, headers=auth(alice))
        assert r.status_code == 201, r.text
        async with room(server, "lobby") as a, room(server, "lobby") as b:
            await a.send({"action": "sendMessage", "user_name": "ann", "content": "hi"})
            for ws in (a, b):
                assert await pushed(ws) == [{"user_name": "ann", "content": "hi"}]
            # nor does sendMessage to an unused room make one
            err = await a.request(
                {"action": "sendMessage", "room_name": "other", "user_name": "a", "content": "x"}
            )
            assert (err["type"], err["code"], err["message"]) == (
                "error",
                "not_found",
                "no such room",
            )
        r = await http.get("/api/channels/other", headers=auth(alice))
        assert r.status_code == 404

        # A signed-in user still makes a room by naming it, as they can make a channel.
        async with room(server, "alices-room", alice) as signed:
            await signed.send({"action": "sendMessage", "content": "mine"})
            assert await pushed(signed) == [{"user_name": "alice", "content": "mine"}]
        async with room(server, "alices-room") as guest:
            assert await recent(guest) == [{"user_name": "alice", "content": "mine"}]


async def test_where_guests_create_rooms_private_ones_stay_closed(
    server: Server, http: httpx.AsyncClient
) -> None:
    alice = await register(http, "alice")
    r = await http.post(
        "/api/channels", json={"name": "secret-a", "private": True}, headers=auth(alice)
    )
    assert r.status_code == 201, r.text
    for name in ("secret-a", "Not%20A%20Room"):
        async with ws_connect(f"{server.ws_url}?room_name={name}") as guest:
            assert await closed_with(guest) == (4004, "no such room")
    async with room(server, "fresh") as guest:  # an unused name is made
        assert await recent(guest) == []
    r = await http.get("/api/channels/fresh", headers=auth(alice))
    assert r.status_code == 200 and r.json()["kind"] == "public"


async def test_guests_creating_rooms_share_channels_per_hour(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory("--guest-rooms", "create", "--limit", "channels_per_hour=2")
    for name in ("g1", "g2"):
        async with room(server, name):
            pass
    async with ws_connect(f"{server.ws_url}?room_name=g3") as guest:  # a third guest room
        code, reason = await closed_with(guest)
        assert (code, reason) == (4004, "at most 2 new channels per hour")
    async with room(server, "g1") as guest:  # entering one that exists is no creation
        assert await recent(guest) == []


async def test_guest_rooms_from_the_environment(tmp_path: Path) -> None:
    server = start_server(tmp_path / "d", "--allow-guests", env={"HUBBUB_GUEST_ROOMS": "create"})
    try:
        async with room(server, "from-env") as guest:
            assert await recent(guest) == []
    finally:
        server.stop()
