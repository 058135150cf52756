"""Channels end to end: REST management, visibility rules, and the WebSocket
events that membership changes push to subscribers and to a user's own sockets."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets

from support import Server, auth, online, send, subscribe, users, ws_connect


def names(listing: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in listing]


async def test_create_public_and_private_with_topic(http: httpx.AsyncClient) -> None:
    t = await users(http, "alice")
    r = await http.post(
        "/api/channels", json={"name": "lobby", "topic": "all hands"}, headers=auth(t["alice"])
    )
    assert r.status_code == 201, r.text
    assert r.json() == {
        "name": "lobby",
        "kind": "public",
        "topic": "all hands",
        "last_seq": 0,
        "member_count": 1,
        "members": None,
        "purpose": "",
        "archived": False,
        "default": False,
    }
    r = await http.post(
        "/api/channels",
        json={"name": "secret", "private": True, "topic": "shh"},
        headers=auth(t["alice"]),
    )
    assert r.status_code == 201, r.text
    assert (r.json()["kind"], r.json()["topic"], r.json()["member_count"]) == ("private", "shh", 1)

    r = await http.get("/api/channels/secret", headers=auth(t["alice"]))
    assert r.status_code == 200
    assert r.json()["is_member"] is True and r.json()["topic"] == "shh"

    # The name is taken now, whatever the kind; bad names are refused.
    r = await http.post("/api/channels", json={"name": "secret"}, headers=auth(t["alice"]))
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    r = await http.post("/api/channels", json={"name": "Bad Name"}, headers=auth(t["alice"]))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_name"
    r = await http.post("/api/channels", json={"name": "nobody"})
    assert r.status_code == 401


async def test_list_shows_mine_and_public_never_others_private_or_dms(
    server: Server, http: httpx.AsyncClient
) -> None:
    t = await users(http, "alice", "bob", "carol")
    a, b = auth(t["alice"]), auth(t["bob"])
    for body, h in (
        ({"name": "lobby"}, a),
        ({"name": "random"}, b),
        ({"name": "alice-secret", "private": True}, a),
        ({"name": "bob-secret", "private": True}, b),
    ):
        assert (await http.post("/api/channels", json=body, headers=h)).status_code == 201
    r = await http.post("/api/dms", json={"usernames": ["carol"]}, headers=a)
    assert r.status_code == 200, r.text
    dm = r.json()["name"]

    # alice reads some of #lobby, so her cursor shows in the listing. (carol
    # writes: your own messages are never unread.)
    r = await http.post("/api/channels/lobby/join", headers=auth(t["carol"]))
    assert r.status_code == 200, r.text
    async with online(server, t["carol"]) as ws:
        for i in range(3):
            await send(ws, "lobby", f"m{i}")
    r = await http.post("/api/channels/lobby/read", json={"seq": 2}, headers=a)
    assert r.json() == {"last_read": 2}

    listing = (await http.get("/api/channels", headers=a)).json()
    by_name = {c["name"]: c for c in listing}
    # Everyone is in #general (joined on registering).
    assert set(by_name) == {"general", "lobby", "alice-secret", dm, "random"}
    assert by_name["general"]["is_member"] is True
    assert by_name["lobby"]["is_member"] is True
    assert (by_name["lobby"]["last_read"], by_name["lobby"]["last_seq"]) == (2, 3)
    assert by_name["alice-secret"]["is_member"] is True
    assert by_name[dm]["is_member"] is True and by_name[dm]["members"] == ["alice", "carol"]
    assert by_name["random"]["is_member"] is False and by_name["random"]["last_read"] == 0
    # Joined channels first, then public ones the user is not in.
    assert names(listing)[-1] == "random"

    listing = (await http.get("/api/channels", headers=b)).json()
    assert set(names(listing)) == {"general", "random", "bob-secret", "lobby"}
    assert {c["name"]: c["is_member"] for c in listing}["lobby"] is False

    listing = (await http.get("/api/channels", headers=auth(t["carol"]))).json()
    assert set(names(listing)) == {dm, "general", "lobby", "random"}


async def test_join_and_leave_push_events(server: Server, http: httpx.AsyncClient) -> None:
    t = await users(http, "alice", "bob")
    r = await http.post("/api/channels", json={"name": "lobby"}, headers=auth(t["alice"]))
    assert r.status_code == 201
    async with (
        online(server, t["alice"]) as a,
        online(server, t["bob"]) as b1,
        online(server, t["bob"]) as b2,
    ):
        await subscribe(a, "lobby")

        r = await http.post("/api/channels/lobby/join", headers=auth(t["bob"]))
        assert r.status_code == 200 and r.json()["member_count"] == 2
        joined = await a.expect("member_joined")
        assert joined == {
            "type": "member_joined",
            "channel": "lobby",
            "user": "bob",
            "member_count": 2,
        }
        for ws in (b1, b2):
            ev = await ws.expect("channel_joined")
            assert ev["channel"]["name"] == "lobby"
            assert ev["channel"]["member_count"] == 2
        r = await http.get("/api/channels/lobby/members", headers=auth(t["alice"]))
        assert r.json() == {"members": ["alice", "bob"]}

        # Joining twice changes nothing and pushes nothing.
        r = await http.post("/api/channels/lobby/join", headers=auth(t["bob"]))
        assert r.status_code == 200 and r.json()["member_count"] == 2

        r = await http.post("/api/channels/lobby/leave", headers=auth(t["bob"]))
        assert r.status_code == 200 and r.json()["member_count"] == 1
        left = await a.expect("member_left")
        assert left == {
            "type": "member_left",
            "channel": "lobby",
            "user": "bob",
            "member_count": 1,
        }
        for ws in (b1, b2):
            ev = await ws.expect("channel_left")
            assert ev["channel"]["name"] == "lobby" and ev["channel"]["member_count"] == 1
            assert not [f for f in ws.backlog if f.get("type") == "channel_joined"]
        # The second join was a no-op: alice saw exactly one member_joined.
        assert not [f for f in a.backlog if f.get("type") == "member_joined"]

        r = await http.get("/api/channels/lobby/members", headers=auth(t["alice"]))
        assert r.json() == {"members": ["alice"]}
        r = await http.post("/api/channels/lobby/leave", headers=auth(t["bob"]))
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"


async def test_invite_to_private_channel(server: Server, http: httpx.AsyncClient) -> None:
    t = await users(http, "alice", "carol")
    a, c = auth(t["alice"]), auth(t["carol"])
    r = await http.post("/api/channels", json={"name": "secret", "private": True}, headers=a)
    assert r.status_code == 201

    async with online(server, t["alice"]) as aw, online(server, t["carol"]) as cw:
        await subscribe(aw, "secret")
        await send(aw, "secret", "before carol")

        # Invisible to carol: every way in says not_found, never forbidden.
        for method, path in (
            ("GET", "/api/channels/secret"),
            ("GET", "/api/channels/secret/members"),
            ("GET", "/api/channels/secret/messages"),
            ("POST", "/api/channels/secret/join"),
        ):
            r = await http.request(method, path, headers=c)
            assert r.status_code == 404, (path, r.text)
            assert r.json()["error"]["code"] == "not_found"
        r = await http.post(
            "/api/channels/secret/messages", json={"text": "x", "client_id": "x"}, headers=c
        )
        assert r.status_code == 404
        r = await http.post("/api/channels/secret/invite", json={"username": "carol"}, headers=c)
        assert r.status_code == 404
        for frame in (
            {"action": "subscribe", "channel": "secret"},
            {"action": "history", "channel": "secret"},
            {"action": "send", "channel": "secret", "text": "x", "client_id": "y"},
        ):
            reply = await cw.request(frame)
            assert (reply["type"], reply["code"]) == ("error", "not_found"), reply
        assert "secret" not in names((await http.get("/api/channels", headers=c)).json())

        r = await http.post("/api/channels/secret/invite", json={"username": "carol"}, headers=a)
        assert r.status_code == 200 and r.json()["member_count"] == 2
        ev = await cw.expect("channel_joined")
        assert (ev["channel"]["name"], ev["channel"]["kind"]) == ("secret", "private")
        assert await aw.expect("member_joined") == {
            "type": "member_joined",
            "channel": "secret",
            "user": "carol",
            "member_count": 2,
        }

        r = await http.get("/api/channels/secret", headers=c)
        assert r.status_code == 200 and r.json()["is_member"] is True
        assert "secret" in names((await http.get("/api/channels", headers=c)).json())
        sub = await subscribe(cw, "secret", since=0)
        assert (sub["replayed"], sub["last_seq"]) == (1, 1)
        assert (await cw.expect("message"))["text"] == "before carol"
        await send(aw, "secret", "welcome")
        got = await cw.expect("message")
        assert (got["seq"], got["text"]) == (2, "welcome")

        r = await http.post("/api/channels/secret/invite", json={"username": "nobody"}, headers=a)
        assert r.status_code == 404


async def test_leaving_private_channel_stops_its_events(
    server: Server, http: httpx.AsyncClient
) -> None:
    t = await users(http, "alice", "bob")
    a, b = auth(t["alice"]), auth(t["bob"])
    await http.post("/api/channels", json={"name": "secret", "private": True}, headers=a)
    await http.post("/api/channels/secret/invite", json={"username": "bob"}, headers=a)
    # Both are in #general (joined on registering): the fence below is sent there.

    async with (
        online(server, t["alice"]) as aw,
        online(server, t["bob"]) as b1,
        online(server, t["bob"]) as b2,
    ):
        for ws in (b1, b2):
            await subscribe(ws, "secret")
            await subscribe(ws, "general")
        await send(aw, "secret", "for bob")
        for ws in (b1, b2):
            assert (await ws.expect("message"))["text"] == "for bob"

        r = await http.post("/api/channels/secret/leave", headers=b)
        assert r.status_code == 200
        for ws in (b1, b2):
            ev = await ws.expect("channel_left")
            assert ev["channel"]["name"] == "secret"

        await send(aw, "secret", "not for bob")
        # A fence: had bob still been subscribed to #secret, its message would
        # have been written to his sockets before this one.
        await send(aw, "general", "fence")
        for ws in (b1, b2):
            got = await ws.expect("message")
            assert (got["channel"], got["text"]) == ("general", "fence")
            assert not [f for f in ws.backlog if f.get("type") == "message"]
            reply = await ws.request({"action": "subscribe", "channel": "secret"})
            assert (reply["type"], reply["code"]) == ("error", "not_found")
        r = await http.get("/api/channels/secret/messages", headers=b)
        assert r.status_code == 404


async def test_topic_change_pushes_channel_updated(server: Server, http: httpx.AsyncClient) -> None:
    t = await users(http, "alice", "bob", "carol")
    a, b = auth(t["alice"]), auth(t["bob"])
    await http.post("/api/channels", json={"name": "lobby", "topic": "old"}, headers=a)
    await http.post("/api/channels/lobby/join", headers=b)
    async with online(server, t["alice"]) as aw, online(server, t["bob"]) as bw:
        await subscribe(aw, "lobby")
        await subscribe(bw, "lobby")
        r = await http.put("/api/channels/lobby/topic", json={"topic": "new topic"}, headers=b)
        assert r.status_code == 200 and r.json()["topic"] == "new topic"
        for ws in (aw, bw):
            ev = await ws.expect("channel_updated")
            assert (ev["channel"]["name"], ev["channel"]["topic"]) == ("lobby", "new topic")
    r = await http.get("/api/channels/lobby", headers=a)
    assert r.json()["topic"] == "new topic"
    # Only members may change it.
    r = await http.put(
        "/api/channels/lobby/topic", json={"topic": "hijack"}, headers=auth(t["carol"])
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"
    r = await http.put("/api/channels/lobby/topic", json={"topic": "x" * 251}, headers=a)
    assert r.status_code == 400
    assert (await http.get("/api/channels/lobby", headers=a)).json()["topic"] == "new topic"


async def test_direct_messages(server: Server, http: httpx.AsyncClient) -> None:
    t = await users(http, "alice", "bob", "carol", "dave")
    a, b, c, d = (auth(t[n]) for n in ("alice", "bob", "carol", "dave"))

    async with online(server, t["bob"]) as bw:
        r = await http.post("/api/dms", json={"usernames": ["bob"]}, headers=a)
        assert r.status_code == 200, r.text
        dm = r.json()
        assert dm["name"] == "dm:alice,bob"
        assert (dm["kind"], dm["members"], dm["member_count"]) == ("dm", ["alice", "bob"], 2)
        ev = await bw.expect("channel_joined")
        assert ev["channel"]["name"] == "dm:alice,bob"

        # The same set of people is the same channel, whoever opens it.
        r = await http.post("/api/dms", json={"usernames": ["alice"]}, headers=b)
        assert r.json()["name"] == "dm:alice,bob"

        await subscribe(bw, "dm:alice,bob")
        async with online(server, t["alice"]) as aw:
            await send(aw, "dm:alice,bob", "psst")
        got = await bw.expect("message")
        assert (got["channel"], got["text"], got["seq"]) == ("dm:alice,bob", "psst", 1)

    # Group DMs: order-independent, and the same set again is the same channel.
    r1 = await http.post("/api/dms", json={"usernames": ["carol", "bob"]}, headers=a)
    r2 = await http.post("/api/dms", json={"usernames": ["bob", "alice"]}, headers=c)
    r3 = await http.post("/api/dms", json={"usernames": ["alice", "carol"]}, headers=b)
    group = r1.json()["name"]
    assert group == "dm:alice,bob,carol" == r2.json()["name"] == r3.json()["name"]
    assert r1.json()["member_count"] == 3 and r1.json()["members"] == ["alice", "bob", "carol"]

    # Invisible to everyone else, including a member of the other DM.
    for headers, name in ((d, "dm:alice,bob"), (d, group), (c, "dm:alice,bob")):
        r = await http.get(f"/api/channels/{name}", headers=headers)
        assert r.status_code == 404, (name, r.text)
        r = await http.get(f"/api/channels/{name}/messages", headers=headers)
        assert r.status_code == 404
        r = await http.post(f"/api/channels/{name}/join", headers=headers)
        assert r.status_code == 404
    # Besides #general (everyone's), dave is in nothing, carol only in the group.
    assert names((await http.get("/api/channels", headers=d)).json()) == ["general"]
    assert set(names((await http.get("/api/channels", headers=c)).json())) == {"general", group}
    async with online(server, t["dave"]) as dw:
        reply = await dw.request({"action": "subscribe", "channel": "dm:alice,bob"})
        assert (reply["type"], reply["code"]) == ("error", "not_found")

    r = await http.get("/api/channels/dm:alice,bob/messages", headers=b)
    assert [m["text"] for m in r.json()["messages"]] == ["psst"]
    r = await http.get(f"/api/channels/{group}/members", headers=c)
    assert r.json() == {"members": ["alice", "bob", "carol"]}

    # A DM cannot be left, nor grown by invitation.
    r = await http.post("/api/channels/dm:alice,bob/leave", headers=a)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await http.post("/api/channels/dm:alice,bob/invite", json={"username": "dave"}, headers=a)
    assert r.status_code == 403
    r = await http.get("/api/channels/dm:alice,bob/members", headers=a)
    assert r.json() == {"members": ["alice", "bob"]}

    r = await http.post("/api/dms", json={"usernames": ["nobody"]}, headers=a)
    assert r.status_code == 404


async def test_members_endpoint(http: httpx.AsyncClient) -> None:
    t = await users(http, "alice", "bob", "carol")
    await http.post("/api/channels", json={"name": "lobby"}, headers=auth(t["alice"]))
    for n in ("carol", "bob"):
        await http.post("/api/channels/lobby/join", headers=auth(t[n]))
    # Anyone may see a public channel's members; the list is sorted.
    r = await http.get("/api/channels/lobby/members", headers=auth(t["bob"]))
    assert r.json() == {"members": ["alice", "bob", "carol"]}
    r = await http.get("/api/channels/nope/members", headers=auth(t["bob"]))
    assert r.status_code == 404
    r = await http.get("/api/channels/lobby/members")
    assert r.status_code == 401


# --- paging and the creation limit (issue #19, defect 5) -------------------------------------


def next_page(r: httpx.Response) -> str | None:
    """The URL in the `Link: <...>; rel="next"` header, if any."""
    link = r.headers.get("link")
    if link is None:
        return None
    m = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert m, link
    return m.group(1)


async def test_the_channel_list_is_paged(http: httpx.AsyncClient) -> None:
    t = await users(http, "alice", "bob")
    a, b = auth(t["alice"]), auth(t["bob"])
    for body, h in [
        ({"name": "zz-mine"}, a),
        ({"name": "alice-secret", "private": True}, a),
        ({"name": "bob-secret", "private": True}, b),
        *(({"name": f"pub-{i}"}, b) for i in (6, 2, 5, 0, 3, 1, 4)),
    ]:
        r = await http.post("/api/channels", json=body, headers=h)
        assert r.status_code == 201, r.text

    r = await http.get("/api/channels", headers=a)  # the default page holds it all
    assert r.status_code == 200 and next_page(r) is None
    everything = r.json()
    mine = ["alice-secret", "general", "zz-mine"]  # #general: joined on registering
    assert names(everything) == [*mine, *(f"pub-{i}" for i in range(7))]

    url: str | None = "/api/channels?limit=3"
    pages = []
    while url is not None:
        r = await http.get(url, headers=a)
        assert r.status_code == 200, r.text
        pages.append(names(r.json()))
        url = next_page(r)
        if url is not None:
            assert r.headers["x-next-after"] == pages[-1][-1]
    # All of alice's own on the first page, then the public ones she is not in, 3 a page.
    assert pages == [
        [*mine, "pub-0", "pub-1", "pub-2"],
        ["pub-3", "pub-4", "pub-5"],
        ["pub-6"],
    ]
    r = await http.get("/api/channels", params={"after": "pub-6"}, headers=a)
    assert r.json() == [] and next_page(r) is None
    # Exactly a page left: no next link.
    r = await http.get("/api/channels", params={"after": "pub-3", "limit": 3}, headers=a)
    assert names(r.json()) == ["pub-4", "pub-5", "pub-6"] and next_page(r) is None

    for bad in ({"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"after": "x" * 81}):
        r = await http.get("/api/channels", params=bad, headers=a)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input", bad
    r = await http.get("/api/channels", params={"limit": 1000}, headers=a)
    assert r.status_code == 200 and names(r.json()) == names(everything)


async def test_channel_creation_is_limited_per_user(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory("--limit", "channels_per_hour=3")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        t = await users(http, "alice", "bob")
        a, b = auth(t["alice"]), auth(t["bob"])
        for name in ("c-0", "c-1"):
            r = await http.post("/api/channels", json={"name": name}, headers=a)
            assert r.status_code == 201, r.text
        # An attempt on a taken name counts too.
        r = await http.post("/api/channels", json={"name": "c-0"}, headers=a)
        assert r.status_code == 409
        r = await http.post("/api/channels", json={"name": "c-2", "private": True}, headers=a)
        assert r.status_code == 429, r.text
        err = r.json()["error"]
        assert (err["code"], err["message"]) == (
            "rate_limited",
            "at most 3 new channels per hour",
        )
        assert 1100 < err["retry_after"] <= 1200  # one more every 3600/3 s
        assert 1100 < int(r.headers["retry-after"]) <= 1200
        r = await http.get("/api/channels/c-2", headers=a)
        assert r.status_code == 404  # nothing was made

        # A tutorial room alice makes by naming it counts the same...
        url = f"{server.ws_url}?token={t['alice']}&room_name=new-room"
        async with ws_connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed) as info:
                await ws.recv()
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (
            4004,
            "at most 3 new channels per hour",
        )
        # ... while joining what exists is no creation, and bob has his own count.
        async with ws_connect(f"{server.ws_url}?token={t['bob']}&room_name=c-1") as ws:
            await ws.send({"action": "getRecentMessages"})
            assert await ws.recv() == {"messages": []}
        r = await http.post("/api/channels", json={"name": "b-0"}, headers=b)
        assert r.status_code == 201, r.text
