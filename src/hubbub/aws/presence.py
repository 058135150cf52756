"""Who is online, for the Lambda deployment: the connections table is the
directory. Each connection is its own "node" (core.presence.EachConnection),
so the hub asks here on every connect and disconnect, and a user is online
while the table holds a live connection of theirs."""

from __future__ import annotations

from collections.abc import Iterable

from hubbub.aws.connections import ConnectionTable


class TableDirectory:
    # The table's items expire by DynamoDB's TTL, not by a heartbeat.
    expires = False

    def __init__(self, connections: ConnectionTable) -> None:
        self.connections = connections

    async def online(self, user_id: int) -> bool:
        """Called once the connection is registered: first if it is the only one."""
        return await self.connections.connections_of(user_id) == 1

    async def offline(self, user_id: int) -> bool:
        """Called once the connection is removed: last if none is left."""
        return await self.connections.connections_of(user_id) == 0

    async def online_among(self, user_ids: Iterable[int]) -> set[int]:
        return {u for u in user_ids if await self.connections.connections_of(u) > 0}

    async def heartbeat(self, user_ids: Iterable[int]) -> list[int]:
        return []

    async def close(self) -> None:
        return None
