"""The whole path once: register over REST, chat over /ws between two users."""

from __future__ import annotations

import httpx

from support import Server, auth, register, ws_connect


async def test_two_users_chat_in_a_channel(server: Server, http: httpx.AsyncClient) -> None:
    alice = await register(http, "alice")
    bob = await register(http, "bob")
    # Every new account joins #general (the first one's registration made it).
    r = await http.get("/api/channels/general", headers=auth(bob))
    assert r.json()["is_member"] and r.json()["member_count"] == 2

    async with (
        ws_connect(f"{server.ws_url}?token={alice}") as a,
        ws_connect(f"{server.ws_url}?token={bob}") as b,
    ):
        assert (await a.expect("hello"))["user"]["username"] == "alice"
        await b.expect("hello")
        for ws in (a, b):
            sub = await ws.request({"action": "subscribe", "channel": "general"})
            assert sub["type"] == "subscribed" and sub["recovered"]
        ack = await a.request(
            {"action": "send", "channel": "general", "text": "hi bob", "client_id": "m1"}
        )
        assert ack["type"] == "ack" and ack["seq"] == 1 and not ack["duplicate"]
        got = await b.expect("message")
        assert (got["seq"], got["text"], got["author"]["username"]) == (1, "hi bob", "alice")
