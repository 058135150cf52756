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
import re
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from hubbub.bus.base import Bus
from hubbub.core.events import tutorial_pushes
from hubbub.server.wsframe import text_frame

if TYPE_CHECKING:
    from hubbub.server.connection import Connection

log = logging.getLogger("hubbub.fanout")


class Catchup(Protocol):
    """Where a node reads what the bus did not bring it (the store, via the hub)."""

    async def latest_seq(self, channel_id: int) -> int: ...

    async def events_after(self, channel_id: int, seq: int, limit: int) -> list[tuple[int, bytes]]:
        """Encoded `message` events with seq > `seq`, oldest first."""


_MESSAGE = b'{"type":"message"'
# Channel names cannot contain quotes, so the first "seq" is the event's own.
_SEQ = re.compile(rb'"seq":(\d+)')
FILL_PAGE = 500


class Topic:
    __slots__ = ("channel_id", "filling", "last_seq", "live", "ready", "syncing", "tutorial")

    def __init__(self, channel_id: int | None) -> None:
        # Dicts, not sets: insertion order makes delivery order reproducible.
        self.live: dict[Connection, None] = {}
        # Connections replaying history: live events wait here until the
        # replay is written, so nothing arrives out of order or twice.
        self.syncing: dict[Connection, list[bytes]] = {}
        # S1 tutorial connections get `{"messages": [...]}` instead.
        self.tutorial: dict[Connection, None] = {}
        # Channel topics only: the last seq delivered on this node, and the
        # events held back while a gap is filled from the store.
        self.channel_id = channel_id
        self.last_seq = 0
        self.filling: list[bytes] | None = None
        self.ready = asyncio.Event()

    def empty(self) -> bool:
        return not (self.live or self.syncing or self.tutorial)


class Fanout:
    def __init__(self, bus: Bus, catchup: Catchup | None = None) -> None:
        self.bus = bus
        self.catchup = catchup
        self.topics: dict[str, Topic] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Called before delivery with every event, so the gateway can act on
        # the few that change subscriptions (see Gateway._control).
        self.control: Callable[[str, bytes], None] | None = None

    def deliver(self, topic: str, data: bytes) -> None:
        """The bus callback. `data` is one event, or for channel topics possibly
        several, one per line (a committed batch). Per channel, events leave in
        `seq` order, each once: a duplicate is dropped, and a gap (a lost or
        reordered bus message) is filled from the store before anything after
        it is delivered."""
        t = self.topics.get(topic)
        if t is None:
            return
        if t.channel_id is None:
            self._write(topic, t, [data])
            return
        passed: list[bytes] = []
        for event in data.split(b"\n"):
            if self._admit(topic, t, event):
                passed.append(event)
        if passed:
            self._write(topic, t, passed)

    def _admit(self, topic: str, t: Topic, event: bytes) -> bool:
        """Decide whether a channel event goes out now (seq order, once)."""
        if not event.startswith(_MESSAGE):
            return t.filling is None
        if t.filling is not None:
            t.filling.append(event)
            return False
        seq = _seq_of(event)
        if not t.ready.is_set():  # nobody follows it yet: note the seq, no "gap"
            t.last_seq = max(t.last_seq, seq)
            return False
        if seq <= t.last_seq:
            return False
        if seq > t.last_seq + 1 and self.catchup is not None:
            t.filling = [event]
            self._spawn(self._fill(topic, t))
            return False
        t.last_seq = seq
        return True

    def _write(self, topic: str, t: Topic, events: list[bytes]) -> None:
        if self.control is not None:
            for event in events:
                self.control(topic, event)
        if t.live:
            # One buffer for the whole batch, written with one call per
            # connection: the per-recipient cost is a syscall, not a frame.
            frame = b"".join([text_frame(e) for e in events])
            # A snapshot: a write may trip a slow consumer, which unsubscribes
            # itself synchronously from this very dict.
            for conn in tuple(t.live):
                conn.transport.write(frame)
        for buffer in t.syncing.values():
            buffer.extend(events)
        if t.tutorial:
            pushes = tutorial_pushes(events)
            if pushes:
                frame = b"".join([text_frame(p) for p in pushes])
                for conn in tuple(t.tutorial):
                    conn.transport.write(frame)

    async def _fill(self, topic: str, t: Topic) -> None:
        assert self.catchup is not None and t.channel_id is not None
        try:
            while self.topics.get(topic) is t:
                rows = await self.catchup.events_after(t.channel_id, t.last_seq, FILL_PAGE)
                fresh = []
                for seq, data in rows:
                    if seq > t.last_seq:
                        t.last_seq = seq
                        fresh.append(data)
                if fresh:
                    self._write(topic, t, fresh)
                if len(rows) < FILL_PAGE:
                    break
        except Exception:
            # Deliver what we hold anyway: clients see the hole in `seq` and
            # ask for a replay themselves when the store is back.
            log.warning("filling a gap in %s failed", topic, exc_info=True)
            if t.filling:
                t.last_seq = min(_seq_of(d) for d in t.filling) - 1
        finally:
            held, t.filling = t.filling or [], None
            for data in held:
                self.deliver(topic, data)

    def resync(self) -> None:
        """The bus may have dropped events (it reconnected): check every
        channel against the store."""
        for topic, t in self.topics.items():
            if t.channel_id is not None and t.filling is None and self.catchup is not None:
                t.filling = []
                self._spawn(self._fill(topic, t))

    async def _ensure(self, topic: str) -> Topic:
        t = self.topics.get(topic)
        if t is None:
            channel_id = int(topic[2:]) if topic.startswith("c:") else None
            t = self.topics[topic] = Topic(channel_id)
            try:
                await self.bus.subscribe(topic)
                if channel_id is not None and self.catchup is not None:
                    # Subscribed first, then read: nothing committed after this
                    # read can be missed, and nothing before it is delivered.
                    t.last_seq = max(t.last_seq, await self.catchup.latest_seq(channel_id))
            finally:
                t.ready.set()
        else:
            await t.ready.wait()
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
            self._spawn(self._unsubscribe(topic))

    async def _unsubscribe(self, topic: str) -> None:
        if topic in self.topics:  # re-subscribed meanwhile
            return
        try:
            await self.bus.unsubscribe(topic)
        except Exception:
            log.warning("bus unsubscribe %s failed", topic, exc_info=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _seq_of(data: bytes) -> int:
    m = _SEQ.search(data)
    return int(m.group(1)) if m else 0
