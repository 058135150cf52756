"""Throttle counters (`core.ports.Counters`) in Redis, shared by every node.

One key per count, `hubbub:count:{key}`: an integer with a TTL set by its
first hit (a fixed window). All the keys of one call are updated by one Lua
script, atomic and in one round trip, so nodes racing on one count never lose
a hit, and a key never lives without its expiry. Time is Redis's own (PTTL),
so the nodes' clocks do not matter.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hubbub.core.ports import BusError, Tally

PREFIX = "hubbub:count:"

# KEYS: the counts.  ARGV: amount, window in ms.  Returns count, ms left per key.
ADD = """
local amount = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local count = 0
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then
    count = redis.call('INCRBY', key, amount)
  elseif amount > 0 then
    redis.call('SET', key, amount, 'PX', ARGV[2])
    count, ttl = amount, tonumber(ARGV[2])
  else
    redis.call('DEL', key)  -- a count without expiry (should not be): drop it
    ttl = 0
  end
  out[2 * i - 1] = count
  out[2 * i] = ttl
end
return out
"""


class RedisCounters:
    def __init__(self, url: str) -> None:
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=16, timeout=10, socket_connect_timeout=2
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self._add = self.redis.register_script(ADD)

    async def add(self, keys: Sequence[str], window: float, amount: int = 1) -> list[Tally]:
        if not keys:
            return []
        try:
            raw = await self._add(
                keys=[PREFIX + k for k in keys], args=[amount, max(1, round(window * 1000))]
            )
        except (RedisError, OSError) as exc:
            raise BusError(f"throttle counters unreachable: {exc}") from exc
        return [Tally(int(raw[i]), max(0, int(raw[i + 1])) / 1000) for i in range(0, len(raw), 2)]

    async def reset(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        try:
            await self.redis.delete(*(PREFIX + k for k in keys))
        except (RedisError, OSError) as exc:
            raise BusError(f"throttle counters unreachable: {exc}") from exc

    async def close(self) -> None:
        await self.redis.aclose()
