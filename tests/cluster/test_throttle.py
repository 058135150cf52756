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


async def test_a_users_sends_are_limited_for_the_whole_cluster(tmp_path: Path) -> None:
    """One user sending through two nodes at once gets the limit once, not
    once per node: the nodes share each user's counts in Redis."""
    import asyncio
    import time

    from hubbub.core.ratelimit import ClusterSendLimit
    from support import register, ws_connect

    rate, burst = 5, 5
    redis = PrivateRedis()
    redis.start()
    pg = await fresh_postgres_database()
    limits = f"messages_per_second={rate},message_burst={burst}"
    args = ("--database-url", pg, "--bus-url", redis.url, "--limit", limits)
    a, b = (start_server(tmp_path / n, *args) for n in ("a", "b"))
    try:
        async with httpx.AsyncClient(base_url=a.url, timeout=WAIT) as http:
            token = await register(http, "eve")
        seconds, every = 1.5, 0.02

        async def blast(node: Server) -> int:
            """Send every `every` s for `seconds` s; how many were stored."""
            async with ws_connect(f"{node.ws_url}?token={token}") as ws:
                await ws.expect("hello")
                sent, start = 0, time.monotonic()
                while time.monotonic() - start < seconds:
                    await ws.send(
                        {
                            "action": "send",
                            "id": sent,
                            "channel": "general",
                            "text": "x",
                            "client_id": f"{node.port}-{sent}",
                        }
                    )
                    sent += 1
                    await asyncio.sleep(every)
                stored = refused = 0
                while stored + refused < sent:
                    frame = await ws.recv()
                    if frame["type"] == "ack":
                        stored += 1
                    elif frame["type"] == "error":
                        assert frame["code"] == "rate_limited", frame
                        refused += 1
                return stored

        on_a, on_b = await asyncio.gather(blast(a), blast(b))
        # Each node alone would let `burst + rate * seconds` through: both
        # did at least their burst, and together no more than the cluster's
        # window allows, plus what they let through in one sync before they
        # heard (`rate * SYNC` each).
        per_node = burst + rate * seconds
        cluster = int(rate * ClusterSendLimit.WINDOW) + burst
        slack = 2 * (rate * ClusterSendLimit.SYNC + 1)
        assert on_a >= burst and on_b >= burst, (on_a, on_b)
        assert on_a + on_b <= cluster + slack < 2 * per_node, (on_a, on_b)
    finally:
        for node in (a, b):
            node.stop()
        redis.kill()
        await drop_database(pg)
