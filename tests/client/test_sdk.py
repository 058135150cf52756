"""The SDK against a real server process: REST, events, reconnect and resume."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import httpx
import pytest

from hubbub.client import Client, HubbubError
from hubbub.protocol import frames
from support import WAIT, Proxy, Server, auth, register


async def next_message(client: Client) -> frames.Message:
    async with asyncio.timeout(WAIT):
        async for event in client.events():
            if isinstance(event, frames.Message):
                return event
    raise AssertionError("events ended")


async def test_rest_calls_and_errors(server: Server) -> None:
    async with Client(server.url) as c:
        await c.register("ann", "correct horse")
        assert (await c.me())["username"] == "ann"
        await c.create_channel("ops", topic="hi")
        # (A server may also have put every new account in #general.)
        assert [ch["name"] for ch in await c.channels() if ch["name"] != "general"] == ["ops"]
        assert (await c.channel("ops"))["topic"] == "hi"
        with pytest.raises(HubbubError) as e:
            await c.join("nope")
        assert (e.value.code, e.value.status) == ("not_found", 404)
        with pytest.raises(HubbubError) as e:
            await c.login("ann", "wrong password")
        assert e.value.code == "bad_credentials"
    async with Client("http://127.0.0.1:9") as down:
        with pytest.raises(HubbubError) as e:
            await down.login("ann", "x" * 8)
        assert e.value.code == "unreachable"


async def test_events_in_order_and_acks(server: Server) -> None:
    async with Client(server.url) as a, Client(server.url) as b:
        await a.register("ann", "correct horse")
        await b.register("bob", "correct horse")
        await a.create_channel("ops")
        await b.join("ops")
        await a.connect()
        await b.connect()
        await b.subscribe("ops")
        sent = [await a.send("ops", f"m{i}") for i in range(20)]
        assert [m.seq for m in sent] == list(range(1, 21))
        got = [await next_message(b) for _ in range(20)]
        assert [(m.seq, m.text) for m in got] == [(i, f"m{i - 1}") for i in range(1, 21)]
        with pytest.raises(HubbubError) as e:
            await a.send("nope", "x")
        assert e.value.code == "not_found"


async def test_resume_after_server_restart(server_factory: Callable[..., Server]) -> None:
    server = server_factory()
    async with Client(server.url) as a:
        await a.register("ann", "correct horse")
        async with httpx.AsyncClient(base_url=server.url) as http:
            bob = await register(http, "bob")
        await a.create_channel("ops")
        await a.connect()
        await a.subscribe("ops")
        for i in range(3):
            await a.send("ops", f"before-{i}")
        server.stop(signal.SIGKILL)
        restarted = server_factory(data_dir=server.data_dir, port=server.port)
        async with httpx.AsyncClient(base_url=restarted.url) as http:
            await http.post("/api/channels/ops/join", headers=auth(bob))
            for i in range(5):  # while ann may still be reconnecting
                r = await http.post(
                    "/api/channels/ops/messages",
                    json={"text": f"after-{i}", "client_id": f"b{i}"},
                    headers=auth(bob),
                )
                assert r.status_code == 201
        await a.wait_connected(WAIT)
        texts = [(await next_message(a)).text for _ in range(8)]
        assert texts == [f"before-{i}" for i in range(3)] + [f"after-{i}" for i in range(5)]
        assert a.reconnects >= 1 and a.last_seq["ops"] == 8
        # Nothing delivered twice: the only messages left are none at all.
        assert not [e for e in drain(a) if isinstance(e, frames.Message)]


def drain(client: Client) -> list[frames.ServerFrame]:
    out = []
    while not client._events.empty():
        item = client._events.get_nowait()
        assert not isinstance(item, HubbubError)
        out.append(item)
    return out


async def test_lost_ack_is_resent_under_the_same_client_id(server: Server) -> None:
    proxy = await Proxy(server.port).start()
    try:
        async with Client(proxy.url) as a:
            await a.register("ann", "correct horse")
            await a.create_channel("ops")
            await a.connect()
            proxy.blackhole = True  # the server commits, the ack never arrives
            sending = asyncio.create_task(a.send("ops", "only once", client_id="cid-1"))
            async with httpx.AsyncClient(base_url=server.url) as http:
                async with asyncio.timeout(WAIT):
                    while True:  # wait until it is stored
                        r = await http.get(
                            "/api/channels/ops/messages", headers=auth(a.token or "")
                        )
                        if r.json()["messages"]:
                            break
                proxy.blackhole = False
                proxy.cut()
                msg = await asyncio.wait_for(sending, WAIT)
                assert (msg.seq, msg.client_id) == (1, "cid-1")
                r = await http.get("/api/channels/ops/messages", headers=auth(a.token or ""))
                assert [m["text"] for m in r.json()["messages"]] == ["only once"]
    finally:
        await proxy.close()


async def test_bad_token_is_fatal_not_retried(server: Server) -> None:
    async with Client(server.url, token="forged") as c:
        with pytest.raises(HubbubError) as e:
            await c.connect()
        assert e.value.code == "auth_failed"


async def test_names_are_one_url_segment(server: Server) -> None:
    """`#`, `?`, `/`, `:` and `,` in a name never become URL syntax (a `#` once
    made `POST /api/channels/` out of `#general-chat`)."""
    async with Client(server.url) as bob:
        await bob.register("bob", "correct horse")
    async with Client(server.url) as c:
        await c.register("ann", "correct horse")
        for name in ("#general-chat", "a?b=c", "x/messages"):
            with pytest.raises(HubbubError) as e:
                await c.post(name, "hi")
            assert (e.value.code, e.value.status) == ("not_found", 404), e.value
            if "/" not in name:  # (the server decodes %2F before routing: no route)
                assert repr(name) in e.value.message
        dm = (await c.open_dm(["bob"]))["name"]
        assert dm == "dm:ann,bob"
        sent = await c.post(dm, "psst", client_id="p-1")
        assert (sent.channel, sent.seq, sent.text) == (dm, 1, "psst")
        assert (await c.post(dm, "psst", client_id="p-1")).seq == 1  # a retry: the same one
        page, _ = await c.history(dm)
        assert [m.text for m in page] == ["psst"]
        assert (await c.channel(dm))["is_member"] is True
