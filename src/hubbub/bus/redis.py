"""Redis pub/sub bus: every node receives the events for the topics its
clients follow. Redis is only a fan-out hint; the store stays the truth, so a
lost connection is survived by reconnecting, re-subscribing, and telling the
node (`on_reconnect`) that it may have missed events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hubbub.bus.base import BusError, Deliver

log = logging.getLogger("hubbub.bus.redis")

PREFIX = "hubbub:"


class RedisBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self.redis = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=None)
        self._deliver: Deliver | None = None
        self._topics: set[str] = set()
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
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.redis.aclose()

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise BusError(f"redis unreachable: {exc}") from exc
        if not self._connected.is_set():
            raise BusError("redis subscriber is reconnecting")

    async def publish(self, topic: str, data: bytes) -> None:
        try:
            await self.redis.publish(PREFIX + topic, data)
        except (RedisError, OSError) as exc:
            raise BusError(f"publish failed: {exc}") from exc

    async def subscribe(self, topic: str) -> None:
        self._topics.add(topic)
        if self._pubsub is not None and self._connected.is_set():
            # On failure the reader reconnects and subscribes to every topic.
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.subscribe(PREFIX + topic)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)
        if self._pubsub is not None and self._connected.is_set():
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(PREFIX + topic)

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
                if self._topics:
                    await pubsub.subscribe(*(PREFIX + t for t in self._topics))
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
        n = len(PREFIX)
        while True:
            msg = await pubsub.get_message(timeout=None)
            if msg is None or msg.get("type") != "message":
                continue
            channel = msg["channel"]
            topic = (channel.decode() if isinstance(channel, bytes) else channel)[n:]
            if self._deliver is not None and topic in self._topics:
                self._deliver(topic, msg["data"])


_KEY = "hubbub:presence:"
_ALL = "hubbub:presence:all"


class RedisDirectory:
    """Per user, a sorted set of the nodes that have them, scored by expiry;
    plus one set of every (user, node) entry, for finding the expired ones."""

    def __init__(self, url: str, ttl: float, node_id: str | None = None) -> None:
        # A blocking pool: a burst of presence updates (many clients closing
        # at once) waits for a connection instead of failing "Too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=32, timeout=10, socket_connect_timeout=2
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self.ttl = ttl
        self.node = node_id or uuid.uuid4().hex[:12]

    async def _card_after(self, user_id: int, *ops: tuple[Any, ...]) -> int:
        now = time.time()
        key = f"{_KEY}{user_id}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for op in ops:
                    getattr(pipe, op[0])(*op[1:])
                pipe.zremrangebyscore(key, "-inf", now)
                pipe.zcard(key)
                results = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BusError(f"presence directory unreachable: {exc}") from exc
        return int(results[-1])

    async def online(self, user_id: int) -> bool:
        expires = time.time() + self.ttl
        key, entry = f"{_KEY}{user_id}", f"{user_id}:{self.node}"
        return (
            await self._card_after(
                user_id,
                ("zadd", key, {self.node: expires}),
                ("zadd", _ALL, {entry: expires}),
            )
            == 1
        )

    async def offline(self, user_id: int) -> bool:
        key, entry = f"{_KEY}{user_id}", f"{user_id}:{self.node}"
        return await self._card_after(user_id, ("zrem", key, self.node), ("zrem", _ALL, entry)) == 0

    async def online_among(self, user_ids: Iterable[int]) -> set[int]:
        ids = list(user_ids)
        now = time.time()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for uid in ids:
                    pipe.zcount(f"{_KEY}{uid}", now, "+inf")
                counts = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BusError(f"presence directory unreachable: {exc}") from exc
        return {uid for uid, n in zip(ids, counts, strict=True) if n}

    async def heartbeat(self, user_ids: Iterable[int]) -> list[int]:
        now = time.time()
        expires = now + self.ttl
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for uid in user_ids:
                    pipe.zadd(f"{_KEY}{uid}", {self.node: expires})
                    pipe.zadd(_ALL, {f"{uid}:{self.node}": expires})
                await pipe.execute()
            gone = []
            for raw in await self.redis.zrangebyscore(_ALL, "-inf", now):
                entry = raw.decode() if isinstance(raw, bytes) else str(raw)
                # ZREM succeeds on one node only: that node announces it.
                if not await self.redis.zrem(_ALL, entry):
                    continue
                uid_text, _, node = entry.partition(":")
                if await self._card_after(int(uid_text), ("zrem", f"{_KEY}{uid_text}", node)) == 0:
                    gone.append(int(uid_text))
            return gone
        except (RedisError, OSError) as exc:
            raise BusError(f"presence directory unreachable: {exc}") from exc

    async def close(self) -> None:
        await self.redis.aclose()
