"""When to move long-lived objects out of the garbage collector's sight.

Every full (generation 2) collection scans every tracked object: with
thousands of connections (each a websockets protocol, buffers, dicts) one
took 110-185 ms, stalling every client of the node (docs/benchmarks.md). The
connections live for hours, so once a batch of new ones has settled they are
frozen (`gc.freeze()`: moved to a permanent generation no collection scans).

Frozen objects are still freed by reference counting; only cycles among them
wait. So after as many connections closed as were alive, everything is
unfrozen and collected once, then frozen again.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("hubbub.gc")

MIN_NEW = 100  # connections opened since the last freeze before another is worth it
NEW_SHARE = 0.1  # ... or this share of the live ones, whichever is larger


class GCPolicy:
    def __init__(self) -> None:
        self.opened = 0  # since the last freeze
        self.closed = 0  # since the last full collection

    def connection_opened(self) -> None:
        self.opened += 1

    def connection_closed(self) -> None:
        self.closed += 1

    def decide(self, live: int) -> str | None:
        """ "collect", "freeze" or None, given the live connection count; called
        every few seconds, outside any request."""
        if self.closed >= max(MIN_NEW, live):
            self.closed = self.opened = 0
            return "collect"
        if self.opened >= max(MIN_NEW, NEW_SHARE * live):
            self.opened = 0
            return "freeze"
        return None

    def tick(self, live: int) -> None:
        action = self.decide(live)
        if action == "collect":
            started = time.perf_counter()
            gc.unfreeze()
            found = gc.collect()
            gc.freeze()
            log.info(
                "full collection after churn: %d objects freed in %.0f ms",
                found,
                (time.perf_counter() - started) * 1000,
            )
        elif action == "freeze":
            gc.freeze()
