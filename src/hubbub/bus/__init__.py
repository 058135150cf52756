"""Fan-out backends, chosen by URL (`memory://`, `redis://...`)."""

from __future__ import annotations

from hubbub.bus.base import Bus, BusError, Deliver

__all__ = ["Bus", "BusError", "Deliver", "open_bus"]


def open_bus(url: str) -> Bus:
    scheme = url.partition("://")[0]
    if scheme == "memory":
        from hubbub.bus.memory import MemoryBus

        return MemoryBus()
    if scheme in ("redis", "rediss", "unix"):
        from hubbub.bus.redis import RedisBus

        return RedisBus(url)
    raise ValueError(f"unsupported bus URL scheme {scheme!r} (memory://, redis://)")
