"""Local fan-out: which subscribers of this process follow which bus topic,
the hot path that writes one event to all of them, and the hand-over from a
resumed subscription's replay to its live events.

`deliver` is the bus callback. It builds the WebSocket frame once and writes it
to each live subscriber: no await, no task, no per-recipient encoding. A
subscriber that cannot keep up is cut off by its transport's high-water mark
(see `Connection.pause_writing`), not checked here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from hubbub.core import envelope
from hubbub.core.envelope import Envelope
from hubbub.core.models import Channel
from hubbub.core.ports import Bus
from hubbub.server.wsframe import text_frame
from hubbub.session import tutorial
from hubbub.session.driver import Resumed

log = logging.getLogger("hubbub.fanout")


class Subscriber(Protocol):
    """What the fan-out needs of a connection."""

    # The transport's own write: bytes of whole WebSocket frames.
    write: Callable[[bytes], None]

    @property
    def is_open(self) -> bool: ...

    def control(self, env: Envelope) -> None:
        """An event that changes what the subscriber follows (an envelope with
        a `ref`; for a tutorial subscriber, its room's `channel_updated`),
        given before it is written: the connection asks the session layer
        (Engine.control) and may unfollow, or close, on the spot."""


class Catchup(Protocol):
    """Where a node reads what the bus did not bring it (the store, via the hub)."""

    async def latest_seq(self, channel_id: int) -> int: ...

    async def events_after(self, channel_id: int, seq: int, limit: int) -> list[Envelope]:
        """Stored message events with seq > `seq`, oldest first."""

    async def missed(self, channel: Channel, since: int) -> tuple[list[Envelope], bool]:
        """What a client resuming at `since` missed, as events, or ([], False)
        if too much."""


FILL_PAGE = 500


class Topic:
    __slots__ = ("channel_id", "filling", "last_seq", "live", "ready", "syncing", "tutorial")

    def __init__(self, channel_id: int | None) -> None:
        # Dicts, not sets: insertion order makes delivery order reproducible.
        self.live: dict[Subscriber, None] = {}
        # Subscribers replaying history: live events wait here until the
        # replay is written, so nothing arrives out of order or twice.
        self.syncing: dict[Subscriber, list[Envelope]] = {}
        # S1 tutorial connections get `{"messages": [...]}` instead.
        self.tutorial: dict[Subscriber, None] = {}
        # Channel topics only: the last seq delivered on this node, and the
        # events held back while a gap is filled from the store.
        self.channel_id = channel_id
        self.last_seq = 0
        self.filling: list[Envelope] | None = None
        # Set while the bus subscription is being made, None once it is: an
        # Event and its waiters' deque cost ~0.9 KB, and every connection
        # follows a topic of its own (its user's), idle or not.
        self.ready: asyncio.Event | None = asyncio.Event()

    def empty(self) -> bool:
        return not (self.live or self.syncing or self.tutorial)


class Fanout:
    def __init__(self, bus: Bus, catchup: Catchup | None = None) -> None:
        self.bus = bus
        self.catchup = catchup
        self.topics: dict[str, Topic] = {}
        # Every subscriber's topics, so one call forgets a closing connection.
        self.following: dict[Subscriber, set[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- delivery ----------------------------------------------------------------

    def deliver(self, topic: str, data: bytes) -> None:
        """The bus callback. `data` is packed envelopes (for channel topics
        possibly several: a committed batch). Per channel, events leave in
        `seq` order, each once: a duplicate is dropped, and a gap (a lost or
        reordered bus message) is filled from the store before anything after
        it is delivered."""
        t = self.topics.get(topic)
        if t is None:
            return
        envs = envelope.unpack(data)
        if t.channel_id is None:
            self._write(t, envs)
            return
        passed = [e for e in envs if self._admit(topic, t, e)]
        if passed:
            self._write(t, passed)

    def _admit(self, topic: str, t: Topic, env: Envelope) -> bool:
        """Decide whether a channel event goes out now (seq order, once)."""
        if not env.seq:  # not in the channel's log: typing, membership...
            return t.filling is None
        if t.filling is not None:
            t.filling.append(env)
            return False
        seq = env.seq
        if t.ready is not None:  # nobody follows it yet: note the seq, no "gap"
            t.last_seq = max(t.last_seq, seq)
            return False
        if seq <= t.last_seq:
            return False
        if seq > t.last_seq + 1 and self.catchup is not None:
            t.filling = [env]
            self._spawn(self._fill(topic, t))
            return False
        t.last_seq = seq
        return True

    def _write(self, t: Topic, envs: list[Envelope]) -> None:
        for env in envs:
            if env.ref:
                for sub in tuple(t.live):
                    sub.control(env)
        if t.live:
            # One buffer for the whole batch, written with one call per
            # connection: the per-recipient cost is a syscall, not a frame.
            frame = b"".join([text_frame(e.frame) for e in envs])
            # A snapshot: a write may trip a slow consumer, which unsubscribes
            # itself synchronously from this very dict.
            for sub in tuple(t.live):
                sub.write(frame)
        for buffer in t.syncing.values():
            buffer.extend(envs)
        if t.tutorial:
            for env in envs:
                if env.kind == "channel_updated":  # a tutorial connection's room changed
                    for sub in tuple(t.tutorial):
                        sub.control(env)
            pushes = tutorial.pushes(envs)
            if pushes:
                frame = b"".join([text_frame(p) for p in pushes])
                for sub in tuple(t.tutorial):
                    sub.write(frame)

    async def _fill(self, topic: str, t: Topic) -> None:
        assert self.catchup is not None and t.channel_id is not None
        try:
            while self.topics.get(topic) is t:
                rows = await self.catchup.events_after(t.channel_id, t.last_seq, FILL_PAGE)
                fresh = []
                for env in rows:
                    if env.seq > t.last_seq:
                        t.last_seq = env.seq
                        fresh.append(env)
                if fresh:
                    self._write(t, fresh)
                if len(rows) < FILL_PAGE:
                    break
        except Exception:
            # Deliver what we hold anyway: clients see the hole in `seq` and
            # ask for a replay themselves when the store is back.
            log.warning("filling a gap in %s failed", topic, exc_info=True)
            if t.filling:
                t.last_seq = min(e.seq for e in t.filling) - 1
        finally:
            held, t.filling = t.filling or [], None
            if held:
                self.deliver(topic, envelope.pack(held))

    def resync(self) -> None:
        """The bus may have dropped events (it reconnected): check every
        channel against the store."""
        for topic, t in self.topics.items():
            if t.channel_id is not None and t.filling is None and self.catchup is not None:
                t.filling = []
                self._spawn(self._fill(topic, t))

    # --- subscriptions -------------------------------------------------------------

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
                ready, t.ready = t.ready, None
                if ready is not None:
                    ready.set()
        elif t.ready is not None:
            await t.ready.wait()
        return t

    def _note(self, topic: str, sub: Subscriber) -> None:
        self.following.setdefault(sub, set()).add(topic)

    async def follow(self, topic: str, sub: Subscriber, *, tutorial: bool = False) -> None:
        t = await self._ensure(topic)
        if sub.is_open:  # it may have closed while the bus subscribed
            (t.tutorial if tutorial else t.live)[sub] = None
            self._note(topic, sub)

    async def resume(
        self, topic: str, sub: Subscriber, channel: Channel, since: int | None
    ) -> Resumed:
        """Follow a channel, first replaying what came after `since` from the
        store: replay, then live, no gap and no duplicate."""
        if since is None:
            await self.follow(topic, sub)
            last = int(min(channel.last_seq, self._published(topic)))
            return {"last_seq": last, "replayed": 0, "recovered": True}
        assert self.catchup is not None, "a fan-out that resumes needs its store"
        t = await self._ensure(topic)
        t.live.pop(sub, None)
        buffer: list[Envelope] = []
        if sub.is_open:
            t.syncing[sub] = buffer
            self._note(topic, sub)
        missed: list[Envelope] = []
        try:
            if since > channel.last_seq:
                missed, recovered = [], False  # the client knows messages we don't
            else:
                missed, recovered = await self.catchup.missed(channel, since)
        except BaseException:
            self.unfollow(topic, sub)
            raise
        # Committed but not yet published on this node: it is on its way live,
        # so replaying it too would deliver it twice.
        published = self._published(topic)
        missed = [e for e in missed if e.seq <= published]
        last = since
        # From here to the end nothing awaits, so no event can slip in between.
        if sub in t.syncing:  # else it closed during the replay
            out = [text_frame(e.frame) for e in missed]
            last = missed[-1].seq if missed else since
            if not recovered:
                last = channel.last_seq
            for env in t.syncing.pop(sub):
                if env.seq:
                    if env.seq <= last:
                        continue
                    last = env.seq
                out.append(text_frame(env.frame))
            t.live[sub] = None
            if out:
                sub.write(b"".join(out))
        elif not recovered:
            last = channel.last_seq
        return {
            "last_seq": int(max(last, min(channel.last_seq, published))),
            "replayed": sum(e.kind != "skipped" for e in missed),
            "recovered": recovered,
        }

    def _published(self, topic: str) -> int | float:
        """The last seq this node delivered in `topic` (unknown: no bound)."""
        t = self.topics.get(topic)
        if t is None or self.catchup is None:
            return float("inf")
        return t.last_seq

    def followed(self, sub: Subscriber) -> set[str]:
        return self.following.get(sub, set())

    def unfollow(self, topic: str, sub: Subscriber) -> None:
        mine = self.following.get(sub)
        if mine is not None:
            mine.discard(topic)
            if not mine:
                del self.following[sub]
        t = self.topics.get(topic)
        if t is None:
            return
        t.live.pop(sub, None)
        t.syncing.pop(sub, None)
        t.tutorial.pop(sub, None)
        if t.empty():
            del self.topics[topic]
            self._spawn(self._unsubscribe(topic))

    def drop(self, sub: Subscriber) -> None:
        """Forget a closing subscriber everywhere; safe to call twice."""
        for topic in list(self.following.get(sub, ())):
            self.unfollow(topic, sub)

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
