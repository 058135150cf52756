"""Token buckets and the per-account login throttle. Time is passed in, so
these are pure and tested without clocks."""

from __future__ import annotations

import collections
import dataclasses


@dataclasses.dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one token. Return 0 on success, else seconds until one is free."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per key (user id), created full."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: dict[object, TokenBucket] = {}

    def take(self, key: object, now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                # Full buckets carry no state worth keeping; drop them first.
                self._buckets = {
                    k: b
                    for k, b in self._buckets.items()
                    if b.tokens + (now - b.stamp) * b.rate < b.burst
                }
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self.burst, now)
        return bucket.take(now)


class LoginThrottle:
    """After `failures` failed logins within `window` seconds, an account refuses
    every attempt (even a right password) until the oldest of them ages out."""

    def __init__(self, failures: int, window: float) -> None:
        self.failures = failures
        self.window = window
        self._log: dict[str, collections.deque[float]] = {}

    def _recent(self, account: str, now: float) -> collections.deque[float]:
        log = self._log.setdefault(account, collections.deque())
        while log and log[0] <= now - self.window:
            log.popleft()
        return log

    def retry_after(self, account: str, now: float) -> float:
        log = self._recent(account, now)
        if len(log) >= self.failures:
            return log[-self.failures] + self.window - now
        return 0.0

    def failed(self, account: str, now: float) -> None:
        self._recent(account, now).append(now)

    def succeeded(self, account: str) -> None:
        self._log.pop(account, None)
