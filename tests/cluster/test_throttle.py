"""The login and registration throttles hold across the cluster: the counters
live in Redis, so a client cannot get more guesses by spreading them over
nodes. Two nodes on one PostgreSQL and one Redis of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services import PrivateRedis, drop_database, fresh_postgres_database
from support import WAIT, Server, start_server

PASSWORD = "correct horse"
STRANGER, OWNER = "127.0.0.2", "127.0.0.3"


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[tuple[Server, Server]]:
    redis = PrivateRedis()
    redis.start()
    pg = await fresh_postgres_database()
    limits = "login_failures=3,registrations_per_hour=2"
    args = ("--database-url", pg, "--bus-url", redis.url, "--limit", limits)
    a, b = (start_server(tmp_path / n, *args) for n in ("a", "b"))
    try:
        yield a, b
    finally:
        for node in (a, b):
            node.stop()
        redis.kill()
        await drop_database(pg)


def client_at(server: Server, address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=server.url, timeout=WAIT, transport=transport)


def code_of(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else ""


async def test_failures_on_one_node_throttle_the_address_on_another(
    nodes: tuple[Server, Server],
) -> None:
    a, b = nodes
    wrong = {"username": "dave", "password": "not the password"}
    right = {"username": "dave", "password": PASSWORD}
    async with (
        client_at(a, STRANGER) as stranger_a,
        client_at(b, STRANGER) as stranger_b,
        client_at(b, OWNER) as owner_b,
    ):
        assert (await owner_b.post("/api/auth/register", json=right)).status_code == 201
        for _ in range(3):
            r = await stranger_a.post("/api/auth/login", json=wrong)
            assert code_of(r) == (401, "bad_credentials")
        r = await stranger_b.post("/api/auth/login", json=right)
        assert code_of(r) == (429, "login_throttled")
        assert 0 < r.json()["error"]["retry_after"] <= 15 * 60
        r = await owner_b.post("/api/auth/login", json=right)
        assert r.status_code == 200, r.text


async def test_registrations_count_across_nodes(nodes: tuple[Server, Server]) -> None:
    a, b = nodes
    async with client_at(a, STRANGER) as on_a, client_at(b, STRANGER) as on_b:
        for http, name in ((on_a, "bot0"), (on_b, "bot1")):
            r = await http.post("/api/auth/register", json={"username": name, "password": PASSWORD})
            assert r.status_code == 201, r.text
        r = await on_a.post("/api/auth/register", json={"username": "bot2", "password": PASSWORD})
        assert code_of(r) == (429, "registration_throttled")
        assert 0 < r.json()["error"]["retry_after"] <= 3600


async def test_redis_counters_are_atomic_and_expire() -> None:
    import asyncio

    from hubbub.bus import open_counters
    from hubbub.bus.redis_counters import RedisCounters

    redis = PrivateRedis()
    redis.start()
    counters = open_counters(redis.url)
    assert isinstance(counters, RedisCounters)
    try:
        # Many nodes' hits at once: none lost.
        await asyncio.gather(*(counters.add(["k", "other"], 60.0) for _ in range(50)))
        (k, other) = await counters.add(["k", "other"], 60.0)
        assert (k.hits, other.hits) == (51, 51) and 0 < k.retry_after <= 60
        assert (await counters.add(["k"], 60.0, -1))[0].hits == 50
        assert (await counters.add(["never"], 60.0, -1))[0] == (0, 0.0)  # not created
        assert await counters.redis.exists("hubbub:count:never") == 0
        await counters.reset(["k"])
        assert (await counters.add(["k"], 0.2))[0].hits == 1
        await asyncio.sleep(0.3)  # the window ends in Redis
        assert (await counters.add(["k"], 60.0))[0].hits == 1
    finally:
        await counters.close()
        redis.kill()
