"""Presence end to end: `watch_presence`, online/offline events counted over
all of a user's connections, and the status REST shows."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from support import WS, Server, auth, register, ws_connect


@contextlib.asynccontextmanager
async def online(server: Server, token: str) -> AsyncIterator[WS]:
    async with ws_connect(f"{server.ws_url}?token={token}") as ws:
        await ws.expect("hello")
        yield ws


async def status(http: httpx.AsyncClient, token: str, username: str) -> str:
    r = await http.get(f"/api/users/{username}", headers=auth(token))
    assert r.status_code == 200, r.text
    assert r.json()["username"] == username
    return r.json()["status"]  # type: ignore[no-any-return]


async def next_presence(ws: WS) -> dict[str, str]:
    """The next presence event (nothing else is expected in between)."""
    frame = await ws.recv()
    assert frame["type"] == "presence", frame
    return frame


async def test_watch_presence_and_events(server: Server, http: httpx.AsyncClient) -> None:
    t = {n: await register(http, n) for n in ("alice", "bob", "carol")}
    assert await status(http, t["alice"], "bob") == "offline"

    async with online(server, t["alice"]) as a, online(server, t["carol"]) as c:
        assert await status(http, t["alice"], "alice") == "online"
        state = await a.request({"action": "watch_presence", "usernames": ["bob", "carol"]})
        assert state["type"] == "presence_state"
        assert state["users"] == {"bob": "offline", "carol": "online"}

        async with online(server, t["bob"]) as b1:
            assert await next_presence(a) == {"type": "presence", "user": "bob", "status": "online"}
            assert await status(http, t["alice"], "bob") == "online"

            # A second connection changes nothing that anyone sees.
            async with online(server, t["bob"]):
                pass
            # Closing one of two: bob stays online. As a fence, a later
            # change (carol leaving) must be the next event alice sees.
            await c.close()
            assert await next_presence(a) == {
                "type": "presence",
                "user": "carol",
                "status": "offline",
            }
            assert await status(http, t["alice"], "bob") == "online"
            assert await status(http, t["alice"], "carol") == "offline"

            async with online(server, t["bob"]) as b2:
                # The first of bob's connections closes: still online (the
                # event after it is carol's, not bob's).
                await b1.close()
                async with online(server, t["carol"]):
                    assert (await next_presence(a))["user"] == "carol"
                    assert await status(http, t["alice"], "bob") == "online"
                assert await next_presence(a) == {
                    "type": "presence",
                    "user": "carol",
                    "status": "offline",
                }
                # The last of bob's connections closes: now he is offline.
                await b2.close()
                assert await next_presence(a) == {
                    "type": "presence",
                    "user": "bob",
                    "status": "offline",
                }
        assert await status(http, t["alice"], "bob") == "offline"

        state = await a.request({"action": "watch_presence", "usernames": ["bob", "carol"]})
        assert state["users"] == {"bob": "offline", "carol": "offline"}


async def test_dropped_connection_goes_offline(server: Server, http: httpx.AsyncClient) -> None:
    t = {n: await register(http, n) for n in ("alice", "bob")}
    async with online(server, t["alice"]) as a:
        await a.request({"action": "watch_presence", "usernames": ["bob"]})
        async with online(server, t["bob"]) as b:
            assert (await next_presence(a))["status"] == "online"
            b.conn.transport.abort()  # no closing handshake
            assert await next_presence(a) == {
                "type": "presence",
                "user": "bob",
                "status": "offline",
            }
    assert await status(http, t["alice"], "bob") == "offline"


async def test_watch_presence_replaces_the_watched_set(
    server: Server, http: httpx.AsyncClient
) -> None:
    t = {n: await register(http, n) for n in ("alice", "bob", "carol")}
    async with online(server, t["alice"]) as a:
        state = await a.request({"action": "watch_presence", "usernames": ["bob"]})
        assert state["users"] == {"bob": "offline"}
        state = await a.request({"action": "watch_presence", "usernames": ["carol", "carol"]})
        assert state["users"] == {"carol": "offline"}
        async with online(server, t["bob"]), online(server, t["carol"]):
            # bob is no longer watched: carol's event is the first to arrive.
            assert await next_presence(a) == {
                "type": "presence",
                "user": "carol",
                "status": "online",
            }
        assert await next_presence(a) == {"type": "presence", "user": "carol", "status": "offline"}

        state = await a.request({"action": "watch_presence", "usernames": []})
        assert state["users"] == {}
        async with online(server, t["carol"]):
            pong = await a.request({"action": "ping"})
            assert pong["type"] == "pong"
        assert not a.backlog

        reply = await a.request({"action": "watch_presence", "usernames": ["nobody"]})
        assert (reply["type"], reply["code"]) == ("error", "not_found")


async def test_user_status_over_rest(server: Server, http: httpx.AsyncClient) -> None:
    t = {n: await register(http, n) for n in ("alice", "bob")}
    r = await http.get("/api/users/bob", headers=auth(t["alice"]))
    assert r.json() == {
        "username": "bob",
        "display_name": "bob",
        "role": "member",
        "custom_status": None,
        "deactivated": False,
        "bot": False,
        "status": "offline",
    }
    async with online(server, t["bob"]):
        assert await status(http, t["alice"], "bob") == "online"
    r = await http.get("/api/users/nobody", headers=auth(t["alice"]))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await http.get("/api/users/bob")
    assert r.status_code == 401
