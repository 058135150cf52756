"""Delivering outgoing webhooks (core.outgoing) durably, in order, once.

A hook's queue is its channel's log: nothing is copied on the send path, and
a message is in the queue as soon as it is committed. The outbox (a row per
hook, models.Outbox) says how far delivery has got: its cursor moves past a
message only once its receiver answered 2xx, or once its last attempt failed
and it became a dead letter. A crash between the answer and the cursor's
write sends that message again, with the same `Idempotency-Key`, so a
receiver that honours it acts once; what its answer posts has that key as
its client_id, so it is posted once too.

Each hook has its own task and at most one request in flight, so messages
arrive in order and a slow or dead receiver holds up only its own hook,
never another or the chat. A failed attempt is retried after an exponential
back-off with jitter (`backoff`), `Limits.hook_attempts` times in all; then
the message is a dead letter and the next one goes.

In a cluster every node runs a `Deliveries`, and the outbox's lease (taken
and renewed by conditional writes, `LEASE` seconds) makes one node at a time
the hook's sender; when that node dies another takes over once the lease has
run out, from the cursor. A node that stops gives its leases back, so a
restart carries on at once. Sends on this node wake its hooks at once
(`wake`); other nodes' sends are seen within `POLL` seconds. The Lambda
deployment has no long-lived tasks: a scheduled function calls `sweep`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import secrets
import urllib.parse
from collections.abc import Iterable
from typing import TYPE_CHECKING

from hubbub.core import outgoing
from hubbub.core.models import DeadLetter, Integration, Outbox, StoredMessage, User
from hubbub.core.ports import OutboundAnswer, OutboundError, StoreError
from hubbub.protocol.errors import ChatError, ErrorCode

if TYPE_CHECKING:
    from hubbub.core.hub import Hub

log = logging.getLogger("hubbub.delivery")

LEASE = 30.0  # seconds a node holds a hook's outbox between renewals
POLL = 2.0  # seconds between looks at a hook's channel without a local wake-up
RELIST = 10.0  # seconds between looks for hooks made or deleted on other nodes
BATCH = 100  # log entries read at a time
MAX_BACKOFF = 3600.0  # seconds: the longest wait between two attempts
MAX_ERROR = 300  # characters of an attempt's error kept


def backoff(attempts: int, base: float, rng: random.Random) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: `base`
    doubling each time, at most `MAX_BACKOFF`, less a random part of up to
    half (jitter), so receivers coming back are not all hit at once."""
    return float(min(MAX_BACKOFF, base * 2.0 ** (attempts - 1)) * rng.uniform(0.5, 1.0))


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class Deliveries:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        # Names this process in leases: unique, so a restarted node is a new owner.
        self.owner = f"{os.getpid()}-{secrets.token_hex(6)}"
        self.rng = random.Random()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._hooks: dict[str, Integration] = {}
        self._wakes: dict[str, asyncio.Event] = {}
        self._relist: asyncio.Event | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._authors: dict[str, User | None] = {}

    # --- running on a server -----------------------------------------------------------

    def start(self) -> None:
        """Deliver in the background until `stop` (nothing without `outbound`)."""
        if self.hub.outbound is None or self._supervisor is not None:
            return
        self._relist = asyncio.Event()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self) -> None:
        """Stop, and give back the leases this node holds."""
        tasks = [t for t in (self._supervisor, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._supervisor = None
        await self._release(list(self._tasks))
        self._tasks.clear()

    def wake(self, channel_ids: Iterable[int]) -> None:
        """Messages were committed in these channels: their hooks look now."""
        if not self._hooks:
            return
        wanted = set(channel_ids)
        for hook in self._hooks.values():
            event = self._wakes.get(hook.id)
            if event is not None and hook.channel_id in wanted:
                event.set()

    def changed(self) -> None:
        """A hook was made or deleted here: look for it now, not in RELIST."""
        if self._relist is not None:
            self._relist.set()

    async def _supervise(self) -> None:
        assert self._relist is not None
        while True:
            self._relist.clear()
            try:
                self._sync(await self._outgoing())
            except StoreError as exc:
                log.warning("outgoing hooks not listed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._relist.wait(), RELIST)

    async def _outgoing(self) -> list[Integration]:
        every = await self.hub.store.integrations()
        return [i for i in every if i.kind == "outgoing" and i.channel_id is not None]

    def _sync(self, hooks: list[Integration]) -> None:
        """A task for each hook, none for a deleted one."""
        current = {h.id: h for h in hooks}
        for hook_id in [i for i in self._tasks if i not in current]:
            self._tasks.pop(hook_id).cancel()
            self._wakes.pop(hook_id, None)
        self._hooks = current
        for hook_id, hook in current.items():
            if hook_id not in self._tasks:
                self._wakes[hook_id] = asyncio.Event()
                self._tasks[hook_id] = asyncio.get_running_loop().create_task(self._run(hook))

    async def _run(self, hook: Integration) -> None:
        wake = self._wakes[hook.id]
        while True:
            wake.clear()  # before the round: a send during it wakes the next
            try:
                pause = await self._round(hook, asyncio.get_running_loop().time() + LEASE / 2)
            except StoreError as exc:
                log.warning("hook %s: storage unavailable: %s", hook.id, exc)
                pause = POLL
            except Exception:  # one hook's surprise must not end its deliveries for good
                log.exception("hook %s: delivery failed", hook.id)
                pause = POLL
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), pause)

    async def _release(self, hook_ids: list[str]) -> None:
        for hook_id in hook_ids:
            try:
                held = await self.hub.store.outbox(hook_id)
                if held is not None and held.lease_owner == self.owner:
                    await self.hub.store.save_outbox(dataclasses.replace(held, lease_until=0))
            except StoreError as exc:  # it runs out by itself
                log.warning("hook %s: lease not given back: %s", hook_id, exc)

    # --- one pass, for a scheduled function ---------------------------------------------

    async def sweep(self, seconds: float) -> None:
        """Deliver what every hook has waiting, for at most about `seconds`
        (each hook's receiver is called one message at a time, the hooks side
        by side); then give the leases back."""
        if self.hub.outbound is None:
            return
        hooks = await self._outgoing()
        until = asyncio.get_running_loop().time() + seconds

        async def drain(hook: Integration) -> None:
            while asyncio.get_running_loop().time() < until:
                if await self._round(hook, until) > 0:
                    return  # caught up, backing off, or another holds it

        await asyncio.gather(*(drain(h) for h in hooks))
        await self._release([h.id for h in hooks])

    # --- delivering ---------------------------------------------------------------------

    async def _round(self, hook: Integration, until: float) -> float:
        """Deliver `hook`'s messages while its lease lasts (at most until
        `until`, loop time); the seconds to wait before the next round (0:
        go on at once, the lease renewed)."""
        assert hook.channel_id is not None
        store = self.hub.store
        loop = asyncio.get_running_loop()
        now = self.hub.clock()
        state = await store.claim_outbox(
            hook.id, self.owner, _ms(now), _ms(now + LEASE), int(hook.config.get("after", 0))
        )
        if state is None:
            return POLL  # another node delivers it
        while loop.time() < until:
            wait = (state.next_at - _ms(self.hub.clock())) / 1000
            if wait > 0:
                return min(wait, LEASE / 3)  # backing off; keep the lease meanwhile
            entries = await store.log_after(hook.channel_id, state.cursor, BATCH)
            passed = state.cursor
            for entry in entries:
                trigger = None if entry.is_change else await self._takes(hook, entry.message)
                if trigger is not None:
                    moved = dataclasses.replace(state, cursor=passed)
                    after = await self._deliver(hook, moved, entry.message, trigger)
                    if after is None:
                        return POLL  # the lease was lost: someone else goes on
                    state = after
                    break
                passed = entry.seq
            else:
                if passed != state.cursor:
                    state = dataclasses.replace(state, cursor=passed)
                    if not await store.save_outbox(state):
                        return POLL
                if len(entries) < BATCH:
                    return POLL  # caught up: a wake-up or the next poll
        return 0.0

    async def _takes(self, hook: Integration, message: StoredMessage) -> str | None:
        """The message's trigger word for `hook`, None if it skips it."""
        trigger = outgoing.trigger_word(hook, message)
        if trigger is None or message.author is None:
            return trigger
        if outgoing.is_answer(message):
            return None  # a hook's answer: two hooks must not answer each other for ever
        author = await self._author(message.author)
        return None if author is None or author.bot else trigger

    async def _author(self, username: str) -> User | None:
        if username not in self._authors:
            if len(self._authors) > 10_000:
                self._authors.clear()
            self._authors[username] = await self.hub.store.get_user_by_name(username)
        return self._authors[username]

    async def _deliver(
        self, hook: Integration, state: Outbox, message: StoredMessage, trigger: str
    ) -> Outbox | None:
        """One attempt at `message`; the outbox as saved after it (None: the
        lease was lost, nothing saved)."""
        assert self.hub.outbound is not None
        author = await self._author(message.author) if message.author else None
        domain = urllib.parse.urlsplit(self.hub.public_url).hostname or ""
        req = outgoing.request(
            hook,
            message,
            author.id if author else 0,
            trigger,
            team_domain=domain,
            now=self.hub.clock(),
        )
        error = ""
        got: OutboundAnswer | None = None
        try:
            got = await self.hub.outbound.post(
                hook.config["url"],
                req.body,
                req.headers,
                timeout=outgoing.TIMEOUT,
                max_bytes=outgoing.MAX_ANSWER,
            )
            if not 200 <= got.status < 300:
                error = f"its server answered {got.status}"
        except OutboundError as exc:
            error = str(exc)
        now = _ms(self.hub.clock())
        renewed = now + _ms(LEASE)

        def past(note: str, delivered: int, dead: int) -> Outbox:
            """The outbox once the cursor is past `message`."""
            return dataclasses.replace(
                state,
                cursor=message.seq,
                attempts=0,
                next_at=0,
                last_error=note,
                delivered=state.delivered + delivered,
                dead=state.dead + dead,
                lease_until=renewed,
            )

        if got is not None and not error:
            done = past(await self._answer(hook, message, got), 1, 0)
            return done if await self.hub.store.save_outbox(done) else None
        attempts = state.attempts + 1
        error = error[:MAX_ERROR]
        if attempts >= self.hub.limits.hook_attempts:
            log.warning(
                "hook %s gave up on message %d of #%s after %d attempts: %s",
                hook.id,
                message.seq,
                message.channel,
                attempts,
                error,
            )
            letter = DeadLetter(hook.id, message.seq, attempts, error, now)
            dead = past(error, 0, 1)
            return dead if await self.hub.store.save_outbox(dead, letter) else None
        pause = backoff(attempts, self.hub.limits.hook_retry_seconds, self.rng)
        retry = dataclasses.replace(
            state,
            attempts=attempts,
            next_at=now + _ms(pause),
            last_error=error,
            lease_until=renewed,
        )
        return retry if await self.hub.store.save_outbox(retry) else None

    async def _answer(self, hook: Integration, message: StoredMessage, got: OutboundAnswer) -> str:
        """Post what a receiver's 2xx answer asks, as the hook's account, in
        the message's thread if it was a reply; a note if nothing could be."""
        try:
            reply = outgoing.reply_of(got, self.hub.limits.max_message_chars)
        except ValueError as exc:
            return str(exc)
        if reply is None:
            return ""
        try:
            poster = await self.hub.user_by_id(hook.user_id)
            for attempt in range(3):
                try:
                    await self.hub.send(
                        poster,
                        message.channel,
                        reply.text,
                        outgoing.delivery_id(hook, message.seq),
                        thread_root=message.thread_root,
                        shown_name=reply.shown_name,
                    )
                    return ""
                except ChatError as exc:
                    if exc.code != ErrorCode.rate_limited or attempt == 2:
                        raise
                    await asyncio.sleep(min(exc.retry_after or 1.0, 5.0))
        except ChatError as exc:
            return f"its answer was not posted: {exc.message}"[:MAX_ERROR]
        return ""
