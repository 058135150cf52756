"""Pushes in `seq` order on the Lambda deployment, with no unnamed holes.

Each invocation that commits messages pushes them itself, so this makes the
invocations take turns per channel (`store.dynamo.order`): in its turn, a
pusher moves the channel's push cursor over its seqs (after which nothing can
be stored at or below them) and pushes what lies between the cursor and its
last seq, in order. A seq with no message there is pushed as a `skipped` frame,
so clients count it as delivered instead of asking for a replay that cannot
fill it.

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
import time
import uuid
from collections.abc import Awaitable, Callable

from hubbub.core.envelope import Envelope
from hubbub.core.replay import fill
from hubbub.store.dynamo import DynamoStore, order
from hubbub.store.dynamo.order import Turn

FENCE_AFTER = 2.0  # seconds a pusher waits for the seqs before its own
POLL = 0.02  # first pause between tries for a turn (doubles, up to MAX_POLL)
MAX_POLL = 0.2

EventsAfter = Callable[[int, int, int], Awaitable[list[Envelope]]]
Push = Callable[[list[Envelope]], Awaitable[None]]


class Sequencer:
    def __init__(self, store: DynamoStore, events_after: EventsAfter) -> None:
        self.store = store
        self.events_after = events_after  # Hub.events_after: stored messages as events

    async def take(self, channel_id: int) -> Turn | None:
        """The channel's turn, waiting for it while someone else holds it
        (at most one lease, so a holder that died is outwaited); None if it
        could not be had."""
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + order.TURN_MS / 1000 + 1
        pause = POLL
        while True:
            turn = await self.store.run_blocking(
                order.take_turn, self.store.tables, channel_id, owner
            )
            if turn is not None or time.monotonic() > deadline:
                return turn
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_POLL)

    async def end(self, turn: Turn) -> None:
        await self.store.run_blocking(order.end_turn, self.store.tables, turn)

    async def ordered(self, channel_id: int, envs: list[Envelope], push: Push) -> bool:
        """Push `envs` (one commit's messages in one channel, in seq order) in
        the channel's order through `push`. False if no turn could be had."""
        first, last = envs[0].seq, envs[-1].seq
        give_up_waiting = time.monotonic() + FENCE_AFTER
        pause = POLL
        while True:
            turn = await self.take(channel_id)
            if turn is None:
                return False
            try:
                done = first - 1 if turn.pushed is None else turn.pushed
                if done >= last:
                    return True  # pushed on our behalf by someone who outwaited us
                if done >= first - 1 or time.monotonic() > give_up_waiting:
                    if not await self.store.run_blocking(
                        order.advance, self.store.tables, turn, last
                    ):
                        return False
                    await push(await self._run(turn, done, envs))
                    return True
            finally:
                await self.end(turn)
            await asyncio.sleep(pause)  # the seqs before ours are not pushed yet
            pause = min(pause * 2, MAX_POLL)

    async def _run(self, turn: Turn, done: int, envs: list[Envelope]) -> list[Envelope]:
        """Every seq after `done` up to our last: ours, the stored messages of
        those we outwaited, and `skipped` for the seqs nobody stored."""
        first = envs[0].seq
        theirs = []
        if done < first - 1:
            stored = await self.events_after(turn.channel_id, done, first - 1 - done)
            # Their events, as the store has them; the gaps are named below.
            theirs = [e for e in stored if e.seq < first and e.kind != "skipped"]
        return fill(turn.channel, done, [e for e in [*theirs, *envs] if e.seq > done])
