"""The WebSocket gateway: authentication, routing of client frames to the core
by `action`, subscriptions with resume, and the heartbeat sweep.

Routes are declared as data (`ROUTES`); each handler gets the connection and a
validated frame and writes its answer to the connection.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import orjson

from hubbub.core import events
from hubbub.core.hub import Hub
from hubbub.core.limits import Limits
from hubbub.core.models import AppendRejected, Channel, StoredMessage, User
from hubbub.core.session import State
from hubbub.protocol import frames as f
from hubbub.protocol.codec import decode_json, frame_id, plain_ping, validate_client
from hubbub.protocol.errors import ChatError, CloseCode, ErrorCode
from hubbub.server import tutorial
from hubbub.server.connection import Connection
from hubbub.server.fanout import Fanout
from hubbub.server.gcpolicy import GCPolicy
from hubbub.store.base import StoreError

log = logging.getLogger("hubbub.gateway")

TYPING_EVERY = 2.0  # seconds between relayed typing events per connection and channel
# `token=...` in a query string, and `"token": "..."` in a logged JSON frame.
_TOKEN_RE = re.compile(r"(token=)[^&\s\"']*|(\"token\"\s*:\s*\")[^\"]*")

F = TypeVar("F", bound=f.ClientFrame)
Handler = Callable[["Gateway", Connection, Any], Awaitable[None]]


def redact(text: str) -> str:
    """Hide tokens in anything logged."""
    return _TOKEN_RE.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


class Gateway:
    def __init__(self, hub: Hub, fanout: Fanout, allowed_origins: tuple[str, ...] = ()) -> None:
        self.hub = hub
        self.fanout = fanout
        self.allowed_origins = allowed_origins
        self.connections: set[Connection] = set()
        self.unauthenticated: set[Connection] = set()  # the sweep's auth deadline applies
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.gc = GCPolicy()
        fanout.control = self._control

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
        """Browsers always send Origin; other clients (wscat, bots) may not."""
        if origin is None or "*" in self.allowed_origins or origin in self.allowed_origins:
            return True
        return urllib.parse.urlsplit(origin).netloc == headers.get("Host")

    def attach(self, conn: Connection, params: dict[str, str]) -> None:
        """The upgrade succeeded: decide how this connection identifies itself."""
        self.connections.add(conn)
        self.unauthenticated.add(conn)
        self.gc.connection_opened()
        token, room = params.get("token"), params.get("room_name")
        if token is not None:
            try:
                user_id = self.hub.token_user_id(token)
            except ChatError as err:
                conn.close(CloseCode.auth_failed, err.message)
                return

            async def login() -> None:
                await self._login(conn, user_id, room)

            conn.token_presented = True
            conn.enqueue(login)
        elif room is not None:
            if not self.hub.allow_guests:
                conn.close(CloseCode.auth_failed, "guests are off here: connect with ?token=")
                return

            async def guest() -> None:
                await tutorial.open_room(self, conn, room, None)

            conn.token_presented = True  # nothing to present: the room opens it
            conn.enqueue(guest)
        # else: AWAITING_AUTH until an `auth` frame or the auth timeout.

    async def _login(self, conn: Connection, user_id: int, room: str | None) -> None:
        try:
            user = await self.hub.user_by_id(user_id)
        except ChatError as err:
            conn.close(CloseCode.auth_failed, err.message)
            return
        if conn.session.state is not State.AWAITING_AUTH:
            return  # it went away while we read the user
        if not self.hub.may_connect(user):
            conn.close(CloseCode.too_many_connections)
            return
        conn.authenticated(user)
        conn.counted = True
        await self.hub.connected(user)
        await self.fanout.add_live(events.user_topic(user.id), conn)
        if room is not None:
            await tutorial.open_room(self, conn, room, user)
        else:
            conn.send(events.hello(user, self.limits))

    def detach(self, conn: Connection) -> None:
        """Forget a closing connection everywhere; safe to call twice."""
        self.unauthenticated.discard(conn)
        if conn in self.connections:
            self.connections.discard(conn)
            self.gc.connection_closed()
        for topic in conn.channels:
            self.fanout.remove(topic, conn)
        for topic in conn.watched:
            self.fanout.remove(topic, conn)
        conn.channels.clear()
        conn.watched.clear()
        if conn.user is not None:
            self.fanout.remove(events.user_topic(conn.user.id), conn)
            if conn.counted:
                conn.counted = False
                self.spawn(self.hub.disconnected(conn.user))

    def _control(self, topic: str, data: bytes) -> None:
        """Events on a user's own topic that change what their connections follow."""
        if not topic.startswith("u:") or b'"channel_left"' not in data:
            return
        event = orjson.loads(data)
        if event.get("type") != "channel_left":
            return
        name = event["channel"]["name"]
        t = self.fanout.topics.get(topic)
        for conn in list(t.live) if t else []:
            for ch_topic, channel in list(conn.channels.items()):
                if channel.name == name:
                    del conn.channels[ch_topic]
                    self.fanout.remove(ch_topic, conn)
                    if conn.guest_room is not None:
                        conn.close(CloseCode.room_unavailable)

    # --- frames ------------------------------------------------------------------------

    def answer_now(self, conn: Connection, data: bytes) -> bool:
        """Answer a heartbeat `ping` on the spot, without the task and queue
        every other frame goes through: with 19,000 idle connections pinging
        every 30 s, that task was a third of the server's idle CPU. Anything
        else, or a ping that is not plainly valid, returns False and takes the
        normal path (which sends the errors)."""
        if b'"ping"' not in data or conn.session.state is not State.OPEN:
            return False
        is_ping, fid = plain_ping(data)
        if is_ping:
            conn.send(events.pong(fid, int(time.time() * 1000)))
        return is_ping

    async def handle(self, conn: Connection, data: bytes) -> None:
        fid: str | int | None = None
        try:
            obj = decode_json(data)
            fid = frame_id(obj)
            frame = validate_client(obj)
            if conn.session.state is State.AWAITING_AUTH and not isinstance(frame, f.Auth):
                raise ChatError(ErrorCode.not_authenticated, "send an auth frame first")
            if conn.user is None and conn.session.open and type(frame) not in GUEST_ROUTES:
                raise ChatError(
                    ErrorCode.forbidden, "guests may only use sendMessage and getRecentMessages"
                )
            await ROUTES[type(frame)](self, conn, frame)
        except ChatError as err:
            conn.send_error(err, fid)
        except StoreError as exc:
            conn.send_error(ChatError(ErrorCode.unavailable, f"storage unavailable: {exc}"), fid)
        except Exception:
            log.exception("%s handling a frame failed", conn.peer)
            conn.send_error(ChatError(ErrorCode.internal_error, "internal error"), fid)

    async def _subscribe(
        self, conn: Connection, channel: Channel, since: int | None
    ) -> dict[str, Any]:
        topic = events.channel_topic(channel.id)
        if topic not in conn.channels and len(conn.channels) >= self.limits.max_subscriptions:
            raise ChatError(
                ErrorCode.too_many_subscriptions,
                f"at most {self.limits.max_subscriptions} channels per connection",
            )
        conn.channels[topic] = channel
        if since is None:
            await self.fanout.add_live(topic, conn)
            last_seq = min(channel.last_seq, self._published(topic))
            return {"last_seq": last_seq, "replayed": 0, "recovered": True}
        await self.fanout.start_sync(topic, conn)
        missed: list[StoredMessage] = []
        try:
            if since > channel.last_seq:
                missed, recovered = [], False  # the client knows messages we don't
            else:
                missed, recovered = await self.hub.missed(channel, since)
        except BaseException:
            conn.channels.pop(topic, None)
            self.fanout.remove(topic, conn)
            raise
        # Committed but not yet published on this node: it is on its way live,
        # so replaying it too would deliver it twice.
        published = self._published(topic)
        missed = [m for m in missed if m.seq <= published]
        last = since
        for m in missed:
            conn.send(events.message_event(m))
            last = m.seq
        if not recovered:
            last = channel.last_seq
        # From here to the end nothing awaits, so no event can slip in between.
        # finish_sync returns the very list start_sync buffered into: once each.
        for data in self.fanout.finish_sync(topic, conn):
            if b'"type":"message"' in data:
                seq = orjson.loads(data)["seq"]
                if seq <= last:
                    continue
                last = seq
            conn.send_raw(data)
        return {
            "last_seq": max(last, min(channel.last_seq, published)),
            "replayed": len(missed),
            "recovered": recovered,
        }

    def _published(self, topic: str) -> int | float:
        """The last seq this node delivered in `topic` (unknown: no bound)."""
        t = self.fanout.topics.get(topic)
        if t is None or self.fanout.catchup is None:
            return float("inf")
        return t.last_seq

    # --- handlers -------------------------------------------------------------------------

    async def on_auth(self, conn: Connection, frame: f.Auth) -> None:
        if conn.session.state is not State.AWAITING_AUTH:
            raise ChatError(ErrorCode.invalid_input, "already authenticated", field="action")
        try:
            user_id = self.hub.token_user_id(frame.token)
        except ChatError as err:
            conn.close(CloseCode.auth_failed, err.message)
            return
        await self._login(conn, user_id, None)

    async def on_subscribe(self, conn: Connection, frame: f.Subscribe) -> None:
        channel, _ = await self.hub.channel_for(self._user(conn), frame.channel)
        result = await self._subscribe(conn, channel, frame.since)
        conn.send({"type": "subscribed", "id": frame.id, "channel": channel.name, **result})

    async def on_unsubscribe(self, conn: Connection, frame: f.Unsubscribe) -> None:
        for topic, channel in list(conn.channels.items()):
            if channel.name == frame.channel:
                del conn.channels[topic]
                self.fanout.remove(topic, conn)
        conn.send({"type": "unsubscribed", "id": frame.id, "channel": frame.channel})

    async def on_send(self, conn: Connection, frame: f.Send) -> None:
        # Checked in order, then queued without waiting for the commit, so the
        # next frame is read at once and one commit carries many sends. The
        # ack is written when the commit is done (acks keep send order).
        pending = await self.hub.queue_send(
            self._user(conn), frame.channel, frame.text, frame.client_id
        )
        fid = frame.id

        def acknowledge(fut: asyncio.Future[StoredMessage | AppendRejected]) -> None:
            if fut.cancelled():  # the server is shutting down: no ack, the client retries
                return
            try:
                conn.send(events.ack(self.hub.outcome(fut), fid))
            except ChatError as err:
                conn.send_error(err, fid)
            except Exception:
                log.exception("%s send failed", conn.peer)
                conn.send_error(ChatError(ErrorCode.internal_error, "internal error"), fid)

        pending.add_done_callback(acknowledge)

    async def on_history(self, conn: Connection, frame: f.History) -> None:
        channel, rows, more = await self.hub.history(
            self._user(conn),
            frame.channel,
            before=frame.before,
            after=frame.after,
            limit=frame.limit,
        )
        conn.send(events.history(frame.id, channel, rows, more))

    async def on_typing(self, conn: Connection, frame: f.Typing) -> None:
        user = self._user(conn)
        membership = await self.hub.member_channel(user, frame.channel)
        now = time.monotonic()
        cid = membership.channel.id
        if now - conn.typing_at.get(cid, -TYPING_EVERY) >= TYPING_EVERY:
            conn.typing_at[cid] = now
            await self.hub.typing(user, membership.channel)
        if frame.id is not None:
            conn.send({"type": "ok", "id": frame.id})

    async def on_read(self, conn: Connection, frame: f.Read) -> None:
        await self.hub.mark_read(self._user(conn), frame.channel, frame.seq)
        if frame.id is not None:
            conn.send({"type": "ok", "id": frame.id})

    async def on_watch_presence(self, conn: Connection, frame: f.WatchPresence) -> None:
        users: list[User] = [await self.hub.user_by_name(n) for n in dict.fromkeys(frame.usernames)]
        wanted = {events.presence_topic(u.id) for u in users}
        for topic in conn.watched - wanted:
            self.fanout.remove(topic, conn)
        for topic in wanted - conn.watched:
            await self.fanout.add_live(topic, conn)
        conn.watched = wanted
        online = await self.hub.online_among([u.id for u in users])
        statuses = {u.username: "online" if u.id in online else "offline" for u in users}
        conn.send({"type": "presence_state", "id": frame.id, "users": statuses})

    async def on_ping(self, conn: Connection, frame: f.Ping) -> None:
        conn.send(events.pong(frame.id, int(time.time() * 1000)))

    async def on_send_message(self, conn: Connection, frame: f.SendMessage) -> None:
        await tutorial.send_message(self, conn, frame)

    async def on_get_recent(self, conn: Connection, frame: f.GetRecentMessages) -> None:
        await tutorial.get_recent_messages(self, conn, frame)

    @staticmethod
    def _user(conn: Connection) -> User:
        if conn.user is None:
            raise ChatError(ErrorCode.forbidden, "guests may only use the tutorial actions")
        return conn.user

    # --- heartbeat -----------------------------------------------------------------------

    async def _sweep(self) -> None:
        """Close connections that never authenticated or went silent, and let
        the GC policy act. One pass costs less than a timer per connection,
        but a pass over all of them is not free either (19,000 take ~20 ms):
        each tick looks only at the few still owing authentication, and the
        whole set is walked for silence every idle_timeout / 4."""
        auth_timeout, idle_timeout = self.limits.auth_timeout, self.limits.idle_timeout
        every = max(0.05, min(1.0, auth_timeout / 4, idle_timeout / 4))
        next_idle_pass = time.monotonic() + idle_timeout / 4
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for conn in list(self.unauthenticated):
                if conn.session.state is not State.AWAITING_AUTH:
                    self.unauthenticated.discard(conn)
                # A connection that presented `?token=` is being logged in (its
                # user row may be slow to come in a connect storm): only the
                # ones still owing an `auth` frame run out of time.
                elif not conn.token_presented and now - conn.opened_at > auth_timeout:
                    conn.close(CloseCode.auth_timeout)
            if now >= next_idle_pass:
                next_idle_pass = now + idle_timeout / 4
                # last_seen first: most connections stop there, and each object
                # looked at (the session is another) is a cold read here.
                for conn in list(self.connections):
                    if now - conn.last_seen > idle_timeout and conn.session.state is State.OPEN:
                        conn.close(CloseCode.heartbeat_timeout)
            self.gc.tick(len(self.connections))


ROUTES: dict[type[f.ClientFrame], Handler] = {
    f.Auth: Gateway.on_auth,
    f.Subscribe: Gateway.on_subscribe,
    f.Unsubscribe: Gateway.on_unsubscribe,
    f.Send: Gateway.on_send,
    f.History: Gateway.on_history,
    f.Typing: Gateway.on_typing,
    f.Read: Gateway.on_read,
    f.WatchPresence: Gateway.on_watch_presence,
    f.Ping: Gateway.on_ping,
    f.SendMessage: Gateway.on_send_message,
    f.GetRecentMessages: Gateway.on_get_recent,
}
GUEST_ROUTES = {f.SendMessage, f.GetRecentMessages, f.Ping}
assert set(ROUTES) == set(f.CLIENT_FRAMES), "every client frame needs a route"
