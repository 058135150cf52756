"""Fan-out backends, chosen by URL (`memory://`, `redis://...`)."""

from __future__ import annotations

from hubbub.core.ports import Bus, BusError, Counters, Deliver, Directory

__all__ = [
    "Bus",
    "BusError",
    "Counters",
    "Deliver",
    "Directory",
    "open_bus",
    "open_counters",
    "open_directory",
]


def open_bus(url: str) -> Bus:
    scheme = url.partition("://")[0]
    if scheme == "memory":
        from hubbub.bus.memory import MemoryBus

        return MemoryBus()
    if scheme in ("redis", "rediss", "unix"):
        from hubbub.bus.redis import RedisBus

        return RedisBus(url)
    raise ValueError(f"unsupported bus URL scheme {scheme!r} (memory://, redis://)")


def open_directory(url: str, ttl: float) -> Directory:
    """The presence directory that goes with the bus at `url`."""
    scheme = url.partition("://")[0]
    if scheme in ("redis", "rediss", "unix"):
        from hubbub.bus.redis_presence import RedisDirectory

        return RedisDirectory(url, ttl)
    from hubbub.core.presence import LocalDirectory

    return LocalDirectory()


def open_counters(url: str) -> Counters:
    """The throttle counters that go with the bus at `url`: in Redis, shared
    by every node; otherwise in this process."""
    scheme = url.partition("://")[0]
    if scheme in ("redis", "rediss", "unix"):
        from hubbub.bus.redis_counters import RedisCounters

        return RedisCounters(url)
    from hubbub.core.ratelimit import LocalCounters

    return LocalCounters()
