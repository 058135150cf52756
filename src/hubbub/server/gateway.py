"""The self-hosted driver's gateway: the handshake checks, the set of open
connections, and the sweep that closes the ones that never authenticated or
went silent. What a connection's frames do is the session layer's
(`hubbub.session.engine`); fan-out is `Fanout`'s.
"""

from __future__ import annotations

import asyncio
import collections
import re
import time
from collections.abc import Awaitable, Mapping

from hubbub.core.hub import Hub
from hubbub.protocol.errors import CloseCode
from hubbub.protocol.limits import Limits
from hubbub.server.connection import Connection
from hubbub.server.fanout import Fanout
from hubbub.server.gcpolicy import GCPolicy
from hubbub.session.engine import Engine, Step
from hubbub.session.state import OPEN, State

# `token=...` in a query string, and `"token": "..."` in a logged JSON frame.
_TOKEN_RE = re.compile(r"(token=)[^&\s\"']*|(\"token\"\s*:\s*\")[^\"]*")


def redact(text: str) -> str:
    """Hide tokens in anything logged."""
    return _TOKEN_RE.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


class Gateway:
    def __init__(
        self,
        hub: Hub,
        fanout: Fanout,
        allowed_origins: tuple[str, ...] = (),
        public_origins: tuple[str, ...] = (),
    ) -> None:
        self.hub = hub
        self.engine = Engine(hub)
        self.fanout = fanout
        # The server's own origins (Settings.public_origins) and the extra
        # --allowed-origin ones: the only Origins a browser may open /ws from.
        self.allowed_origins = allowed_origins
        self.public_origins = public_origins
        self._origins = frozenset(public_origins) | frozenset(allowed_origins)
        self.connections: set[Connection] = set()
        # Auth deadlines in the order connections opened (one timeout for
        # all, so the deque is sorted): the sweep looks at the due ones only.
        self._deadlines: collections.deque[tuple[float, Connection]] = collections.deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.gc = GCPolicy()

    @property
    def limits(self) -> Limits:
        return self.hub.limits

    redact = staticmethod(redact)

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def stop(self) -> None:
        for conn in list(self.connections):
            conn.close(CloseCode.going_away)
        if self._sweeper is not None:
            self._sweeper.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- handshake and identity --------------------------------------------------

    def origin_allowed(self, origin: str | None, headers: Mapping[str, str]) -> bool:
        """Browsers always send Origin; other clients (wscat, bots) may not.
        An Origin must be one of the configured ones: never compared with the
        Host header, which says nothing about the server (a DNS-rebinding page
        sends Host and Origin that agree; a proxy may rewrite Host)."""
        del headers  # kept for the caller's signature: Host is not evidence
        return origin is None or "*" in self.allowed_origins or origin in self._origins

    def attach(self, conn: Connection, params: dict[str, str]) -> Step | None:
        """The upgrade was accepted: the engine decides how it identifies
        itself; the connection runs the step it returns before its frames."""
        self.connections.add(conn)
        self._deadlines.append((conn.opened_at + self.limits.auth_timeout, conn))
        self.gc.connection_opened()
        return self.engine.attach(conn, params)

    def detach(self, conn: Connection, was: State) -> None:
        """`conn` stopped being live (it left state `was`): forget it everywhere."""
        if conn in self.connections:
            self.connections.discard(conn)
            self.gc.connection_closed()
        self.fanout.drop(conn)
        leaving = self.engine.detach(conn, was)
        if leaving is not None:
            self.spawn(leaving)

    # --- heartbeat -----------------------------------------------------------------------

    async def _sweep(self) -> None:
        """Close connections that never authenticated or went silent, and let
        the GC policy act. One pass costs less than a timer per connection,
        but a pass over all of them is not free either (19,000 take ~20 ms):
        each tick looks only at the auth deadlines that are due, and the
        whole set is walked for silence every idle_timeout / 4."""
        auth_timeout, idle_timeout = self.limits.auth_timeout, self.limits.idle_timeout
        every = max(0.05, min(1.0, auth_timeout / 4, idle_timeout / 4))
        next_idle_pass = time.monotonic() + idle_timeout / 4
        deadlines = self._deadlines
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            while deadlines and deadlines[0][0] < now:
                _, conn = deadlines.popleft()
                # A connection that presented `?token=` is AUTHENTICATING (its
                # user row may be slow to come in a connect storm): only the
                # ones still owing an `auth` frame run out of time.
                if conn.session.state is State.AWAITING_AUTH:
                    conn.close(CloseCode.auth_timeout)
            if now >= next_idle_pass:
                next_idle_pass = now + idle_timeout / 4
                # last_seen first: most connections stop there, and each object
                # looked at (the session is another) is a cold read here.
                for conn in list(self.connections):
                    if now - conn.last_seen > idle_timeout and conn.session.state in OPEN:
                        conn.close(CloseCode.heartbeat_timeout)
            self.gc.tick(len(self.connections))
