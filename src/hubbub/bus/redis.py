"""Redis pub/sub bus: every node receives the events for the topics its
clients follow, carried over a fixed set of shard channels (bus/shards.py).
Redis is only a fan-out hint; the store stays the truth, so a lost connection
is survived by reconnecting, re-subscribing, and telling the node
(`on_reconnect`) that it may have missed events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hubbub.bus import shards
from hubbub.core.ports import BusError, Deliver

log = logging.getLogger("hubbub.bus.redis")

PREFIX = "hubbub:shard:"


def _channel(shard: int) -> str:
    return f"{PREFIX}{shard}"


class RedisBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self.redis = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=None)
        self._deliver: Deliver | None = None
        self._topics: set[str] = set()
        self._shards: dict[int, int] = {}  # shard -> topics followed in it
        self._pubsub: aioredis.client.PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        # Called after a reconnect: events published meanwhile are lost.
        self.on_reconnect: Callable[[], None] | None = None

    async def start(self, deliver: Deliver, resync: Callable[[], None] | None = None) -> None:
        self._deliver = deliver
        self.on_reconnect = resync or self.on_reconnect
        self._reader = asyncio.create_task(self._read_forever(), name="hubbub-redis-bus")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed since redis 8
        await self.redis.aclose()

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise BusError(f"redis unreachable: {exc}") from exc
        if not self._connected.is_set():
            raise BusError("redis subscriber is reconnecting")

    async def publish(self, topic: str, data: bytes) -> None:
        await self.publish_many([(topic, data)])

    async def publish_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        payloads = shards.by_shard(items)
        try:
            if len(payloads) == 1:
                [(shard, payload)] = payloads.items()
                await self.redis.publish(_channel(shard), payload)
            elif payloads:
                pipe = self.redis.pipeline(transaction=False)
                for shard, payload in payloads.items():
                    pipe.publish(_channel(shard), payload)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BusError(f"publish failed: {exc}") from exc

    async def subscribe(self, topic: str) -> None:
        if topic in self._topics:
            return
        self._topics.add(topic)
        shard = shards.shard_of(topic)
        self._shards[shard] = self._shards.get(shard, 0) + 1
        if self._shards[shard] == 1 and self._pubsub is not None and self._connected.is_set():
            # On failure the reader reconnects and subscribes to every shard.
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.subscribe(_channel(shard))

    async def unsubscribe(self, topic: str) -> None:
        if topic not in self._topics:
            return
        self._topics.discard(topic)
        shard = shards.shard_of(topic)
        self._shards[shard] -= 1
        if self._shards[shard] == 0:
            del self._shards[shard]
            if self._pubsub is not None and self._connected.is_set():
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(_channel(shard))

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def _read_forever(self) -> None:
        delay = 0.05
        first = True
        while True:
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                # A subscription needs a live connection; this one keeps the
                # connection open even before any topic exists.
                await pubsub.subscribe(PREFIX + "_keepalive")
                if self._shards:
                    await pubsub.subscribe(*(_channel(shard) for shard in self._shards))
                self._pubsub = pubsub
                self._connected.set()
                if not first and self.on_reconnect is not None:
                    self.on_reconnect()
                first = False
                delay = 0.05
                await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self._connected.is_set():
                    log.warning("redis bus connection lost: %s", exc)
                self._connected.clear()
                self._pubsub = None
                # Back off with jitter so a fleet of nodes does not reconnect in step.
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)

    async def _pump(self, pubsub: aioredis.client.PubSub) -> None:
        while True:
            msg = await pubsub.get_message(timeout=None)
            if msg is None or msg.get("type") != "message" or self._deliver is None:
                continue
            for topic, data in shards.unpack(msg["data"]):
                if topic in self._topics:
                    self._deliver(topic, data)
