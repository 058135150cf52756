"""One WebSocket connection: uvicorn hands us the socket at the HTTP upgrade
(`ws=Connection`), and from then on this asyncio.Protocol owns it.

It drives the websockets Sans-I/O `ServerProtocol` for the handshake, control
frames, fragments and protocol errors, unmasks plain data frames itself
(`wsframe`), writes server frames straight to the transport, and feeds decoded
client frames to the session layer in order, one at a time. Nothing here
awaits per recipient; an idle connection owns no task.

It is the self-hosted server's side of the session layer's driver interface
(`hubbub.session.driver.Conn`) and the fan-out's `Subscriber`.
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import contextlib
import logging
import socket
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State as WSState
from websockets.server import ServerProtocol

from hubbub.core.envelope import Envelope
from hubbub.core.models import Channel, Scope, User
from hubbub.protocol.codec import encode
from hubbub.protocol.errors import CLOSE_DOCS, ChatError, CloseCode
from hubbub.server.wsframe import frame_bounds, is_utf8, parser_idle, text_frame, unmask
from hubbub.session.driver import FrameId, Resumed
from hubbub.session.state import SENDING, Event, SessionState, State

if TYPE_CHECKING:
    from hubbub.server.gateway import Gateway

log = logging.getLogger("hubbub.ws")

Step = Callable[[], Awaitable[None]]
CLOSE_TIMEOUT = 5.0
INBOX_HIGH, INBOX_LOW = 64, 8
# An unfinished frame up to this size waits here for its end; a bigger one is
# handed to websockets' parser, whose buffer grows without copying it again.
PARTIAL_MAX = 65536


class Connection(asyncio.Protocol):
    # Slots, not a __dict__: smaller, and one object less to touch per frame.
    # With thousands of idle connections every frame lands on memory gone
    # cold, and on this VM touching cold memory costs microseconds per object.
    __slots__ = (
        "_close_timer",
        "_direct",
        "_fragments",
        "_max_size",
        "_partial",
        "_reading_paused",
        "_upgrade",
        "_utf8",
        "gateway",
        "inbox",
        "last_seen",
        "opened_at",
        "peer",
        "room",
        "scopes",
        "server_state",
        "session",
        "session_id",
        "throttled",
        "transport",
        "user",
        "worker",
        "write",
        "ws",
    )

    # The driver's capabilities (session.driver): acks follow the commit on
    # their own, and a refusal is a close code.
    pipelined = True
    closes_with_code = True

    def __init__(
        self,
        config: Any = None,
        server_state: Any = None,
        app_state: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        assert app_state is not None, "hubbub's lifespan did not run"
        self.gateway: Gateway = app_state["gateway"]
        self.server_state = server_state
        self._max_size = self.gateway.limits.max_frame_bytes
        self.ws = ServerProtocol(max_size=self._max_size, logger=log)
        self.session = SessionState()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.peer = "?"
        self.write: Callable[[bytes], None] = self._write_before_upgrade
        self.user: User | None = None
        self.session_id: str | None = None
        self.scopes: tuple[Scope, ...] | None = None
        self.room: Channel | None = None  # tutorial connection: its room
        self.throttled: dict[str, float] = {}  # key -> when last let through
        # Client frames, and the gateway's own steps (authentication) that must
        # finish before the frames after them are handled; made for a worker
        # and dropped with it, as an empty deque costs ~0.6 KB a connection.
        self.inbox: collections.deque[bytes | Step] | None = None
        self.worker: asyncio.Task[None] | None = None
        self._fragments: list[bytes] = []
        # True while websockets' parser sits idle at a frame boundary: then
        # `_split` frames the bytes itself (`_partial`: the start of the next).
        self._direct = False
        self._partial = b""
        self.opened_at = self.last_seen = time.monotonic()
        self._close_timer: asyncio.TimerHandle | None = None
        self._reading_paused = False
        self._upgrade: Response | None = None  # the 101, while a room is joined first
        # Decoding a fragmented text message as it comes, to fail it early.
        self._utf8: codecs.IncrementalDecoder | None = None

    # --- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = transport = cast(asyncio.Transport, transport)
        self.write = transport.write
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
        # The outbound bound: past it, pause_writing() cuts the client off.
        limits = self.gateway.limits
        transport.set_write_buffer_limits(high=limits.max_buffer_bytes)
        # And a small kernel send buffer below it: left to autotune, the
        # kernel would hold megabytes more for a client that stopped reading,
        # and the bound above would hardly ever be reached.
        sock = transport.get_extra_info("socket")
        if sock is not None and limits.socket_send_buffer:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, limits.socket_send_buffer)
        if self.server_state is not None:
            self.server_state.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.last_seen = time.monotonic()
        if self._direct:
            parsed = self._split(data)
        else:
            self._parse(data)
            parsed = True
        if parsed:  # websockets may owe a pong or a close; the fast path wrote its own
            self._flush()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.server_state is not None:
            self.server_state.connections.discard(self)
        if self._close_timer is not None:
            self._close_timer.cancel()
        was = self.session.state
        if was is not State.CLOSED:
            self.session.fire(Event.LOST)
            self.gateway.detach(self, was)
            if was is not State.CLOSING:  # the client went, not told by us
                log.info(
                    "%s connection lost", self.peer, extra={"event": "lost", "peer": self.peer}
                )

    def pause_writing(self) -> None:
        # The client stopped reading and its outbound buffer passed
        # max_buffer_bytes. Drop it from fan-out now, so it costs nothing more.
        log.warning(
            "%s slow consumer, closing", self.peer, extra={"event": "slow", "peer": self.peer}
        )
        self.close(CloseCode.slow_consumer)

    def resume_writing(self) -> None:
        pass

    def shutdown(self) -> None:
        """Called by uvicorn on server shutdown."""
        self.close(CloseCode.going_away)

    # --- sending -----------------------------------------------------------------

    def send(self, frame: dict[str, Any]) -> None:
        self.send_raw(encode(frame))

    def send_raw(self, payload: bytes) -> None:
        if self.session.state in SENDING:
            self._upgraded()
            self.transport.write(text_frame(payload))

    def send_error(self, err: ChatError, fid: FrameId = None) -> None:
        self.send({"type": "error", "id": fid, **err.body()})

    @staticmethod
    def _write_before_upgrade(data: bytes) -> None:
        raise RuntimeError("no transport yet")

    def close(self, code: CloseCode, reason: str = "") -> None:
        was = self.session.state
        if was not in SENDING:
            return
        self.session.fire(Event.CLOSE_SENT)
        self.gateway.detach(self, was)
        log.info(
            "%s closing with %d",
            self.peer,
            code,
            extra={
                "event": "close",
                "by": "server",
                "peer": self.peer,
                "code": int(code),
                "reason": reason,
            },
        )
        if self._reading_paused:  # read on, or the peer's close frame is never seen
            self._reading_paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()
        self._upgraded()  # a refusal while joining: the 101, then the close
        if self.ws.state is WSState.OPEN:
            self.ws.send_close(code, (reason or CLOSE_DOCS.get(code, ""))[:120])
            self._flush()
        self._close_timer = asyncio.get_running_loop().call_later(
            CLOSE_TIMEOUT, self.transport.abort
        )

    def _flush(self) -> None:
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)
            else:  # websockets' "send EOF now": a server closes TCP first
                self.transport.close()
        if self.ws.state is WSState.CLOSED and not self.transport.is_closing():
            self.transport.close()

    # --- receiving -------------------------------------------------------------------

    def _parse(self, data: bytes) -> None:
        """Give bytes to websockets' parser and act on what it makes of them."""
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Request):
                self._handshake(event)
            elif isinstance(event, Frame):
                self._frame(event)
        # Not in the middle of a fragmented message either: its continuation
        # frames all go to the parser, which counts them against max_size.
        self._direct = (
            self.ws.state is WSState.OPEN and self.ws.current_size is None and parser_idle(self.ws)
        )

    def _split(self, data: bytes) -> bool:
        """Frame the stream here while the parser is idle: a whole masked text
        or binary frame is unmasked and queued at once; any other frame goes
        to the parser whole, so it is idle again after it (or closing).
        True when the parser was given anything."""
        buf = self._partial + data if self._partial else data
        self._partial = b""
        pos, parsed = 0, False
        while self._direct:
            bounds = frame_bounds(buf, pos)
            if bounds is None or bounds.end > len(buf):
                if bounds is None or bounds.end - pos <= PARTIAL_MAX:
                    self._partial = buf[pos:]
                    return parsed
                break  # a big frame: the parser buffers it (and checks max_size)
            size = bounds.end - bounds.start
            if bounds.plain and size <= self._max_size:
                data = unmask(buf, bounds)
                if bounds.text and not is_utf8(data):
                    self._invalid_utf8()
                    self._parse(buf[bounds.end :])  # the parser sees the peer's close
                    return True
                self.enqueue(data)
            else:
                self._parse(buf[pos : bounds.end])
                parsed = True
            pos = bounds.end
        if pos < len(buf):
            self._parse(buf[pos:])
            parsed = True
        return parsed

    def _handshake(self, request: Request) -> None:
        path, _, query = request.path.partition("?")
        if path != "/ws":
            return self._reject(404, "Not Found: the WebSocket endpoint is /ws\n")
        if not self.gateway.origin_allowed(request.headers.get("Origin"), request.headers):
            return self._reject(403, "Forbidden: Origin not allowed\n")
        # Blank values kept: `?token=` is a bad token (4001), not "no token".
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        response = self.ws.accept(request)
        if response.status_code != 101:
            self.ws.send_response(response)
            return
        path = self.gateway.redact(request.path)
        log.info(
            "%s WebSocket %s accepted",
            self.peer,
            path,
            extra={"event": "open", "peer": self.peer, "path": path},
        )
        self._upgrade = response
        step = self.gateway.attach(self, params)
        if step is None or "room_name" not in params:
            self._upgraded()
            if step is not None:
                self.enqueue(step)
            return

        async def join_then_upgrade() -> None:
            # An S1 tutorial connection joins its room's fan-out before its
            # 101, as API Gateway finishes `$connect` before the upgrade: the
            # protocol has no resume, so a message sent the moment the
            # handshake completes must reach it.
            try:
                await step()
            finally:
                self._upgraded()

        self.enqueue(join_then_upgrade)

    def _upgraded(self) -> None:
        """Send the 101 held back by `_handshake` (once; before any frame)."""
        response, self._upgrade = self._upgrade, None
        if response is not None:
            self.ws.send_response(response)
            self._flush()
            if self.ws.state is WSState.OPEN and parser_idle(self.ws):
                # websockets' parser keeps the handshake's Request (its
                # headers: ~3 KB) in its generator's frame for as long as it
                # runs. With nothing buffered, a protocol that starts OPEN is
                # the same parser without it (issue #18: idle memory).
                self.ws = ServerProtocol(state=WSState.OPEN, max_size=self._max_size, logger=log)

    def _reject(self, status: int, text: str) -> None:
        self.ws.send_response(self.ws.reject(status, text))

    def _frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            if not self._text_ok(frame):
                self._invalid_utf8()
                return
            if not frame.fin:
                self._fragments.append(bytes(frame.data))
                return
            if self._fragments:
                self._fragments.append(bytes(frame.data))
                data = b"".join(self._fragments)
                self._fragments.clear()
            else:
                data = bytes(frame.data)
            self.enqueue(data)
        elif frame.opcode is Opcode.CLOSE:
            was = self.session.state
            if was in SENDING:
                self.session.fire(Event.CLOSE_SENT)  # websockets echoed the close
                self.gateway.detach(self, was)
                code = self.ws.close_rcvd.code if self.ws.close_rcvd else None
                log.info(
                    "%s closed by the client (%s)",
                    self.peer,
                    code,
                    extra={"event": "close", "by": "client", "peer": self.peer, "code": code},
                )

    def _text_ok(self, frame: Frame) -> bool:
        """Fail fast on a text message that is not UTF-8, fragment by fragment
        (RFC 6455 section 8.1): a fragment that cannot start valid UTF-8 fails
        the connection without waiting for the rest."""
        if frame.opcode is Opcode.TEXT:
            self._utf8 = codecs.getincrementaldecoder("utf-8")()
        elif frame.opcode is Opcode.BINARY:
            self._utf8 = None
        if self._utf8 is None:
            return True
        try:
            self._utf8.decode(frame.data, final=frame.fin)
        except UnicodeDecodeError:
            return False
        finally:
            if frame.fin:
                self._utf8 = None
        return True

    def _invalid_utf8(self) -> None:
        self._direct = False  # from here on every byte goes to websockets' parser
        self._fragments.clear()
        self.close(CloseCode.invalid_data, "invalid UTF-8 in a text message")

    def enqueue(self, data: bytes | Step) -> None:
        """Queue a client frame; frames are handled strictly in arrival order."""
        if self.session.state is State.CLOSING:
            return
        if (
            self.worker is None
            and isinstance(data, bytes)
            and self.gateway.engine.answer_now(self, data)
        ):
            return  # nothing queued before it, so order is kept
        if self.inbox is None:
            self.inbox = collections.deque()
        self.inbox.append(data)
        if len(self.inbox) >= INBOX_HIGH and not self._reading_paused:
            self._reading_paused = True  # backpressure on a client that floods
            self.transport.pause_reading()
        if self.worker is None:
            self.worker = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        inbox = self.inbox
        assert inbox is not None
        try:
            while inbox:
                data = inbox.popleft()
                if self._reading_paused and len(inbox) <= INBOX_LOW:
                    self._reading_paused = False
                    if not self.transport.is_closing():
                        self.transport.resume_reading()
                if self.session.state in (State.CLOSING, State.CLOSED):
                    inbox.clear()
                    break
                if isinstance(data, bytes):
                    await self.gateway.engine.handle(self, data)
                else:
                    await data()
        finally:
            self.worker = None
            if not inbox:
                self.inbox = None

    # --- the session layer's driver interface ------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.session.open

    @property
    def key(self) -> object:
        return id(self)

    async def admit(self, user: User | None, room: Channel | None) -> None:
        self.user, self.room = user, room
        self.session.fire(Event.AUTHENTICATED if user is not None else Event.ADMITTED)

    async def follow(self, topic: str, *, tutorial: bool = False) -> None:
        await self.gateway.fanout.follow(topic, self, tutorial=tutorial)

    async def resume(self, topic: str, channel: Channel, since: int | None) -> Resumed:
        return await self.gateway.fanout.resume(topic, self, channel, since)

    def unfollow(self, topic: str) -> None:
        self.gateway.fanout.unfollow(topic, self)

    async def followed(self) -> set[str]:
        return set(self.gateway.fanout.followed(self))

    def control(self, env: Envelope) -> None:
        self.gateway.engine.control(self, env)

    async def throttle(self, key: str, every: float) -> bool:
        now = time.monotonic()
        if now - self.throttled.get(key, -every) < every:
            return False
        self.throttled[key] = now
        return True
