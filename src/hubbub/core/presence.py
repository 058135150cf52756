"""Online/offline from connection counts: a user with two tabs is online until
the last one closes."""

from __future__ import annotations

import collections


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
