"""The Bus contract: every backend must pass every test here."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from hubbub.bus import Bus, BusError, open_bus
from hubbub.bus.redis import RedisBus
from services import PrivateRedis, require_redis
from support import WAIT


class Inbox:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self._changed = asyncio.Event()

    def __call__(self, topic: str, data: bytes) -> None:
        self.items.append((topic, data))
        self._changed.set()

    async def wait_for(self, n: int) -> list[tuple[str, bytes]]:
        async with asyncio.timeout(WAIT):
            while len(self.items) < n:
                self._changed.clear()
                await self._changed.wait()
        return self.items


@pytest.fixture(params=["memory", "redis"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Bus]]:
    """Buses sharing one backend, as the nodes of one deployment would."""
    url = "memory://" if request.param == "memory" else require_redis()
    shared: Bus | None = None
    made: list[Bus] = []

    def make() -> Bus:
        nonlocal shared
        if url == "memory://":  # one process: every "node" is the same bus
            shared = shared or open_bus(url)
            return shared
        bus = open_bus(url)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.close()


async def started(make: Callable[[], Bus]) -> tuple[Bus, Inbox]:
    bus, inbox = make(), Inbox()
    await bus.start(inbox)
    if isinstance(bus, RedisBus):
        await bus.wait_connected(WAIT)
    return bus, inbox


def topic() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def test_delivers_bytes_in_order_to_subscribers_only(make_bus: Callable[[], Bus]) -> None:
    bus, inbox = await started(make_bus)
    t, other = topic(), topic()
    await bus.subscribe(t)
    payloads = [b"\x00\xff binary-safe", *(f'{{"n":{i}}}'.encode() for i in range(50))]
    await bus.publish(other, b"not for us")
    for p in payloads:
        await bus.publish(t, p)
    got = await inbox.wait_for(len(payloads))
    assert got == [(t, p) for p in payloads]
    await bus.ping()


async def test_publish_many_keeps_order_per_topic(make_bus: Callable[[], Bus]) -> None:
    bus, inbox = await started(make_bus)
    a, b, other = topic(), topic(), topic()
    await bus.subscribe(a)
    await bus.subscribe(b)
    items = [(a, b"a1"), (other, b"not for us"), (b, b"b1"), (a, b"a2"), (b, b"b2")]
    await bus.publish_many(items)
    await bus.publish_many([])
    got = await inbox.wait_for(4)
    for t in (a, b):
        assert [x for x in got if x[0] == t] == [x for x in items if x[0] == t]
    assert len(got) == 4


async def test_unsubscribe_stops_delivery(make_bus: Callable[[], Bus]) -> None:
    bus, inbox = await started(make_bus)
    t, marker = topic(), topic()
    await bus.subscribe(t)
    await bus.subscribe(marker)
    await bus.publish(t, b"one")
    await inbox.wait_for(1)
    await bus.unsubscribe(t)
    await bus.publish(t, b"two")
    await bus.publish(marker, b"after")  # delivered after "two" would have been
    got = await inbox.wait_for(2)
    assert got == [(t, b"one"), (marker, b"after")]


async def test_every_node_receives(make_bus: Callable[[], Bus]) -> None:
    a0 = make_bus()
    if a0 is make_bus():
        pytest.skip("one-process backend: there is only one node")
    (a, inbox_a), (b, inbox_b) = await started(make_bus), await started(make_bus)
    t = topic()
    await a.subscribe(t)
    await b.subscribe(t)
    await a.publish(t, b"hello")
    assert (await inbox_a.wait_for(1))[-1] == (t, b"hello")
    assert (await inbox_b.wait_for(1))[-1] == (t, b"hello")


# --- Redis going away and coming back (a private redis-server, never the shared one)


async def test_redis_restart_resubscribes_and_reports_the_gap() -> None:
    redis = PrivateRedis()
    redis.start()
    bus = RedisBus(redis.url)
    inbox, gaps = Inbox(), asyncio.Event()
    bus.on_reconnect = gaps.set
    await bus.start(inbox)
    try:
        await bus.wait_connected(WAIT)
        t = topic()
        await bus.subscribe(t)
        await bus.publish(t, b"before")
        await inbox.wait_for(1)
        redis.kill()
        with pytest.raises(BusError):
            await bus.publish(t, b"lost")
        redis.start()
        await asyncio.wait_for(gaps.wait(), WAIT)  # the node is told to refill from the store
        await bus.ping()
        await bus.publish(t, b"after")
        assert (await inbox.wait_for(2))[-1] == (t, b"after")
    finally:
        await bus.close()
        redis.kill()
