"""The presence directory contract, on one node (memory) and across nodes (Redis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from hubbub.bus.redis_presence import RedisDirectory
from hubbub.core.presence import LocalDirectory
from services import PrivateRedis, require_redis


@pytest.fixture
async def nodes() -> AsyncIterator[tuple[RedisDirectory, RedisDirectory]]:
    url = require_redis()
    a, b = RedisDirectory(url, ttl=30), RedisDirectory(url, ttl=30)
    yield a, b
    await a.close()
    await b.close()


def uid() -> int:
    return uuid.uuid4().int % 10**9  # a user no other test run touches


async def test_local_directory_follows_this_node() -> None:
    d = LocalDirectory()
    assert await d.online(1) is True
    assert await d.online_among([1, 2]) == {1}
    assert await d.offline(1) is True
    assert await d.online_among([1]) == set()
    assert await d.heartbeat([1]) == []


async def test_a_user_on_two_nodes_is_one_user(
    nodes: tuple[RedisDirectory, RedisDirectory],
) -> None:
    a, b = nodes
    user = uid()
    assert await a.online(user) is True  # first connection anywhere: announce
    assert await b.online(user) is False  # already online elsewhere
    assert await b.online_among([user, uid()]) == {user}
    assert await a.offline(user) is False  # still on b
    assert await b.offline(user) is True  # last one gone: announce
    assert await a.online_among([user]) == set()


async def test_a_dead_node_expires_and_one_survivor_announces_it() -> None:
    url = require_redis()
    dead = RedisDirectory(url, ttl=0.2)
    survivors = [RedisDirectory(url, ttl=30) for _ in range(2)]
    user, other = uid(), uid()
    try:
        await dead.online(user)
        await survivors[0].online(other)
        await asyncio.sleep(0.3)  # the dead node's entry expires; nothing to await on
        gone = await asyncio.gather(*(s.heartbeat([other]) for s in survivors))
        assert sorted(g for found in gone for g in found if g == user) == [user]
        assert await survivors[0].online_among([user, other]) == {other}
    finally:
        await survivors[0].offline(other)
        for d in (dead, *survivors):
            await d.close()


async def test_heartbeat_rewrites_what_redis_lost(
    nodes: tuple[RedisDirectory, RedisDirectory],
) -> None:
    a, b = nodes
    user = uid()
    await a.online(user)
    # What a Redis restart without persistence does to a's entries.
    await a.redis.delete(f"hubbub:presence:node:{a.node}", f"hubbub:presence:user:{user}")
    assert await b.online_among([user]) == set()
    assert await a.heartbeat([user]) == []
    assert await b.online_among([user]) == {user}
    assert await a.offline(user) is True


async def test_a_heartbeat_is_a_few_commands_however_many_users() -> None:
    server = PrivateRedis()  # nobody else's commands in its counters
    server.start()
    a = RedisDirectory(server.url, ttl=30)
    try:
        users = list(range(1, 301))
        for u in users:
            await a.online(u)
        await a.redis.config_resetstat()
        assert await a.heartbeat(users) == []
        info = await a.redis.info("commandstats")
        # ZADD + SCARD + ZRANGEBYSCORE (+ INFO itself), not one per user.
        assert sum(v["calls"] for v in info.values()) <= 4, info
    finally:
        await a.close()
        server.kill()
