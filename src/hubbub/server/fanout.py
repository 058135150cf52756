"""Local fan-out: which connections of this process follow which bus topic, and
the hot path that writes one event to all of them.

`deliver` is the bus callback. It builds the WebSocket frame once and calls
`transport.write` for each live subscriber: no await, no task, no per-recipient
encoding. A subscriber that cannot keep up is cut off by its transport's
high-water mark (see `Connection.pause_writing`), not checked here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from hubbub.bus.base import Bus
from hubbub.core.events import tutorial_messages
from hubbub.protocol.codec import encode
from hubbub.server.wsframe import text_frame

if TYPE_CHECKING:
    from hubbub.server.connection import Connection

log = logging.getLogger("hubbub.fanout")


class Topic:
    __slots__ = ("live", "syncing", "tutorial")

    def __init__(self) -> None:
        # Dicts, not sets: insertion order makes delivery order reproducible.
        self.live: dict[Connection, None] = {}
        # Connections replaying history: live events wait here until the
        # replay is written, so nothing arrives out of order or twice.
        self.syncing: dict[Connection, list[bytes]] = {}
        # S1 tutorial connections get `{"messages": [...]}` instead.
        self.tutorial: dict[Connection, None] = {}

    def empty(self) -> bool:
        return not (self.live or self.syncing or self.tutorial)


class Fanout:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.topics: dict[str, Topic] = {}
        self._bus_tasks: set[asyncio.Task[None]] = set()
        # Called before delivery with every event, so the gateway can act on
        # the few that change subscriptions (see Gateway._control).
        self.control: Callable[[str, bytes], None] | None = None

    def deliver(self, topic: str, data: bytes) -> None:
        t = self.topics.get(topic)
        if t is None:
            return
        if self.control is not None:
            self.control(topic, data)
        if t.live:
            frame = text_frame(data)
            # A snapshot: a write may trip a slow consumer, which unsubscribes
            # itself synchronously from this very dict.
            for conn in tuple(t.live):
                conn.transport.write(frame)
        for buffer in t.syncing.values():
            buffer.append(data)
        if t.tutorial:
            event = orjson.loads(data)
            if event.get("type") == "message":
                author = event["author"]
                name = author["username"] or author["display_name"]
                frame = text_frame(encode(tutorial_messages([(name, event["text"])])))
                for conn in tuple(t.tutorial):
                    conn.transport.write(frame)

    async def _ensure(self, topic: str) -> Topic:
        t = self.topics.get(topic)
        if t is None:
            t = self.topics[topic] = Topic()
            await self.bus.subscribe(topic)
        return t

    async def add_live(self, topic: str, conn: Connection) -> None:
        t = await self._ensure(topic)
        if conn.is_open:  # it may have closed while the bus subscribed
            t.live[conn] = None

    async def add_tutorial(self, topic: str, conn: Connection) -> None:
        t = await self._ensure(topic)
        if conn.is_open:
            t.tutorial[conn] = None

    async def start_sync(self, topic: str, conn: Connection) -> list[bytes]:
        """Buffer live events for `conn` until `finish_sync`; return the buffer."""
        t = await self._ensure(topic)
        t.live.pop(conn, None)
        buffer: list[bytes] = []
        if conn.is_open:
            t.syncing[conn] = buffer
        return buffer

    def finish_sync(self, topic: str, conn: Connection) -> list[bytes]:
        """Make `conn` live; return what was buffered meanwhile (to be written
        by the caller before anything else can arrive)."""
        t = self.topics.get(topic)
        if t is None or conn not in t.syncing:  # closed during the replay
            return []
        buffer = t.syncing.pop(conn)
        t.live[conn] = None
        return buffer

    def remove(self, topic: str, conn: Connection) -> None:
        t = self.topics.get(topic)
        if t is None:
            return
        t.live.pop(conn, None)
        t.syncing.pop(conn, None)
        t.tutorial.pop(conn, None)
        if t.empty():
            del self.topics[topic]
            task = asyncio.get_running_loop().create_task(self._unsubscribe(topic))
            self._bus_tasks.add(task)
            task.add_done_callback(self._bus_tasks.discard)

    async def _unsubscribe(self, topic: str) -> None:
        if topic in self.topics:  # re-subscribed meanwhile
            return
        try:
            await self.bus.unsubscribe(topic)
        except Exception:
            log.warning("bus unsubscribe %s failed", topic, exc_info=True)
