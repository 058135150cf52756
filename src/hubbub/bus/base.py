"""The Bus protocol: fan-out of already-encoded events between server processes.

The bus carries bytes, never objects, so an event is encoded once on the node
that produced it. It is a hint, not the truth: the store is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

Deliver = Callable[[str, bytes], None]


class BusError(Exception):
    """The backend is unreachable."""


class Bus(Protocol):
    async def start(self, deliver: Deliver, resync: Callable[[], None] | None = None) -> None:
        """Begin delivering messages for subscribed topics to `deliver(topic, data)`.
        `deliver` runs on the event loop and must not block. `resync` is called
        when events may have been lost (the backend reconnected)."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise BusError unless the backend answers."""

    async def publish(self, topic: str, data: bytes) -> None: ...

    async def publish_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Publish each (topic, data), in one round trip where the backend
        allows: a group commit touches many channels at once. Order is kept
        per topic (not across topics)."""

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...
