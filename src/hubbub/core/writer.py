"""Group commit: sends that arrive while a transaction is in flight are stored
together in the next one. One writer per process keeps per-channel publish
order equal to `seq` order, and the ack still waits for the commit.

Changes to stored messages (edits, deletes) and thread replies take their
seqs from the same counter, so they go through the same queue: each is
committed alone, between the batches around it, and published before the next
batch is. Queue order is still commit order, and publish order still `seq`
order. (Replies are committed alone because each takes two places, its own and
its root's change; plain sends, the hot path, keep their batch.)"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hubbub.core.models import (
    AppendRejected,
    Changed,
    ChangeRefused,
    MessageChange,
    NewMessage,
    NewReply,
    Replied,
    StoredMessage,
)
from hubbub.core.ports import Store, StoreError

log = logging.getLogger("hubbub.writer")
R = TypeVar("R")

# What a send becomes: a message (a reply: Replied), or why it was not stored.
Result = StoredMessage | AppendRejected | Replied | ChangeRefused
Committed = Callable[[list[StoredMessage]], Awaitable[None]]
ChangeCommitted = Callable[[Changed], Awaitable[None]]
ReplyCommitted = Callable[[Replied], Awaitable[None]]


@dataclasses.dataclass(frozen=True, slots=True)
class ChangeJob:
    channel_id: int
    seq: int
    author_id: int
    change: MessageChange


Job = (
    tuple[NewMessage, "asyncio.Future[Result]"]
    | tuple[NewReply, "asyncio.Future[Result]"]
    | tuple[ChangeJob, "asyncio.Future[Changed | ChangeRefused]"]
)


class GroupCommitWriter:
    def __init__(
        self,
        store: Store,
        on_committed: Committed,
        on_changed: ChangeCommitted | None = None,
        on_replied: ReplyCommitted | None = None,
        max_batch: int = 256,
    ) -> None:
        self.store = store
        self.on_committed = on_committed
        self.on_changed = on_changed
        self.on_replied = on_replied
        self.max_batch = max_batch
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._held: Job | None = None  # a change taken from the queue while batching
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hubbub-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def submit_nowait(self, message: NewMessage) -> asyncio.Future[Result]:
        """Queue a message; the future resolves after its batch commits (and
        was published). Queue order is commit order."""
        fut: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((message, fut))
        return fut

    def submit_change(self, job: ChangeJob) -> asyncio.Future[Changed | ChangeRefused]:
        """Queue a change; the future resolves after it commits (and was
        published)."""
        fut: asyncio.Future[Changed | ChangeRefused] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((job, fut))
        return fut

    def submit_reply(self, reply: NewReply) -> asyncio.Future[Result]:
        """Queue a thread reply; the future resolves after it commits (and
        was published), to Replied or the refusal."""
        fut: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((reply, fut))
        return fut

    async def _next(self) -> Job:
        held, self._held = self._held, None
        return held if held is not None else await self._queue.get()

    async def _run(self) -> None:
        while True:
            first = await self._next()
            if isinstance(first[0], ChangeJob):
                await self._change(first[0], first[1])
                continue
            if isinstance(first[0], NewReply):
                await self._reply(first[0], first[1])
                continue
            batch: list[tuple[NewMessage, asyncio.Future[Result]]] = [(first[0], first[1])]
            while len(batch) < self.max_batch and not self._queue.empty():
                job = self._queue.get_nowait()
                if not isinstance(job[0], NewMessage):
                    self._held = job  # committed after this batch, in queue order
                    break
                batch.append((job[0], job[1]))
            await self._commit(batch)

    async def _change(self, job: ChangeJob, fut: asyncio.Future[Changed | ChangeRefused]) -> None:
        def publish(result: Changed | ChangeRefused) -> Awaitable[None] | None:
            if isinstance(result, Changed) and result.seq is not None and self.on_changed:
                return self.on_changed(result)
            return None

        commit = self.store.change_message(job.channel_id, job.seq, job.author_id, job.change)
        await self._alone("change", commit, fut, publish)

    async def _reply(self, reply: NewReply, fut: asyncio.Future[Result]) -> None:
        def publish(result: Replied | ChangeRefused) -> Awaitable[None] | None:
            if isinstance(result, Replied) and result.root_seq is not None and self.on_replied:
                return self.on_replied(result)
            return None

        await self._alone("reply", self.store.append_reply(reply), fut, publish)

    async def _alone(
        self,
        what: str,
        commit: Awaitable[R],
        fut: asyncio.Future[Any],
        publish: Callable[[R], Awaitable[None] | None],
    ) -> None:
        """Commit one job on its own, publish what it committed, then resolve
        its future (so an answer never precedes the event)."""
        try:
            result = await commit
        except Exception as exc:
            if not isinstance(exc, StoreError):
                log.exception("committing a %s failed", what)
            if not fut.done():
                fut.set_exception(exc)
            return
        published = publish(result)
        if published is not None:
            try:
                await published
            except Exception:
                log.exception("publishing a committed %s failed", what)
        if not fut.done():
            fut.set_result(result)

    async def _commit(self, batch: list[tuple[NewMessage, asyncio.Future[Result]]]) -> None:
        try:
            results = await self.store.append_messages([m for m, _ in batch])
        except Exception as exc:
            if not isinstance(exc, StoreError):  # a bug: fail these sends, keep the writer alive
                log.exception("append_messages failed")
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        fresh = [r for r in results if isinstance(r, StoredMessage) and not r.duplicate]
        try:
            await self.on_committed(fresh)
        except Exception:
            # Committed is committed: the ack still goes out, and
            # subscribers catch up from the store when they resume.
            log.exception("publishing committed messages failed")
        for (_, fut), result in zip(batch, results, strict=True):
            if not fut.done():
                fut.set_result(result)
