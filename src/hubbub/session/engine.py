"""The chat engine every driver runs: how a connection identifies itself, how
each of its frames is routed, what leaving costs, and the events on a user's
own topic that change what their connections follow.

A driver decodes nothing itself: it hands the engine the handshake's query
(`attach`), each frame's bytes (`handle`), the moment it stops sending
(`detach`), and control events (`control`), and runs what `attach`/`detach`
return at the point its transport allows (the server queues the login step
before the connection's frames; a Lambda awaits it inside `$connect`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hubbub import __version__
from hubbub.core import accounts, events
from hubbub.core.auth import Claims
from hubbub.core.envelope import Envelope
from hubbub.core.hub import Hub, unavailable
from hubbub.core.models import Channel, StoredMessage, User
from hubbub.core.ports import StoreError
from hubbub.core.writer import Result
from hubbub.protocol.codec import decode_json, frame_id, plain_ping, validate_client
from hubbub.protocol.errors import ChatError, CloseCode, ErrorCode
from hubbub.session import tutorial
from hubbub.session.actions import QUEUED, ROUTES, SCOPE
from hubbub.session.driver import Conn, FrameId
from hubbub.session.state import ALLOWS, OPEN, Event, State

log = logging.getLogger("hubbub.session")

Step = Callable[[], Awaitable[None]]

# Events on a user's topic that close connections, and what they say.
ENDS: dict[str, tuple[CloseCode, Callable[[], ChatError]]] = {
    "session_ended": (CloseCode.session_ended, accounts.session_ended),
    "account_deactivated": (CloseCode.account_deactivated, accounts.deactivated),
}
# The close code of each error that says a session ended.
ENDED_BY = {
    ErrorCode.session_ended: CloseCode.session_ended,
    ErrorCode.account_deactivated: CloseCode.account_deactivated,
}


class Engine:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        # Per pipelined connection, its last queued S1 `sendMessage` while
        # its commit is not done: what the connection is told next waits for
        # it (see `_in_turn`).
        self._unsettled: dict[Conn, asyncio.Future[Result]] = {}

    # --- identity ----------------------------------------------------------------

    def attach(self, conn: Conn, params: dict[str, str]) -> Step | None:
        """The upgrade succeeded: decide how `conn` identifies itself. Returns
        the step that must finish before any of its frames is handled (None:
        it sends an `auth` frame, or it was refused and is closing)."""
        token, room = params.get("token"), params.get("room_name")
        if token is not None:
            try:
                claims = self.hub.read_token(token)
            except ChatError as err:
                conn.close(CloseCode.auth_failed, err.message)
                return None
            conn.session.fire(Event.PRESENTED)

            async def login() -> None:
                await self.login(conn, claims, room)

            return login
        if room is not None:
            if not self.hub.allow_guests:
                conn.close(CloseCode.auth_failed, "guests are off here: connect with ?token=")
                return None
            conn.session.fire(Event.PRESENTED)  # nothing to present: the room opens it

            async def guest() -> None:
                await self._open_room(conn, room, None)

            return guest
        return None  # AWAITING_AUTH until an `auth` frame or the auth timeout

    async def login(self, conn: Conn, claims: Claims, room: str | None) -> None:
        """Open the connection as the token's user, if its session stands (one
        read of the store, at most: see Accounts.identify)."""
        hub = self.hub
        try:
            identity = await hub.accounts.identify(claims)
        except ChatError as err:
            conn.close(CloseCode.auth_failed, err.message)
            return
        user = identity.user
        conn.session_id = identity.session.id
        conn.scopes = identity.session.scopes
        if conn.session.state not in (State.AWAITING_AUTH, State.AUTHENTICATING):
            return  # it went away while we read the user
        if not hub.may_connect(user):
            conn.close(CloseCode.too_many_connections)
            return
        if room is not None:
            await self._open_room(conn, room, user)
            return
        if await self._admitted(conn, user, None):
            conn.send(events.hello(user, hub.limits, __version__))

    async def _open_room(self, conn: Conn, name: str, user: User | None) -> None:
        try:
            channel = await tutorial.room(self.hub, name, user)
        except ChatError as err:
            conn.close(CloseCode.room_unavailable, err.message)
            return
        if conn.session.state is not State.AUTHENTICATING:
            return  # it went away meanwhile
        if await self._admitted(conn, user, channel):
            await conn.follow(events.channel_topic(channel.id), tutorial=True)

    async def _admitted(self, conn: Conn, user: User | None, room: Channel | None) -> bool:
        """Open the connection; False if it closed meanwhile."""
        await conn.admit(user, room)
        if user is None:
            return True
        # Counted before the first await: a close from here on uncounts it.
        await self.hub.connected(user)
        await conn.follow(events.user_topic(user.id))
        if conn.session_id is None:
            return True
        # Its session may have ended after it was checked (on another node,
        # through a cache) and before the user's topic reached this
        # connection: ask the store, now that a later end would reach it.
        try:
            await self.hub.accounts.recheck(Claims(user.id, conn.session_id))
        except ChatError as err:
            if err.code in ENDED_BY:
                self.refuse(conn, ENDED_BY[err.code], err, None)
            else:
                conn.close(CloseCode.auth_failed, err.message)
            return False
        return True

    def refuse(self, conn: Conn, code: CloseCode, err: ChatError, fid: FrameId) -> None:
        """Close for good, saying why: where the driver has no close code to
        say it with, an error frame says it first."""
        if not conn.closes_with_code:
            conn.send_error(err, fid)
        conn.close(code, err.message)

    def detach(self, conn: Conn, was: State) -> Awaitable[None] | None:
        """`conn` left state `was` for CLOSING or CLOSED (once: the table has
        one way out of each state). A user's connection is uncounted from
        presence; the driver runs what this returns."""
        if was is State.USER and conn.user is not None:
            return self.hub.disconnected(conn.user)
        return None

    # --- frames --------------------------------------------------------------------

    def answer_now(self, conn: Conn, data: bytes) -> bool:
        """Answer a heartbeat `ping` on the spot, without the task and queue
        every other frame goes through: with 19,000 idle connections pinging
        every 30 s, that task was a third of the server's idle CPU. Anything
        else, or a ping that is not plainly valid, returns False and takes the
        normal path (which sends the errors)."""
        if b'"ping"' not in data or conn.session.state not in OPEN or conn in self._unsettled:
            return False
        is_ping, fid = plain_ping(data)
        if is_ping:
            conn.send(events.pong(fid, int(time.time() * 1000)))
        return is_ping

    async def handle(self, conn: Conn, data: bytes) -> None:
        """Route one client frame; every failure becomes an error frame."""
        fid: FrameId = None
        try:
            limit = self.hub.limits.max_frame_bytes
            if len(data) > limit:  # the server's parser closes first (1009); a Lambda can't
                raise ChatError(ErrorCode.invalid_input, f"frame is over {limit} bytes")
            obj = decode_json(data)
            fid = frame_id(obj)
            frame = validate_client(obj)
            allows = ALLOWS[conn.session.state]
            if type(frame) not in allows.frames:
                raise allows.refuse()
            scope = SCOPE[type(frame)]
            if scope is not None and conn.scopes is not None and scope not in conn.scopes:
                raise accounts.missing_scope(scope)
            if type(frame) not in QUEUED:
                await self._in_turn(conn)
            await ROUTES[type(frame)](self, conn, frame)
            return
        except ChatError as err:
            error = err
        except StoreError as exc:
            error = unavailable(exc)
        except Exception:
            log.exception("handling a frame failed")
            error = ChatError(ErrorCode.internal_error, "internal error")
        await self._in_turn(conn)
        conn.send_error(error, fid)

    # --- queued sends --------------------------------------------------------------

    async def after_commit(
        self,
        conn: Conn,
        pending: asyncio.Future[Result],
        fid: FrameId,
        ack: Callable[[StoredMessage], dict[str, Any]] | None,
        *,
        ordered: bool = False,
    ) -> None:
        """Answer a queued send once its commit is done: `ack`'s frame (None:
        nothing on success, as the S1 tutorial's, whose sender sees the push)
        or the error it became. On a pipelined connection this returns at once
        and the answer follows the commit, so the next frame is read and one
        commit carries many sends; answers written this way keep send order,
        as the writer resolves sends in queue order. `ordered`: no later
        answer or error on the connection may overtake this one (S1 tutorial
        clients match what they get by its order, not by ids)."""

        def answer(fut: asyncio.Future[Result]) -> None:
            if self._unsettled.get(conn) is fut:
                del self._unsettled[conn]
            if fut.cancelled():  # the server is shutting down: no answer, the client retries
                return
            try:
                stored = self.hub.outcome(fut)
            except ChatError as err:
                conn.send_error(err, fid)
                return
            except Exception:
                log.exception("send failed")
                conn.send_error(ChatError(ErrorCode.internal_error, "internal error"), fid)
                return
            if ack is not None:
                conn.send(ack(stored))

        if not conn.pipelined:  # a Lambda answers within its invocation
            await asyncio.wait([pending])
            answer(pending)
            return
        if ordered:
            self._unsettled[conn] = pending
        pending.add_done_callback(answer)

    async def _in_turn(self, conn: Conn) -> None:
        """Wait until the outcome of every `ordered` send queued before is
        written. The last one is enough: the writer resolves sends in queue
        order, and each answer was added to its future before this wait was."""
        pending = self._unsettled.get(conn)
        if pending is not None:
            await asyncio.wait([pending])

    # --- control events ----------------------------------------------------------------

    def control(self, conn: Conn, env: Envelope) -> None:
        """An event on the user's own topic that changes what `conn` follows,
        before it is delivered: after `channel_left`, nothing more of that
        channel reaches the connection, and a tutorial room it was opened on
        closes; a connection of an ended session, or of a deactivated
        account, closes. A tutorial connection's room, which it does not look
        up again for each message, follows its `channel_updated` events."""
        if env.kind == "channel_updated":
            conn.room = tutorial.updated(conn.room, env)
            return
        if env.kind in ENDS:
            if events.ends_session(env.ref, conn.session_id):
                code, err = ENDS[env.kind]
                self.refuse(conn, code, err(), None)
            return
        if env.kind != "channel_left" or not env.ref:
            return
        conn.unfollow(env.ref)
        if conn.room is not None and events.channel_topic(conn.room.id) == env.ref:
            conn.close(CloseCode.room_unavailable)
