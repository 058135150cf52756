"""Presence across nodes in Redis.

Three kinds of keys:

* `nodes`: a sorted set of live nodes, scored by when each one expires. A
  node's heartbeat is one ZADD, however many users it has.
* `node:{id}`: the users connected to that node.
* `user:{id}`: the nodes a user is connected to. They are online while one of
  those nodes is live.

A node that dies without saying goodbye stops heartbeating; the first
survivor to see it expired claims it (ZREM succeeds once), takes it out of
its users' sets and announces those left with no live node as offline.

Each update is one Lua script (atomic, one round trip), so two nodes racing
on one user's first or last connection cannot both announce it, or neither.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hubbub.core.ports import BusError

PREFIX = "hubbub:presence:"
NODES = PREFIX + "nodes"
RESYNC_CHUNK = 500  # users re-added per round trip after Redis lost our set

# Live nodes in the user's set, after adding (+1) or removing (-1) one node.
# KEYS: user set, node's user set, NODES.  ARGV: node, user id, +1/-1, now,
# this node's expiry (a joining node must count as live at once).
UPDATE = """
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('SADD', KEYS[2], ARGV[2])
else
  redis.call('SREM', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
local live = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local expires = redis.call('ZSCORE', KEYS[3], node)
  if expires and tonumber(expires) > tonumber(ARGV[4]) then
    live = live + 1
  end
end
return live
"""


def _user_key(user_id: int | str) -> str:
    return f"{PREFIX}user:{user_id}"


def _node_key(node: str) -> str:
    return f"{PREFIX}node:{node}"


class RedisDirectory:
    expires = True

    def __init__(self, url: str, ttl: float, node_id: str | None = None) -> None:
        # A blocking pool: a burst of presence updates (many clients closing
        # at once) waits for a connection instead of failing "Too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=32, timeout=10, socket_connect_timeout=2
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self.ttl = ttl
        self.node = node_id or uuid.uuid4().hex[:12]
        self._update = self.redis.register_script(UPDATE)

    async def _live_after(self, node: str, user_id: int | str, change: int) -> int:
        now = time.time()
        try:
            live = await self._update(
                keys=[_user_key(user_id), _node_key(node), NODES],
                args=[node, user_id, change, now, now + self.ttl],
            )
        except (RedisError, OSError) as exc:
            raise BusError(f"presence directory unreachable: {exc}") from exc
        return int(live)

    async def online(self, user_id: int) -> bool:
        return await self._live_after(self.node, user_id, +1) == 1

    async def offline(self, user_id: int) -> bool:
        return await self._live_after(self.node, user_id, -1) == 0

    async def online_among(self, user_ids: Iterable[int]) -> set[int]:
        ids = list(user_ids)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrangebyscore(NODES, time.time(), "+inf")
                for uid in ids:
                    pipe.smembers(_user_key(uid))
                live_nodes, *node_sets = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BusError(f"presence directory unreachable: {exc}") from exc
        live = set(live_nodes)
        return {uid for uid, nodes in zip(ids, node_sets, strict=True) if live & nodes}

    async def heartbeat(self, user_ids: Iterable[int]) -> list[int]:
        now = time.time()
        ours = list(user_ids)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zadd(NODES, {self.node: now + self.ttl})
                pipe.scard(_node_key(self.node))
                pipe.zrangebyscore(NODES, "-inf", now)
                _, recorded, expired = await pipe.execute()
            if recorded != len(ours):
                await self._resync(ours)
            gone: list[int] = []
            for raw in expired:
                node = raw.decode() if isinstance(raw, bytes) else str(raw)
                # ZREM succeeds on one node only: that node announces it.
                if node != self.node and await self.redis.zrem(NODES, node):
                    gone += await self._bury(node)
            return gone
        except (RedisError, OSError) as exc:
            raise BusError(f"presence directory unreachable: {exc}") from exc

    async def _resync(self, user_ids: Sequence[int]) -> None:
        """Redis lost what we wrote (a restart without persistence), or a
        change failed: write this node's users again."""
        await self.redis.delete(_node_key(self.node))
        for i in range(0, len(user_ids), RESYNC_CHUNK):
            chunk = user_ids[i : i + RESYNC_CHUNK]
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.sadd(_node_key(self.node), *chunk)
                for uid in chunk:
                    pipe.sadd(_user_key(uid), self.node)
                await pipe.execute()

    async def _bury(self, node: str) -> list[int]:
        """Take a dead node out of its users' sets; the users it leaves offline."""
        gone = []
        members: Any = await self.redis.smembers(_node_key(node))
        for raw in members:
            uid = int(raw)
            if await self._live_after(node, uid, -1) == 0:
                gone.append(uid)
        await self.redis.delete(_node_key(node))
        return gone

    async def close(self) -> None:
        await self.redis.aclose()
