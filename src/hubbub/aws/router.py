"""The Lambda side of the gateway: what `$connect`, `$disconnect` and each
frame do, on the same core (`Hub`), codec, error frames and tutorial actions as
the self-hosted `hubbub.server.gateway`.

What differs is only what a Lambda cannot hold: a connection's state lives in
the connections table, not in memory, and every frame to a client goes through
the Management API (collected per invocation, posted in order at the end).
Consequences, documented in docs/deploy-aws.md: `$connect` cannot push, so a
`?token=` connection gets no `hello` (send `auth` to get one); a refused
`$connect` is an HTTP status, not a close code; throttling is API Gateway's
(stage route settings), not the in-process rate limiter's.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hubbub.aws.connections import ConnectionInfo, ConnectionTable
from hubbub.aws.push import PushBus
from hubbub.core import events
from hubbub.core.hub import Hub
from hubbub.core.models import Channel, User
from hubbub.protocol import frames as f
from hubbub.protocol.codec import decode_json, encode, frame_id, validate_client
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.server import tutorial
from hubbub.server.gateway import GUEST_ROUTES
from hubbub.store.base import StoreError

log = logging.getLogger("hubbub.aws")


@dataclasses.dataclass
class Response:
    """What a handler returns to API Gateway (for `$connect`: accept or refuse)."""

    status: int
    body: str = ""

    def to_lambda(self) -> dict[str, Any]:
        return {"statusCode": self.status, "body": self.body}


class LambdaConnection:
    """One invocation's view of a connection. `send` only collects frames;
    `LambdaGateway.flush` posts them, in order, when the frame is handled."""

    def __init__(self, connection_id: str, info: ConnectionInfo | None) -> None:
        self.id = connection_id
        self.info = info
        self.user: User | None = None
        self.guest_room: Channel | None = None
        self.outbox: list[bytes] = []
        self.close_after = False

    @property
    def authenticated(self) -> bool:
        return self.info is not None and self.info.authenticated

    def send(self, frame: dict[str, Any]) -> None:
        self.outbox.append(encode(frame))

    def send_error(self, err: ChatError, fid: str | int | None = None) -> None:
        self.send({"type": "error", "id": fid, **err.body()})


Handler = Callable[["LambdaGateway", LambdaConnection, Any], Awaitable[None]]


class LambdaGateway:
    def __init__(self, hub: Hub, connections: ConnectionTable, bus: PushBus) -> None:
        self.hub = hub
        self.connections = connections
        self.bus = bus

    # --- $connect / $disconnect ----------------------------------------------------------

    async def connect(self, connection_id: str, params: dict[str, str]) -> Response:
        token, room = params.get("token"), params.get("room_name")
        user: User | None = None
        try:
            if token is not None:
                user = await self.hub.authenticate(token)
            elif room is not None and not self.hub.allow_guests:
                return Response(401, "guests are off here: connect with ?token=")
            channel = None
            if room is not None:
                try:
                    channel = await tutorial._room(self, room, user)
                except ChatError as err:
                    if err.code in (ErrorCode.not_found, ErrorCode.invalid_name):
                        return Response(404, err.message)  # the room is unavailable
                    raise
            authenticated = user is not None or channel is not None
            await self.connections.register(
                connection_id,
                user.id if user else None,
                channel.name if channel else None,
                authenticated=authenticated,
            )
            if channel is not None:
                await self.connections.follow(
                    connection_id, events.channel_topic(channel.id), "tutorial"
                )
            if user is not None:
                await self._online(connection_id, user)
        except ChatError as err:
            return Response(401 if err.code.status == 401 else err.code.status, err.message)
        except StoreError as exc:
            log.warning("$connect failed: %s", exc)
            return Response(503, "storage unavailable")
        return Response(200, "Connected.")

    async def _online(self, connection_id: str, user: User) -> None:
        await self.connections.follow(connection_id, events.user_topic(user.id))
        if await self.connections.connections_of(user.id) == 1:
            await self._presence(user, "online")

    async def _presence(self, user: User, status: str) -> None:
        await self.hub.publish(
            events.presence_topic(user.id),
            {"type": "presence", "user": user.username, "status": status},
        )

    async def disconnect(self, connection_id: str) -> Response:
        try:
            info = await self.connections.remove(connection_id)
            user_id = info.user_id if info else None
            if user_id is not None and await self.connections.connections_of(user_id) == 0:
                await self._presence(await self.hub.user_by_id(user_id), "offline")
        except (StoreError, ChatError) as exc:
            log.warning("$disconnect of %s: %s", connection_id, exc)
        return Response(200, "Disconnected.")

    # --- frames ----------------------------------------------------------------------------

    async def message(self, connection_id: str, data: bytes) -> Response:
        conn = LambdaConnection(connection_id, None)
        try:
            conn.info = await self.connections.get(connection_id)
            await self._identify(conn)
        except (StoreError, ChatError) as exc:
            err = exc if isinstance(exc, ChatError) else _unavailable(exc)
            conn.send_error(err)
        else:
            await self.handle(conn, data)
        await self.flush(conn)
        return Response(200)

    async def _identify(self, conn: LambdaConnection) -> None:
        if conn.info is None:
            return
        if conn.info.user_id is not None:
            conn.user = await self.hub.user_by_id(conn.info.user_id)
        if conn.info.room is not None:
            conn.guest_room = await self.hub.store.get_channel(conn.info.room)

    async def handle(self, conn: LambdaConnection, data: bytes) -> None:
        """As `Gateway.handle`: every failure is an error frame, never a crash."""
        fid: str | int | None = None
        try:
            limit = self.hub.limits.max_frame_bytes
            if len(data) > limit:
                raise ChatError(ErrorCode.invalid_input, f"frame is over {limit} bytes")
            obj = decode_json(data)
            fid = frame_id(obj)
            frame = validate_client(obj)
            if not conn.authenticated and not isinstance(frame, f.Auth):
                raise ChatError(ErrorCode.not_authenticated, "send an auth frame first")
            if conn.user is None and conn.authenticated and type(frame) not in GUEST_ROUTES:
                raise ChatError(
                    ErrorCode.forbidden, "guests may only use sendMessage and getRecentMessages"
                )
            await ROUTES[type(frame)](self, conn, frame)
        except ChatError as err:
            conn.send_error(err, fid)
        except StoreError as exc:
            conn.send_error(_unavailable(exc), fid)
        except Exception:
            log.exception("%s handling a frame failed", conn.id)
            conn.send_error(ChatError(ErrorCode.internal_error, "internal error"), fid)

    async def flush(self, conn: LambdaConnection) -> None:
        if conn.outbox:
            await self.bus.push_many([(conn.id, conn.outbox)])
            conn.outbox = []
        if conn.close_after:
            await _quietly(self.bus.pusher.disconnect, conn.id)

    # --- native actions --------------------------------------------------------------------

    async def on_auth(self, conn: LambdaConnection, frame: f.Auth) -> None:
        if conn.authenticated:
            raise ChatError(ErrorCode.invalid_input, "already authenticated", field="action")
        try:
            user = await self.hub.authenticate(frame.token)
        except ChatError as err:
            # The self-hosted server closes with 4001; a Lambda cannot pick a
            # close code, so it says why in an error frame, then closes.
            conn.send_error(err, frame.id)
            conn.close_after = True
            return
        await self.connections.register(conn.id, user.id, None, authenticated=True)
        await self._online(conn.id, user)
        conn.send(events.hello(user, self.hub.limits))

    async def on_subscribe(self, conn: LambdaConnection, frame: f.Subscribe) -> None:
        channel, _ = await self.hub.channel_for(conn.user, frame.channel)
        topic = events.channel_topic(channel.id)
        followed = [t for t in await self.connections.topics(conn.id) if t.startswith("c:")]
        limit = self.hub.limits.max_subscriptions
        if topic not in followed and len(followed) >= limit:
            raise ChatError(
                ErrorCode.too_many_subscriptions, f"at most {limit} channels per connection"
            )
        # Follow first, then read: what commits after the read is pushed to us.
        await self.connections.follow(conn.id, topic)
        latest = await self.hub.latest_seq(channel.id)
        replayed, recovered, last = 0, True, latest
        if frame.since is not None:
            if frame.since > latest:
                recovered = False  # the client knows messages we don't
            else:
                missed, recovered = await self.hub.missed(channel, frame.since)
                for m in missed:
                    conn.send(events.message_event(m))
                replayed = len(missed)
                if recovered:
                    last = max(latest, missed[-1].seq if missed else frame.since)
        conn.send(
            {
                "type": "subscribed",
                "id": frame.id,
                "channel": channel.name,
                "last_seq": last,
                "replayed": replayed,
                "recovered": recovered,
            }
        )

    async def on_unsubscribe(self, conn: LambdaConnection, frame: f.Unsubscribe) -> None:
        channel = await self.hub.store.get_channel(frame.channel)
        if channel is not None:
            await self.connections.unfollow(conn.id, [events.channel_topic(channel.id)])
        conn.send({"type": "unsubscribed", "id": frame.id, "channel": frame.channel})

    async def on_send(self, conn: LambdaConnection, frame: f.Send) -> None:
        m = await self.hub.send(_user(conn), frame.channel, frame.text, frame.client_id)
        conn.send(events.ack(m, frame.id))

    async def on_history(self, conn: LambdaConnection, frame: f.History) -> None:
        channel, rows, more = await self.hub.history(
            _user(conn), frame.channel, before=frame.before, after=frame.after, limit=frame.limit
        )
        conn.send(events.history(frame.id, channel, rows, more))

    async def on_typing(self, conn: LambdaConnection, frame: f.Typing) -> None:
        user = _user(conn)
        membership = await self.hub.member_channel(user, frame.channel)
        await self.hub.typing(user, membership.channel)
        if frame.id is not None:
            conn.send({"type": "ok", "id": frame.id})

    async def on_read(self, conn: LambdaConnection, frame: f.Read) -> None:
        await self.hub.mark_read(_user(conn), frame.channel, frame.seq)
        if frame.id is not None:
            conn.send({"type": "ok", "id": frame.id})

    async def on_watch_presence(self, conn: LambdaConnection, frame: f.WatchPresence) -> None:
        users = [await self.hub.user_by_name(n) for n in dict.fromkeys(frame.usernames)]
        wanted = {events.presence_topic(u.id) for u in users}
        watched = {t for t in await self.connections.topics(conn.id) if t.startswith("p:")}
        await self.connections.unfollow(conn.id, sorted(watched - wanted))
        for topic in sorted(wanted - watched):
            await self.connections.follow(conn.id, topic)
        statuses = {}
        for u in users:
            online = await self.connections.connections_of(u.id) > 0
            statuses[u.username] = "online" if online else "offline"
        conn.send({"type": "presence_state", "id": frame.id, "users": statuses})

    async def on_ping(self, conn: LambdaConnection, frame: f.Ping) -> None:
        conn.send(events.pong(frame.id, int(time.time() * 1000)))

    async def on_send_message(self, conn: LambdaConnection, frame: f.SendMessage) -> None:
        await tutorial.send_message(self, conn, frame)

    async def on_get_recent(self, conn: LambdaConnection, frame: f.GetRecentMessages) -> None:
        await tutorial.get_recent_messages(self, conn, frame)


def _user(conn: LambdaConnection) -> User:
    if conn.user is None:
        raise ChatError(ErrorCode.forbidden, "guests may only use the tutorial actions")
    return conn.user


def _unavailable(exc: StoreError) -> ChatError:
    return ChatError(ErrorCode.unavailable, f"storage unavailable: {exc}")


async def _quietly(fn: Callable[[str], None], connection_id: str) -> None:
    import asyncio

    try:
        await asyncio.to_thread(fn, connection_id)
    except Exception as exc:
        log.warning("closing %s failed: %s", connection_id, exc)


ROUTES: dict[type[f.ClientFrame], Handler] = {
    f.Auth: LambdaGateway.on_auth,
    f.Subscribe: LambdaGateway.on_subscribe,
    f.Unsubscribe: LambdaGateway.on_unsubscribe,
    f.Send: LambdaGateway.on_send,
    f.History: LambdaGateway.on_history,
    f.Typing: LambdaGateway.on_typing,
    f.Read: LambdaGateway.on_read,
    f.WatchPresence: LambdaGateway.on_watch_presence,
    f.Ping: LambdaGateway.on_ping,
    f.SendMessage: LambdaGateway.on_send_message,
    f.GetRecentMessages: LambdaGateway.on_get_recent,
}
assert set(ROUTES) == set(f.CLIENT_FRAMES), "every client frame needs a route"
