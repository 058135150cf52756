"""Pushes in `seq` order on the Lambda deployment, with no unnamed holes.

Each invocation that commits messages pushes them itself, so this makes the
invocations take turns per channel (`store.dynamo.order`): in its turn, a
pusher moves the channel's push cursor over its seqs (after which nothing can
be stored at or below them) and pushes what lies between the cursor and its
last seq, in order. A seq with no message there is pushed as a `skipped` frame,
so clients count it as delivered instead of asking for a replay that cannot
fill it.

Under contention the turns combine: a pusher also pushes what others stored
right after its own seqs (so one turn can carry a burst), and a pusher that
finds the turn taken stops as soon as the cursor has passed its seqs. Without
that, fifty concurrent senders took fifty turns one after another, each
paying the others' polling, and a busy channel fell seconds behind.

A pusher whose predecessors have not pushed yet waits for them, up to
`FENCE_AFTER`; then it pushes on their behalf, what they stored and `skipped`
for the rest. A predecessor that was still committing then finds its seqs
fenced off and takes new ones (`store.dynamo.append`). So the wait is only
paid when an invocation died or failed between taking seqs and pushing them.

A resume takes the channel's turn too (`LambdaConnection.resume`), so that its
replay and the live pushes reach the connection one after the other, not
interleaved.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable

from hubbub.core.envelope import Envelope
from hubbub.core.replay import compact, fill
from hubbub.store.dynamo import DynamoStore, order
from hubbub.store.dynamo.order import Busy, Turn

FENCE_AFTER = 2.0  # seconds a pusher waits for the seqs before its own
POLL = 0.02  # first pause between tries for a turn (doubles, up to MAX_POLL)
MAX_POLL = 0.2
MAX_RUN = 500  # places one turn pushes at most past the cursor (beyond its own)

Push = Callable[[list[Envelope]], Awaitable[None]]


class Sequencer:
    def __init__(self, store: DynamoStore) -> None:
        self.store = store

    async def take(self, channel_id: int) -> Turn | None:
        """The channel's turn, waiting for it while someone else holds it
        (at most one lease, so a holder that died is outwaited); None if it
        could not be had."""
        async with contextlib.aclosing(self._tries(channel_id)) as tries:
            async for got in tries:
                if isinstance(got, Turn):
                    return got
        return None

    async def _tries(self, channel_id: int) -> AsyncGenerator[Turn | Busy, None]:
        """Tries for the turn, with growing pauses between them, until the
        caller stops or nothing has been pushed for longer than a lease (the
        holder died, or the channel is gone)."""
        owner = uuid.uuid4().hex
        pause, progress = POLL, -1
        deadline = time.monotonic() + order.TURN_MS / 1000 + 1
        while True:
            got = await self.store.run_blocking(
                order.take_turn, self.store.tables, channel_id, owner
            )
            yield got
            if isinstance(got, Busy) and got.pushed != progress:
                progress = got.pushed  # the holder is alive: wait another lease
                deadline = time.monotonic() + order.TURN_MS / 1000 + 1
            elif time.monotonic() > deadline:
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_POLL)

    async def end(self, turn: Turn) -> None:
        await self.store.run_blocking(order.end_turn, self.store.tables, turn)

    async def ordered(self, channel_id: int, envs: list[Envelope], push: Push) -> bool:
        """Push `envs` (one commit's messages in one channel, in seq order) in
        the channel's order through `push`. False if no turn could be had."""
        last = envs[-1].seq
        give_up_waiting = time.monotonic() + FENCE_AFTER
        async with contextlib.aclosing(self._tries(channel_id)) as tries:
            async for got in tries:
                if isinstance(got, Busy):
                    if got.pushed >= last:
                        return True  # the holder pushed ours with its own
                    continue
                try:
                    outwaited = time.monotonic() > give_up_waiting
                    if await self._push_in_turn(got, envs, push, outwaited=outwaited):
                        return True
                finally:
                    await self.end(got)
        return False

    async def _push_in_turn(
        self, turn: Turn, envs: list[Envelope], push: Push, *, outwaited: bool
    ) -> bool:
        """Push every seq after the cursor up to our last, and on past it over
        what others have stored since; False (nothing pushed) while the seqs
        before ours may still be coming and we have not outwaited them."""
        first, last = envs[0].seq, envs[-1].seq
        # A cursor never set is 0: the seqs before ours are not pushed yet,
        # even when ours are the first the channel's turn sees (their pushers
        # may be a moment behind us, and they stop once the cursor passes them).
        done = turn.cursor
        if done >= last:
            return True  # pushed on our behalf by a turn before ours
        if done == first - 1 and turn.taken <= last:
            run = envs  # nobody else in the way: the common case costs no read
        else:
            entries = await self.store.log_after(
                turn.channel_id, done, min(turn.taken - done, max(last - done, MAX_RUN))
            )
            # Ours are stored, and the places in our range that hold nothing
            # are final (refused in our commit), so they count as stored.
            stored = {e.seq for e in entries}.union(range(first, last + 1))
            end = done
            while end + 1 in stored:
                end += 1
            if end < last:
                if not outwaited:
                    return False  # the seqs before ours are not stored yet
                end = last
                while end + 1 in stored:
                    end += 1
            # Read back from the store, ours too: a later change folded into
            # one of ours must not be lost by pushing our own older copy.
            run = fill(turn.channel, done, compact(done, [e for e in entries if e.seq <= end]), end)
        if not await self.store.run_blocking(order.advance, self.store.tables, turn, run[-1].seq):
            return False
        await push(run)
        return True
