"""`@here`, `@channel` and `@everyone` mention every member of the channel but
the author (as in Slack), in the counts every listing reports; and no account
can be named after them."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from support import Server, auth, online, send, subscribe, users

_ids = itertools.count()


async def post(http: httpx.AsyncClient, token: str, channel: str, text: str) -> int:
    r = await http.post(
        f"/api/channels/{channel}/messages",
        json={"text": text, "client_id": f"m{next(_ids)}"},
        headers=auth(token),
    )
    assert r.status_code < 300, r.text
    return r.json()["seq"]  # type: ignore[no-any-return]


async def counts(http: httpx.AsyncClient, token: str, channel: str) -> tuple[int, int]:
    """(unread, mentions) of `channel`, from the listing and the channel's own
    view, which must agree."""
    r = await http.get("/api/channels", headers=auth(token))
    assert r.status_code == 200, r.text
    listed: dict[str, Any] = next(c for c in r.json() if c["name"] == channel)
    view = (await http.get(f"/api/channels/{channel}", headers=auth(token))).json()
    assert (listed["unread"], listed["mentions"]) == (view["unread"], view["mentions"])
    return view["unread"], view["mentions"]


async def test_here_mentions_everyone_but_the_author(
    server: Server, http: httpx.AsyncClient
) -> None:
    t = await users(http, "alice", "bob", "carol")  # all in #general (joined on registering)
    a, b, c = t["alice"], t["bob"], t["carol"]
    async with online(server, a) as ws:
        await subscribe(ws, "general")
        await send(ws, "general", "@here standup in 5")
        await send(ws, "general", "@channel, the release is out")
    await post(http, a, "general", "and @everyone: cake")
    await post(http, a, "general", "@hereafter, here@channel.org, @everyone_else")  # none
    for theirs in (b, c):
        assert await counts(http, theirs, "general") == (4, 3)
    assert await counts(http, a, "general") == (0, 0)  # her own messages mention no one of her

    # Bob answers with an @here too: that reads alice's for him, and mentions
    # alice and carol; a deleted @here stops counting.
    seq = await post(http, b, "general", "@here on my way")
    assert await counts(http, b, "general") == (0, 0)
    assert await counts(http, a, "general") == (1, 1)
    assert await counts(http, c, "general") == (5, 4)
    r = await http.delete(f"/api/channels/general/messages/{seq}", headers=auth(b))
    assert r.status_code < 300, r.text
    assert await counts(http, a, "general") == (0, 0)
    assert await counts(http, c, "general") == (4, 3)


async def test_no_account_is_named_after_a_mention_of_everyone(http: httpx.AsyncClient) -> None:
    for name in ("here", "channel", "everyone"):
        r = await http.post("/api/auth/register", json={"username": name, "password": "x" * 12})
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert (err["code"], err["field"]) == ("conflict", "username"), err
        r = await http.post("/api/auth/login", json={"username": name, "password": "x" * 12})
        assert r.status_code == 401, r.text
    r = await http.post("/api/auth/register", json={"username": "heres", "password": "x" * 12})
    assert r.status_code == 201, r.text
