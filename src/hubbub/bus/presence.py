"""Who is online across every node: the directory behind presence events.

Each node counts its own connections (`core.presence.Presence`); the directory
answers the cluster-wide questions: is this the user's first connection
anywhere, their last one, and which users vanished with a node that died
without saying goodbye (its entries expire after `ttl` seconds).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Directory(Protocol):
    # Entries expire unless `heartbeat` refreshes them. A node with no one to
    # refresh for skips the heartbeat: with thousands of users, listing them
    # every few seconds for nothing is not free.
    expires: bool

    async def online(self, user_id: int) -> bool:
        """This node has the user's first connection; True if no node had one."""

    async def offline(self, user_id: int) -> bool:
        """This node lost the user's last connection; True if no node has one."""

    async def online_among(self, user_ids: Iterable[int]) -> set[int]: ...

    async def heartbeat(self, user_ids: Iterable[int]) -> list[int]:
        """Refresh this node's users; return users whose every node expired."""

    async def close(self) -> None: ...


class LocalDirectory:
    """One process: the local counts are the whole truth."""

    expires = False

    def __init__(self) -> None:
        self._online: set[int] = set()

    async def online(self, user_id: int) -> bool:
        self._online.add(user_id)
        return True

    async def offline(self, user_id: int) -> bool:
        self._online.discard(user_id)
        return True

    async def online_among(self, user_ids: Iterable[int]) -> set[int]:
        return self._online.intersection(user_ids)

    async def heartbeat(self, user_ids: Iterable[int]) -> list[int]:
        return []

    async def close(self) -> None:
        return None
