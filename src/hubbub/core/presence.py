"""Online/offline from connection counts: a user with two tabs is online until
the last one closes."""

from __future__ import annotations

import collections
from collections.abc import Iterable


class Presence:
    def __init__(self) -> None:
        self._count: collections.Counter[int] = collections.Counter()

    def connections(self, user_id: int) -> int:
        return self._count[user_id]

    def connect(self, user_id: int) -> bool:
        """Count a new connection; True if the user just came online."""
        self._count[user_id] += 1
        return self._count[user_id] == 1

    def disconnect(self, user_id: int) -> bool:
        """Forget a connection; True if the user just went offline."""
        n = self._count[user_id] - 1
        if n <= 0:
            del self._count[user_id]
            return True
        self._count[user_id] = n
        return False

    def is_online(self, user_id: int) -> bool:
        return user_id in self._count

    def users(self) -> list[int]:
        return list(self._count)


class EachConnection(Presence):
    """Presence where no process outlives a connection: a Lambda handles each
    event in whichever container is warm, so a connect and its disconnect
    rarely meet in one process. Every connection is then its own node, and the
    directory (which counts them all) decides who is online."""

    def connections(self, user_id: int) -> int:
        return 0

    def connect(self, user_id: int) -> bool:
        return True

    def disconnect(self, user_id: int) -> bool:
        return True

    def is_online(self, user_id: int) -> bool:
        return False

    def users(self) -> list[int]:
        return []


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
