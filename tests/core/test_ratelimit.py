from __future__ import annotations

from collections.abc import Sequence

import pytest

from hubbub.core.ports import BusError, Tally
from hubbub.core.ratelimit import (
    LocalCounters,
    LoginThrottle,
    RateLimiter,
    RegistrationThrottle,
    address_key,
)
from hubbub.protocol.limits import Limits


def test_bucket_allows_burst_then_refills_at_rate() -> None:
    rl = RateLimiter(rate=2.0, burst=3)
    assert [rl.take("u", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rl.take("u", 0.0)
    assert wait == 0.5  # one token at 2/s
    assert rl.take("u", 0.5) == 0.0
    assert rl.take("other", 0.5) == 0.0  # buckets are per key


def test_full_buckets_are_dropped_when_too_many_keys() -> None:
    rl = RateLimiter(rate=1.0, burst=1, max_keys=2)
    rl.take("a", 0.0)
    rl.take("b", 0.0)
    rl.take("c", 10.0)  # a and b are full again by now: forgotten
    assert set(rl._buckets) == {"c"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


LIMITS = Limits(
    login_failures=3,
    login_failures_per_address=10,
    login_failures_per_account=20,
    login_window=60.0,
    registrations_per_hour=2,
)
STRANGER, OWNER = "203.0.113.7", "198.51.100.1"


def login_throttle(clock: Clock, limits: Limits = LIMITS) -> LoginThrottle:
    return LoginThrottle(LocalCounters(clock), limits, clock)


async def test_counters_count_in_a_window_from_the_first_hit(clock: Clock) -> None:
    c = LocalCounters(clock)
    assert await c.add(["a", "b"], 10.0) == [Tally(1, 10.0), Tally(1, 10.0)]
    clock.now += 4
    assert await c.add(["a"], 10.0) == [Tally(2, 6.0)]  # the window does not slide
    assert await c.add(["a"], 10.0, -1) == [Tally(1, 6.0)]
    assert await c.add(["nope"], 10.0, -1) == [Tally(0, 0.0)]  # taking back creates nothing
    assert "nope" not in c._counts
    await c.reset(["b"])
    assert await c.add(["b"], 10.0) == [Tally(1, 10.0)]
    clock.now += 6
    assert await c.add(["a"], 10.0) == [Tally(1, 10.0)]  # expired: a new window


async def test_counters_stay_bounded(clock: Clock) -> None:
    c = LocalCounters(clock, max_keys=3)
    await c.add(["a", "b"], 1.0)
    clock.now += 2
    await c.add(["c", "d", "e"], 1.0)  # a and b expired: swept; then the oldest live goes
    assert len(c._counts) <= 3 and "e" in c._counts


async def test_a_strangers_failures_do_not_lock_the_owner_out(clock: Clock) -> None:
    t = login_throttle(clock)
    waits = [await t.attempt(STRANGER, "ann") for _ in range(20)]
    assert waits[:3] == [0.0] * 3  # login_failures guesses, then refused
    assert all(w == 60.0 for w in waits[3:])  # until the first failure's window ends
    assert await t.attempt(OWNER, "ann") == 0.0  # the owner, elsewhere: not affected
    await t.succeeded(OWNER, "ann")
    assert await t.attempt(STRANGER, "bob") == 0.0  # the stranger, for another account
    clock.now += 60
    assert await t.attempt(STRANGER, "ann") == 0.0  # the window is over


async def test_success_forgets_that_addresses_failures_for_the_account(clock: Clock) -> None:
    t = login_throttle(clock)
    for _ in range(2):
        assert await t.attempt(OWNER, "ann") == 0.0  # two typos
    await t.attempt(OWNER, "ann")
    await t.succeeded(OWNER, "ann")
    for _ in range(3):
        assert await t.attempt(OWNER, "ann") == 0.0
    assert await t.attempt(OWNER, "ann") > 0


async def test_an_attempt_counts_before_the_password_is_checked(clock: Clock) -> None:
    """Parallel attempts cannot all pass the check before any failure is counted."""
    t = login_throttle(clock)
    waits = [await t.attempt(STRANGER, "ann") for _ in range(5)]  # none finished yet
    assert waits.count(0.0) == 3


async def test_one_address_spraying_many_accounts_is_throttled(clock: Clock) -> None:
    t = login_throttle(clock)
    for i in range(10):
        assert await t.attempt(STRANGER, f"user{i}") == 0.0
    assert await t.attempt(STRANGER, "ann") == 60.0
    assert await t.attempt(OWNER, "ann") == 0.0


async def test_successes_do_not_count_against_a_shared_address(clock: Clock) -> None:
    """An office behind one NAT: many users logging in fine."""
    t = login_throttle(clock)
    for i in range(50):
        assert await t.attempt(OWNER, f"user{i}") == 0.0
        await t.succeeded(OWNER, f"user{i}")


async def test_a_distributed_guesser_gets_one_guess_per_address(clock: Clock) -> None:
    t = login_throttle(clock)
    for i in range(20):  # login_failures_per_account, from 20 addresses
        assert await t.attempt(f"10.0.0.{i}", "ann") == 0.0
    assert await t.attempt("10.0.0.1", "ann") == 60.0  # failed before: refused
    assert await t.attempt("10.0.1.1", "ann") == 0.0  # new address: one guess
    assert await t.attempt("10.0.1.1", "ann") == 60.0
    assert await t.attempt(OWNER, "ann") == 0.0  # the owner still logs in
    await t.succeeded(OWNER, "ann")


async def test_registration_is_throttled_per_address(clock: Clock) -> None:
    t = RegistrationThrottle(LocalCounters(clock), LIMITS, clock)
    assert [await t.attempt(STRANGER) for _ in range(3)] == [0.0, 0.0, 3600.0]
    assert await t.attempt(OWNER) == 0.0
    clock.now += 3600
    assert await t.attempt(STRANGER) == 0.0


def test_default_limits() -> None:
    d = Limits()
    assert (d.login_failures, d.login_window) == (5, 900.0)
    assert d.login_failures < d.login_failures_per_address < d.login_failures_per_account
    assert d.registrations_per_hour > 0


def test_addresses_are_counted_by_host() -> None:
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    # One IPv6 host usually has a whole /64: hopping within it gains nothing.
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("testclient") == "testclient"


class Down:
    """Shared counters that are unreachable (Redis down)."""

    async def add(self, keys: Sequence[str], window: float, amount: int = 1) -> list[Tally]:
        raise BusError("down")

    async def reset(self, keys: Sequence[str]) -> None:
        raise BusError("down")

    async def close(self) -> None:
        pass


async def test_unreachable_counters_fall_back_to_this_node(clock: Clock) -> None:
    t = LoginThrottle(Down(), LIMITS, clock)
    assert [await t.attempt(STRANGER, "ann") for _ in range(4)][-1] == 60.0
    await t.succeeded(STRANGER, "ann")
    assert await t.attempt(STRANGER, "ann") == 0.0
