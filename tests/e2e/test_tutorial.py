"""The S1 tutorial protocol (API Gateway WebSocket chat) on the self-hosted
server: `?room_name=` on connect, `sendMessage`, `getRecentMessages`, pushes of
`{"messages": [...]}`, shared with native clients through the room's channel.
The fixture's server runs with --allow-guests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from support import WS, Server, auth, register, ws_connect


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
