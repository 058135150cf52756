"""Your own messages are never unread: a message stored as you (over REST, or
from another socket: another tab or device) moves your read cursor with it, so
every listing and every device agrees, while the others see it unread."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from support import Server, auth, online, send, subscribe, users


async def listing(http: httpx.AsyncClient, token: str) -> dict[str, dict[str, Any]]:
    r = await http.get("/api/channels", headers=auth(token))
    assert r.status_code == 200, r.text
    return {c["name"]: c for c in r.json()}


_ids = itertools.count()


async def post(http: httpx.AsyncClient, token: str, channel: str, text: str) -> int:
    r = await http.post(
        f"/api/channels/{channel}/messages",
        json={"text": text, "client_id": f"u{next(_ids)}"},
        headers=auth(token),
    )
    assert r.status_code < 300, r.text
    return r.json()["seq"]  # type: ignore[no-any-return]


async def test_own_messages_from_any_client_are_read(
    server: Server, http: httpx.AsyncClient
) -> None:
    t = await users(http, "alice", "bob")
    a, b = t["alice"], t["bob"]
    # Both are in #general already (joined on registering).
    assert (await http.post("/api/channels", json={"name": "random"}, headers=auth(a))).is_success
    for name in ("general", "random"):
        assert (await http.post(f"/api/channels/{name}/join", headers=auth(b))).is_success

    async with online(server, a) as tab, online(server, a) as phone:
        await subscribe(tab, "general")  # alice has the app open on one device
        for i in range(3):
            await post(http, a, "general", f"seeded {i}, @bob")  # `hubbub send`, a script
        for i in range(2):
            await send(phone, "general", f"from my phone {i}")  # another device
        await send(phone, "random", "elsewhere")
        for i in range(5):
            await tab.expect("message", channel="general", seq=i + 1)

    mine = await listing(http, a)
    general = mine["general"]
    assert general["last_seq"] == 5
    assert (general["last_read"], general["mentions"]) == (5, 0)
    assert (mine["random"]["last_read"], mine["random"]["last_seq"]) == (1, 1)
    view = (await http.get("/api/channels/general", headers=auth(a))).json()
    assert view["last_read"] == view["last_seq"] == 5

    # Bob sees every one of them unread, and the mentions of him.
    theirs = await listing(http, b)
    assert (theirs["general"]["last_read"], theirs["general"]["last_seq"]) == (0, 5)
    assert theirs["general"]["mentions"] == 3
    assert (theirs["random"]["last_read"], theirs["random"]["last_seq"]) == (0, 1)

    # Bob's reply is unread for alice; her answer to it reads it too (the
    # cursor moves to her message, never back).
    await post(http, b, "general", "hi @alice")
    general = (await listing(http, a))["general"]
    assert (general["last_read"], general["last_seq"], general["mentions"]) == (5, 6, 1)
    assert await post(http, a, "general", "hi bob") == 7
    general = (await listing(http, a))["general"]
    assert (general["last_read"], general["last_seq"], general["mentions"]) == (7, 7, 0)
    general = (await listing(http, b))["general"]
    assert (general["last_read"], general["last_seq"]) == (6, 7)  # his own reply is read


async def test_unread_counts_messages_not_edits_reactions_or_tombstones(
    server: Server, http: httpx.AsyncClient
) -> None:
    t = await users(http, "carol", "dave")
    c, d = t["carol"], t["dave"]  # both in #general (joined on registering)
    async with online(server, d) as ws:
        seqs = [await post(http, d, "general", f"news {i} @carol") for i in range(3)]
        for fid, frame in enumerate(
            [
                {"action": "edit", "channel": "general", "seq": seqs[0], "text": "news 0!"},
                {"action": "delete", "channel": "general", "seq": seqs[1]},
                {"action": "react", "channel": "general", "seq": seqs[2], "emoji": "👍"},
            ]
        ):
            answer = await ws.request({**frame, "id": fid})
            assert answer["type"] == "changed" and answer["seq"] is not None, answer
    general = (await listing(http, c))["general"]
    assert general["last_seq"] == seqs[-1] + 3  # three changes took seqs too...
    # ...but are not unread; and the edit took its message's mention away.
    assert (general["unread"], general["mentions"]) == (2, 1)
    view = (await http.get("/api/channels/general", headers=auth(c))).json()
    assert (view["unread"], view["mentions"]) == (2, 1)
    assert (await listing(http, d))["general"]["unread"] == 0  # his own
