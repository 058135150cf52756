"""The Lambda driver: what `$connect`, `$disconnect` and each frame do, on the
same session layer (`hubbub.session.engine`) as the self-hosted server.

What differs is only what a Lambda cannot hold: a connection's state lives in
the connections table (its state name, user and room), not in memory, and
every frame to a client goes through the Management API (collected per
invocation, posted in order at the end). Consequences, documented in
docs/deploy-aws.md: `$connect` cannot push, so a `?token=` connection gets no
`hello` (send `auth` to get one); a refused `$connect` is an HTTP status, not a
close code; a refused `auth` frame is an error frame, then the connection is
dropped; throttling of sends is API Gateway's (stage route settings).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from hubbub.aws.connections import ConnectionInfo, ConnectionTable
from hubbub.aws.push import PushBus
from hubbub.aws.sequencer import Sequencer
from hubbub.core.auth import Claims
from hubbub.core.envelope import Envelope
from hubbub.core.hub import Hub, unavailable
from hubbub.core.models import Channel, Scope, User
from hubbub.core.ports import StoreError
from hubbub.protocol.codec import encode
from hubbub.protocol.errors import ChatError, CloseCode
from hubbub.session.driver import FrameId, Resumed
from hubbub.session.engine import ENDED_BY, Engine
from hubbub.session.state import SENDING, Event, SessionState, State
from hubbub.store.dynamo.order import Turn

log = logging.getLogger("hubbub.aws")

# How a refused `$connect` answers: API Gateway turns the status into the
# handshake's HTTP response.
CONNECT_STATUS = {CloseCode.auth_failed: 401, CloseCode.room_unavailable: 404}


@dataclasses.dataclass
class Response:
    """What a handler returns to API Gateway (for `$connect`: accept or refuse)."""

    status: int
    body: str = ""

    def to_lambda(self) -> dict[str, Any]:
        return {"statusCode": self.status, "body": self.body}


class LambdaConnection:
    """One invocation's view of a connection. `send` only collects frames and
    `unfollow` only notes topics; `LambdaGateway.flush` applies both, in order,
    when the event is handled."""

    # The driver's capabilities (session.driver): a send's ack waits for the
    # commit inside the invocation, and a Lambda cannot choose a close code.
    pipelined = False
    closes_with_code = False

    def __init__(
        self,
        table: ConnectionTable,
        hub: Hub,
        connection_id: str,
        sequencer: Sequencer | None = None,
    ) -> None:
        self.table = table
        self.hub = hub
        self.sequencer = sequencer
        self.id = connection_id
        self.turns: list[Turn] = []  # channels' turns held until the outbox is posted
        self.session = SessionState()
        self.user: User | None = None
        self.session_id: str | None = None
        self.scopes: tuple[Scope, ...] | None = None
        self.room: Channel | None = None
        self.outbox: list[bytes] = []
        self.dropped: list[str] = []
        self.closed: tuple[CloseCode, str] | None = None

    async def load(self, info: ConnectionInfo | None) -> None:
        """The state, user and room the connections table holds for it."""
        if info is None:
            return
        self.session = SessionState(State(info.state))
        self.session_id = info.session_id
        if info.user_id is not None:
            if info.session_id is None:  # registered before sessions existed
                self.user = await self.hub.user_by_id(info.user_id)
            else:
                # No process holds this connection between frames to close it
                # when its session ends: each frame checks (cached a second).
                claims = Claims(info.user_id, info.session_id)
                identity = await self.hub.accounts.identify(claims)
                self.user, self.scopes = identity.user, identity.session.scopes
        if info.room is not None:
            self.room = await self.hub.store.get_channel(info.room)

    @property
    def key(self) -> object:
        return self.id

    def send(self, frame: dict[str, Any]) -> None:
        self.outbox.append(encode(frame))

    def send_error(self, err: ChatError, fid: FrameId = None) -> None:
        self.send({"type": "error", "id": fid, **err.body()})

    def close(self, code: CloseCode, reason: str = "") -> None:
        if self.session.state in SENDING:
            self.session.fire(Event.CLOSE_SENT)
            self.closed = (code, reason)

    async def admit(self, user: User | None, room: Channel | None) -> None:
        self.session.fire(Event.AUTHENTICATED if user is not None else Event.ADMITTED)
        self.user, self.room = user, room
        await self.table.register(
            self.id,
            user.id if user else None,
            room.name if room else None,
            state=self.session.state.value,
            session_id=self.session_id,
        )

    async def follow(self, topic: str, *, tutorial: bool = False) -> None:
        await self.table.follow(self.id, topic, "tutorial" if tutorial else "native")

    async def resume(self, topic: str, channel: Channel, since: int | None) -> Resumed:
        # In the channel's turn (see aws.sequencer), held until our outbox is
        # posted: no push of the channel runs meanwhile, so the replay and the
        # live pushes do not interleave, and the replay ends at the push
        # cursor, where the next turn's pushes begin.
        turn = None if self.sequencer is None else await self.sequencer.take(channel.id)
        if turn is not None:
            self.turns.append(turn)
        # Follow first, then read: what commits after the read is pushed to us.
        await self.table.follow(self.id, topic)
        if turn is not None and turn.pushed is not None:
            latest = turn.pushed
        else:
            latest = await self.hub.latest_seq(channel.id)
        replayed, recovered, last = 0, True, latest
        if since is not None:
            if since > latest:
                recovered = False  # the client knows messages we don't
            else:
                missed, recovered = await self.hub.missed(channel, since)
                replay = [e for e in missed if e.seq <= latest]
                self.outbox.extend(e.frame for e in replay)
                replayed = sum(e.kind != "skipped" for e in replay)
                if recovered:
                    last = max(latest, since)
        return {"last_seq": last, "replayed": replayed, "recovered": recovered}

    def unfollow(self, topic: str) -> None:
        self.dropped.append(topic)

    async def followed(self) -> set[str]:
        return set(await self.table.topics(self.id)) - set(self.dropped)

    async def throttle(self, key: str, every: float) -> bool:
        return await self.table.throttle(self.id, key, every)


class LambdaGateway:
    def __init__(self, hub: Hub, connections: ConnectionTable, bus: PushBus) -> None:
        self.hub = hub
        self.engine = Engine(hub)
        self.connections = connections
        self.bus = bus
        bus.control = self._control

    def _connection(self, connection_id: str) -> LambdaConnection:
        return LambdaConnection(self.connections, self.hub, connection_id, self.bus.sequencer)

    # --- $connect / $disconnect ----------------------------------------------------------

    async def connect(self, connection_id: str, params: dict[str, str]) -> Response:
        conn = self._connection(connection_id)
        try:
            step = self.engine.attach(conn, params)
            if step is not None:
                await step()
            if conn.closed is not None:
                code, reason = conn.closed
                return Response(CONNECT_STATUS.get(code, 403), reason)
            if conn.session.state is State.AWAITING_AUTH:
                await self.connections.register(
                    connection_id, None, None, state=conn.session.state.value
                )
        except ChatError as err:
            return Response(err.code.status, err.message)
        except StoreError as exc:
            log.warning("$connect failed: %s", exc)
            return Response(503, "storage unavailable")
        # `$connect` cannot push: what the engine said (a `hello`) is dropped.
        return Response(200, "Connected.")

    async def disconnect(self, connection_id: str) -> Response:
        conn = self._connection(connection_id)
        try:
            await conn.load(await self.connections.remove(connection_id))
            was = conn.session.state
            if was is not State.CLOSED:
                conn.session.fire(Event.LOST)
                leaving = self.engine.detach(conn, was)
                if leaving is not None:
                    await leaving
        except (StoreError, ChatError) as exc:
            log.warning("$disconnect of %s: %s", connection_id, exc)
        return Response(200, "Disconnected.")

    # --- frames ----------------------------------------------------------------------------

    async def message(self, connection_id: str, data: bytes) -> Response:
        conn = self._connection(connection_id)
        try:
            await conn.load(await self.connections.get(connection_id))
        except ChatError as err:
            # A frame of a connection whose session ended meanwhile (or whose
            # account was deactivated) closes it, saying why.
            code = ENDED_BY.get(err.code)
            if code is not None:
                self.engine.refuse(conn, code, err, None)
            else:
                conn.send_error(err)
        except StoreError as exc:
            conn.send_error(unavailable(exc))
        else:
            await self.engine.handle(conn, data)
        await self.flush(conn)
        return Response(200)

    async def _control(self, connection_id: str, env: Envelope) -> None:
        """A control event on a user's topic, for one of their connections."""
        conn = self._connection(connection_id)
        try:
            await conn.load(await self.connections.get(connection_id))
        except ChatError as err:
            # Its session ended (most likely by this very event): close it,
            # saying why, rather than fail the publish for every follower.
            self.engine.refuse(conn, ENDED_BY.get(err.code, CloseCode.auth_failed), err, None)
        else:
            self.engine.control(conn, env)
        await self.flush(conn)

    async def flush(self, conn: LambdaConnection) -> None:
        if conn.dropped:
            await self.connections.unfollow(conn.id, conn.dropped)
            conn.dropped = []
        try:
            if conn.outbox:
                await self.bus.push_many([(conn.id, conn.outbox)])
                conn.outbox = []
        finally:
            for turn in conn.turns:
                await _quietly_end(self.bus.sequencer, turn)
            conn.turns = []
        if conn.closed is not None:
            await _quietly(self.bus.pusher.disconnect, conn.id)


async def _quietly_end(seq: Sequencer | None, turn: Turn) -> None:
    """Give a turn up; if that fails, its lease runs out by itself."""
    if seq is not None:
        try:
            await seq.end(turn)
        except StoreError as exc:
            log.warning("ending a turn of channel %d failed: %s", turn.channel_id, exc)


async def _quietly(fn: Callable[[str], None], connection_id: str) -> None:
    try:
        await asyncio.to_thread(fn, connection_id)
    except Exception as exc:
        log.warning("closing %s failed: %s", connection_id, exc)
