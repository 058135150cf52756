from __future__ import annotations

from hubbub.core.ratelimit import LoginThrottle, RateLimiter


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


def test_login_throttle_locks_after_failures_and_expires() -> None:
    t = LoginThrottle(failures=3, window=60.0)
    for now in (0.0, 1.0, 2.0):
        assert t.retry_after("ann", now) == 0.0
        t.failed("ann", now)
    assert t.retry_after("ann", 3.0) == 57.0  # until the first failure ages out
    assert t.retry_after("bob", 3.0) == 0.0
    assert t.retry_after("ann", 60.5) == 0.0
    t.failed("ann", 61.0)
    t.succeeded("ann")
    assert t.retry_after("ann", 61.0) == 0.0
