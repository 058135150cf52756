"""Token buckets (time passed in, so pure), and the login and registration
throttles on top of `Counters` (in memory here for one process; in Redis,
`hubbub.bus.redis_counters`, for a cluster)."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence

from hubbub.core.ports import BusError, Counters, Tally
from hubbub.protocol.limits import Limits

log = logging.getLogger("hubbub.throttle")


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


class LocalCounters:
    """`Counters` in this process's memory (one node). Each key's window starts
    at its first hit; an expired key is gone. When `max_keys` are live, the
    expired ones are swept out; past that, the oldest are dropped."""

    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = 200_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._counts: dict[str, list[float]] = {}  # key -> [count, expires at]

    def _live(self, key: str, now: float) -> list[float] | None:
        entry = self._counts.get(key)
        if entry is not None and entry[1] <= now:
            del self._counts[key]
            return None
        return entry

    async def add(self, keys: Sequence[str], window: float, amount: int = 1) -> list[Tally]:
        now = self.clock()
        out = []
        for key in keys:
            entry = self._live(key, now)
            if entry is None:
                if amount <= 0:
                    out.append(Tally(0, 0.0))
                    continue
                if len(self._counts) >= self.max_keys:
                    self._sweep(now)
                entry = self._counts[key] = [0, now + window]
            entry[0] += amount
            out.append(Tally(int(entry[0]), entry[1] - now))
        return out

    def _sweep(self, now: float) -> None:
        self._counts = {k: e for k, e in self._counts.items() if e[1] > now}
        while len(self._counts) >= self.max_keys:  # dicts keep insertion order
            del self._counts[next(iter(self._counts))]

    async def reset(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._counts.pop(key, None)

    async def close(self) -> None:
        self._counts.clear()


def address_key(address: str) -> str:
    """The client address as counted: IPv4 as is, IPv6 by its /64 (one host
    usually holds a whole /64), IPv4-mapped IPv6 as IPv4."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class _Throttle:
    """Counters with a fallback: while the shared ones (Redis) are unreachable,
    each node counts on its own rather than refusing every login."""

    def __init__(self, counters: Counters, limits: Limits, clock: Callable[[], float]) -> None:
        self.counters = counters
        self.limits = limits
        self._local = counters if isinstance(counters, LocalCounters) else LocalCounters(clock)

    async def _add(self, keys: Sequence[str], window: float, amount: int = 1) -> list[Tally]:
        try:
            return await self.counters.add(keys, window, amount)
        except BusError as exc:
            log.warning("throttle counters unreachable, counting on this node: %s", exc)
            return await self._local.add(keys, window, amount)

    async def _reset(self, keys: Sequence[str]) -> None:
        try:
            await self.counters.reset(keys)
        except BusError as exc:
            log.warning("throttle counters unreachable, counting on this node: %s", exc)
            await self._local.reset(keys)


class LoginThrottle(_Throttle):
    """Failed logins, counted three ways within `login_window` (each window
    starts at its first failure):

    * per client address and account: past `login_failures`, that address may
      not try that account (not even with the right password) until the window
      ends. Other addresses are not affected, so a stranger cannot lock the
      owner out;
    * per address, across accounts: past `login_failures_per_address`, that
      address may not log in at all (password spraying, credential stuffing);
    * per account, from everywhere: past `login_failures_per_account`, every
      address that has failed for the account in its window is refused (a
      distributed guesser gets one guess per address). An address with no
      failure for it - the owner, elsewhere - still logs in.

    Each attempt counts as a failure *before* the password is checked (so
    parallel attempts cannot all slip under a limit) and is taken back when it
    is refused (no password was tried) or succeeds; a success also forgets
    that address's failures for that account.
    """

    def _keys(self, address: str, account: str) -> list[str]:
        addr = address_key(address)
        return [f"login:pair:{addr}|{account}", f"login:addr:{addr}", f"login:acct:{account}"]

    async def attempt(self, address: str, account: str) -> float:
        """Count an attempt; 0 if it may go ahead, else seconds until one may."""
        lim = self.limits
        pair, addr, acct = await self._add(self._keys(address, account), lim.login_window)
        waits = []
        if pair.hits > lim.login_failures:
            waits.append(pair.retry_after)
        if addr.hits > lim.login_failures_per_address:
            waits.append(addr.retry_after)
        if acct.hits > lim.login_failures_per_account and pair.hits > 1:
            waits.append(min(pair.retry_after, acct.retry_after))
        if waits:  # refused unchecked: not a guess, so not a failure
            await self._add(self._keys(address, account), lim.login_window, -1)
        return max(waits, default=0.0)

    async def succeeded(self, address: str, account: str) -> None:
        pair, *others = self._keys(address, account)
        await self._reset([pair])
        await self._add(others, self.limits.login_window, -1)


class RegistrationThrottle(_Throttle):
    """Registrations per client address: `registrations_per_hour` attempts in a
    window of an hour from the first. Every attempt with a well-formed name and
    password counts, taken or not (so it also slows finding out which names exist)."""

    async def attempt(self, address: str) -> float:
        key = f"register:addr:{address_key(address)}"
        (tally,) = await self._add([key], 3600.0)
        return tally.retry_after if tally.hits > self.limits.registrations_per_hour else 0.0


class ClusterSendLimit:
    """Each user's sends counted for the whole cluster, beside each node's own
    token bucket (`RateLimiter`, exact but per node: a user connected to N
    nodes would get N times the rate).

    A send asks only this node's memory (no round trip on the hot path):
    whether the cluster said the user is over. Every `SYNC` seconds the node
    adds what it let through per user to the shared counts (Redis, one round
    trip for all users) and learns the totals; a user past `rate * WINDOW +
    burst` in a window (from their first send in it) is refused on every node
    until it ends. So the cluster lets through at most that, plus what the
    nodes let through in one `SYNC` before they heard.
    """

    SYNC = 0.25
    WINDOW = 2.0

    def __init__(
        self, counters: Counters, rate: float, burst: int, clock: Callable[[], float]
    ) -> None:
        self.counters = counters
        self.limit = int(rate * self.WINDOW) + burst
        self.clock = clock
        self._sent: dict[int, int] = {}  # user id -> sends since the last sync
        self._until: dict[int, float] = {}  # user id -> refused until (clock time)

    def refused(self, user_id: int) -> float:
        """Seconds until the user may send again (0: now)."""
        until = self._until.get(user_id)
        if until is None:
            return 0.0
        wait = until - self.clock()
        if wait <= 0:
            del self._until[user_id]
            return 0.0
        return wait

    def sent(self, user_id: int) -> None:
        self._sent[user_id] = self._sent.get(user_id, 0) + 1

    async def sync(self) -> None:
        sent, self._sent = self._sent, {}
        by_amount: dict[int, list[int]] = {}
        for uid, n in sent.items():
            by_amount.setdefault(n, []).append(uid)
        now = self.clock()
        for amount, uids in by_amount.items():
            try:
                tallies = await self.counters.add(
                    [f"send:{uid}" for uid in uids], self.WINDOW, amount
                )
            except BusError as exc:  # the node's own bucket still holds
                log.warning("cluster send counts not shared: %s", exc)
                return
            for uid, tally in zip(uids, tallies, strict=True):
                if tally.hits > self.limit:
                    self._until[uid] = now + tally.retry_after

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.SYNC)
            await self.sync()
