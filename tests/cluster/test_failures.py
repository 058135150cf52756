"""What a node does while Redis or PostgreSQL is down, and after they return."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx

from hubbub.client import Client, HubbubError
from hubbub.protocol import frames
from services import PrivatePostgres, PrivateRedis, drop_database, fresh_postgres_database
from support import WAIT, start_server

LIMITS = ("--limit", "messages_per_second=1000,message_burst=1000")


async def health(url: str) -> tuple[int, dict[str, str]]:
    async with httpx.AsyncClient(timeout=WAIT) as http:
        r = await http.get(f"{url}/healthz")
        return r.status_code, r.json()


async def until_health(url: str, status: int) -> dict[str, str]:
    async with asyncio.timeout(WAIT * 2):
        while True:
            code, body = await health(url)
            if code == status:
                return body
            await asyncio.sleep(0.1)  # polling an HTTP endpoint, bounded above


async def test_redis_down_degrades_health_but_sends_are_still_acknowledged(
    tmp_path: Path,
) -> None:
    redis = PrivateRedis()
    redis.start()
    pg = await fresh_postgres_database()
    node = start_server(tmp_path / "n", "--database-url", pg, "--bus-url", redis.url, *LIMITS)
    try:
        assert (await health(node.url))[0] == 200
        async with Client(node.url) as ann:
            await ann.register("ann", "correct horse")  # joins #general
            await ann.connect()
            await ann.subscribe("general")
            redis.kill()
            body = await until_health(node.url, 503)
            assert body["status"] == "degraded" and body["store"] == "ok"
            assert body["bus"].startswith("error")
            # The database is the truth: sends are committed and acknowledged.
            acked = [await ann.send("general", f"while redis is down {i}") for i in range(3)]
            assert [m.seq for m in acked] == [1, 2, 3]
            redis.start()
            assert (await until_health(node.url, 200))["bus"] == "ok"
            await ann.send("general", "after")
            # Every message reaches the subscriber once, in order: the ones
            # Redis never carried are filled from the store.
            got = []
            async with asyncio.timeout(WAIT):
                async for event in ann.events():
                    if isinstance(event, frames.Message):
                        got.append(event.seq)
                        if event.seq == 4:
                            break
            assert got == [1, 2, 3, 4]
    finally:
        node.stop()
        redis.kill()
        await drop_database(pg)


async def test_postgres_down_refuses_sends_clearly_and_recovers(tmp_path: Path) -> None:
    pg = PrivatePostgres()
    pg.start()
    node = start_server(tmp_path / "n", "--database-url", pg.url, *LIMITS)
    try:
        async with Client(node.url, timeout=3) as ann:
            await ann.register("ann", "correct horse")  # joins #general
            await ann.connect()
            first = await ann.send("general", "before")
            pg.stop()
            body = await until_health(node.url, 503)
            assert body["store"].startswith("error") and body["bus"] == "ok"
            # No ack while the database is down: a documented error instead.
            async with httpx.AsyncClient(base_url=node.url, timeout=WAIT) as http:
                r = await http.post(
                    "/api/channels/general/messages",
                    json={"text": "lost?", "client_id": "rest-1"},
                    headers={"Authorization": f"Bearer {ann.token}"},
                )
                assert r.status_code == 503, r.text
                assert r.json()["error"]["code"] == "unavailable"
            # The SDK keeps retrying under the same client_id until it comes back.
            pending = asyncio.create_task(ann.send("general", "during", client_id="sdk-1"))
            async with asyncio.timeout(WAIT):  # refused (unavailable) and retried, not acked
                while (p := ann._pending.get("sdk-1")) is None or p.attempts < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            assert not pending.done()
            pg.start()
            await until_health(node.url, 200)
            during = await asyncio.wait_for(pending, WAIT * 2)
            assert during.seq == first.seq + 1
            page, _ = await ann.history("general", limit=10)
            assert [m.text for m in reversed(page)] == ["before", "during"]
    except HubbubError as exc:  # make the reason visible in the test report
        raise AssertionError(f"{exc.code}: {exc.message}") from exc
    finally:
        node.stop()
        pg.remove()


async def test_presence_across_nodes_and_after_a_node_dies(tmp_path: Path) -> None:
    """A user on two nodes is one user; a node that dies without saying goodbye
    takes its users offline after presence_ttl."""
    redis = PrivateRedis()
    redis.start()
    pg = await fresh_postgres_database()
    args = ("--database-url", pg, "--bus-url", redis.url, "--limit", "presence_ttl=1.5")
    a, b = (start_server(tmp_path / n, *args) for n in ("a", "b"))
    try:
        async with Client(a.url) as watcher, Client(a.url) as ann_a, Client(b.url) as ann_b:
            await watcher.register("watcher", "correct horse")
            await ann_a.register("ann", "correct horse")
            ann_b.token = ann_a.token
            await watcher.connect()
            assert await watcher.watch_presence(["ann"]) == {"ann": "offline"}

            async def next_presence() -> str:
                async with asyncio.timeout(WAIT):
                    async for event in watcher.events():
                        if isinstance(event, frames.PresenceEvent):
                            return event.status
                raise AssertionError("no presence event")

            await ann_b.connect()  # on node b: the watcher on node a hears of it
            assert await next_presence() == "online"
            await ann_a.connect()  # a second connection, another node: no event
            await ann_b.close()  # still connected on a: no event
            assert await watcher.watch_presence(["ann"]) == {"ann": "online"}
            assert watcher._events.empty()
            ann_a2 = Client(b.url, token=ann_a.token)
            await ann_a2.connect()  # ann is now on both nodes again
            await ann_a.close()
            b.stop(signal.SIGKILL)  # ann's last connection dies with its node
            assert await next_presence() == "offline"  # after presence_ttl, from node a
            await ann_a2.close()
    finally:
        for node in (a, b):
            node.stop()
        redis.kill()
        await drop_database(pg)
