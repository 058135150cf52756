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


# --- sendMessage pipelined (issue #18) -----------------------------------------------------
# Frames are written back to back without reading: the server checks each in
# order and queues it into the next group commit without waiting for the one
# before, and what a connection is told still comes in the order of its frames.


def say(text: str, **extra: Any) -> dict[str, Any]:
    return {"action": "sendMessage", "user_name": "ann", "content": text, **extra}


async def stored(http: httpx.AsyncClient, token: str, name: str) -> list[tuple[int, str]]:
    """Every message of channel `name`, oldest first: (seq, text)."""
    out: list[tuple[int, str]] = []
    while True:
        r = await http.get(
            f"/api/channels/{name}/messages",
            params={"after": out[-1][0] if out else 0, "limit": 100},
            headers=auth(token),
        )
        assert r.status_code == 200, r.text
        out += [(m["seq"], m["text"]) for m in r.json()["messages"]]
        if not r.json()["has_more"]:
            return out


async def test_a_burst_of_200_is_stored_once_in_order_and_pushed_in_order(
    server: Server, http: httpx.AsyncClient
) -> None:
    alice = await register(http, "alice")
    texts = [f"burst {i}" for i in range(200)]
    async with room(server, "burst") as sender, room(server, "burst") as receiver:
        for text in texts:
            await sender.send(say(text))
        for ws in (receiver, sender):
            assert [await pushed(ws) for _ in texts] == [
                [{"user_name": "ann", "content": t}] for t in texts
            ]
        assert await recent(sender) == [{"user_name": "ann", "content": t} for t in texts[-10:]]
    assert await stored(http, alice, "burst") == list(enumerate(texts, 1))


async def test_recent_messages_right_after_a_burst_has_all_of_it(server: Server) -> None:
    async with room(server, "right-after") as a:
        for i in range(15):
            await a.send(say(f"r{i}"))
        await a.send({"action": "getRecentMessages"})
        for i in range(15):
            assert await pushed(a) == [{"user_name": "ann", "content": f"r{i}"}]
        assert await pushed(a) == [{"user_name": "ann", "content": f"r{i}"} for i in range(5, 15)]


async def test_errors_in_a_burst_keep_their_place(server: Server, http: httpx.AsyncClient) -> None:
    alice = await register(http, "alice")
    r = await http.post(
        "/api/channels", json={"name": "vault", "private": True}, headers=auth(alice)
    )
    assert r.status_code == 201, r.text
    async with room(server, "errs") as a:
        await a.send(say("one"))
        await a.send({"action": "sendMessage", "id": "e1", "user_name": "ann"})
        await a.send(say("two"))
        await a.conn.send("not json")
        await a.send(say("in?", room_name="vault", id="e2"))  # a guest in a private room
        await a.send(say(" ", id="e3"))
        await a.send(say("three"))
        await a.send({"action": "getRecentMessages"})
        got = [await a.recv() for _ in range(8)]
    errors = {i: (f.get("id"), f["code"], f["message"]) for i, f in enumerate(got) if "type" in f}
    assert errors == {
        1: ("e1", "invalid_input", "content not in message dict"),
        3: (None, "invalid_json", errors[3][2]),
        4: ("e2", "not_found", "no such room"),
        5: ("e3", "message_too_long", "text must be 1-10000 characters"),
    }
    pushes = [f["messages"] for i, f in enumerate(got) if i not in errors]
    assert pushes == [
        [{"user_name": "ann", "content": "one"}],
        [{"user_name": "ann", "content": "two"}],
        [{"user_name": "ann", "content": "three"}],
        [{"user_name": "ann", "content": t} for t in ("one", "two", "three")],
    ]
    assert await stored(http, alice, "vault") == []


async def test_a_rate_limited_burst_is_refused_in_its_place(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(
        "--guest-rooms", "create", "--limit", "messages_per_second=0.01,message_burst=3"
    )
    async with room(server, "slow") as a:
        for i in range(5):
            await a.send(say(f"s{i}", id=i))
        await a.send({"action": "getRecentMessages"})
        got = [await a.recv() for _ in range(6)]
    assert got[:3] == [{"messages": [{"user_name": "ann", "content": f"s{i}"}]} for i in range(3)]
    assert [(f["type"], f["id"], f["code"]) for f in got[3:5]] == [
        ("error", 3, "rate_limited"),
        ("error", 4, "rate_limited"),
    ]
    assert got[5] == {"messages": [{"user_name": "ann", "content": f"s{i}"} for i in range(3)]}


async def test_a_signed_in_room_connection_is_refused_once_its_room_is_archived(
    server: Server, http: httpx.AsyncClient
) -> None:
    alice = await register(http, "alice")  # the owner: may archive any channel
    async with room(server, "club", alice) as a:
        await a.send({"action": "sendMessage", "content": "before"})
        assert await pushed(a) == [{"user_name": "alice", "content": "before"}]
        r = await http.patch("/api/channels/club", json={"archived": True}, headers=auth(alice))
        assert r.status_code == 200, r.text
        err = await a.request({"action": "sendMessage", "content": "after"})
        assert (err["type"], err["code"]) == ("error", "channel_archived"), err
        assert await recent(a) == [{"user_name": "alice", "content": "before"}]
    assert await stored(http, alice, "club") == [(1, "before")]


async def test_a_member_removed_from_the_room_is_closed_out_of_it(
    server: Server, http: httpx.AsyncClient
) -> None:
    alice = await register(http, "alice")
    bob = await register(http, "bob")
    async with room(server, "club", alice) as a, room(server, "club", bob) as b:
        await b.send({"action": "sendMessage", "content": "hi"})
        for ws in (a, b):
            assert await pushed(ws) == [{"user_name": "bob", "content": "hi"}]
        r = await http.delete("/api/channels/club/members/bob", headers=auth(alice))
        assert r.status_code == 200, r.text
        assert (await closed_with(b))[0] == 4004  # nothing more of the room to send into
        assert await recent(a) == [{"user_name": "bob", "content": "hi"}]
    assert await stored(http, alice, "club") == [(1, "hi")]


async def test_a_guest_is_refused_in_an_archived_room(
    server: Server, http: httpx.AsyncClient
) -> None:
    """docs/protocol.md: an archived channel is read-only. The append checks
    nothing for a guest, so its room must: the connection's own room follows
    the channel's `channel_updated` events, a new connection reads it as it is."""
    alice = await register(http, "alice")  # the owner: may archive any channel
    async with room(server, "arch") as g:
        await g.send(say("before"))
        assert await pushed(g) == [{"user_name": "ann", "content": "before"}]
        r = await http.patch("/api/channels/arch", json={"archived": True}, headers=auth(alice))
        assert r.status_code == 200, r.text
        err = await g.request(say("after"))
        assert (err["type"], err["code"]) == ("error", "channel_archived"), err
        async with room(server, "arch") as late:  # still readable
            assert await recent(late) == [{"user_name": "ann", "content": "before"}]
            err = await late.request(say("late"))
            assert (err["type"], err["code"]) == ("error", "channel_archived"), err
        r = await http.patch("/api/channels/arch", json={"archived": False}, headers=auth(alice))
        assert r.status_code == 200, r.text
        await g.send(say("again"))
        assert await pushed(g) == [{"user_name": "ann", "content": "again"}]
    assert await stored(http, alice, "arch") == [(1, "before"), (2, "again")]
