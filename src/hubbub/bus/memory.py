"""In-process bus: one server process, delivery is a direct call."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hubbub.core.ports import Deliver


class MemoryBus:
    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._topics: set[str] = set()

    async def start(self, deliver: Deliver, resync: Callable[[], None] | None = None) -> None:
        self._deliver = deliver  # nothing is ever lost in-process: no resync

    async def close(self) -> None:
        self._deliver = None

    async def ping(self) -> None:
        return None

    async def publish(self, topic: str, data: bytes) -> None:
        # Synchronous delivery keeps publish order == delivery order, which is
        # what makes per-channel order hold without any buffering.
        if self._deliver is not None and topic in self._topics:
            self._deliver(topic, data)

    async def publish_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        for topic, data in items:
            await self.publish(topic, data)

    async def subscribe(self, topic: str) -> None:
        self._topics.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)
