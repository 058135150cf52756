"""Group commit: sends that arrive while a transaction is in flight are stored
together in the next one. One writer per process keeps per-channel publish
order equal to `seq` order, and the ack still waits for the commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from hubbub.core.models import AppendRejected, NewMessage, StoredMessage
from hubbub.core.ports import Store, StoreError

log = logging.getLogger("hubbub.writer")

Result = StoredMessage | AppendRejected
Committed = Callable[[list[StoredMessage]], Awaitable[None]]


class GroupCommitWriter:
    def __init__(self, store: Store, on_committed: Committed, max_batch: int = 256) -> None:
        self.store = store
        self.on_committed = on_committed
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[NewMessage, asyncio.Future[Result]]] = asyncio.Queue()
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

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await self.store.append_messages([m for m, _ in batch])
            except StoreError as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            except Exception as exc:  # a bug: fail these sends, keep the writer alive
                log.exception("append_messages failed")
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
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
