"""One connection's receive path: however the bytes are cut into reads, the
gateway gets the same messages in the same order, control frames are answered,
and bad frames still close with websockets' codes. Plain data frames must not
go through websockets' parser (that is the point of `_split`)."""

from __future__ import annotations

import gc
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.uri import parse_uri

from hubbub.protocol.limits import Limits
from hubbub.server.connection import PARTIAL_MAX, Connection
from support import HANDSHAKE, client_frame


class Transport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.out += data

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 5555) if name == "peername" else None

    def set_write_buffer_limits(self, high: int) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    abort = close

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Gateway:
    """Takes every message on the spot (`answer_now`), so no task is needed."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.messages: list[bytes] = []

    def origin_allowed(self, origin: str | None, headers: Any) -> bool:
        return True

    def redact(self, text: str) -> str:
        return text

    @property
    def engine(self) -> Gateway:
        return self  # the session layer's part: only `answer_now` is reached

    def attach(self, conn: Connection, params: dict[str, str]) -> None:
        pass

    def detach(self, conn: Connection, was: object) -> None:
        pass

    def answer_now(self, conn: Connection, data: bytes) -> bool:
        self.messages.append(data)
        return True


def connect(limits: Limits | None = None) -> tuple[Connection, Gateway, Transport]:
    gateway = Gateway(limits or Limits())
    conn = Connection(app_state={"gateway": gateway})
    transport = Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, gateway, transport


def server_frames(out: bytes) -> list[Frame]:
    """Parse what the server wrote after its 101 response."""
    body = out[out.index(b"\r\n\r\n") + 4 :]
    client = ClientProtocol(parse_uri("ws://x/ws"), state=State.OPEN)
    client.receive_data(body)
    return [e for e in client.events_received() if isinstance(e, Frame)]


BIG = b"B" * (PARTIAL_MAX + 10)
STREAM = [
    client_frame(Opcode.TEXT, b'{"action":"ping","id":1}'),
    client_frame(Opcode.PING, b"beat"),
    client_frame(Opcode.TEXT, "héllo ünïcode".encode()),
    client_frame(Opcode.TEXT, b"frag", fin=False),
    client_frame(Opcode.PING, b"mid"),
    client_frame(Opcode.CONT, b"ment", fin=False),
    client_frame(Opcode.CONT, b"ed"),
    client_frame(Opcode.BINARY, b"\x00\x01 binary"),
    client_frame(Opcode.TEXT, b"m" * 300),
    client_frame(Opcode.TEXT, BIG),
    client_frame(Opcode.TEXT, b""),
    client_frame(Opcode.TEXT, b"last"),
]
MESSAGES = [
    b'{"action":"ping","id":1}',
    "héllo ünïcode".encode(),
    b"fragmented",
    b"\x00\x01 binary",
    b"m" * 300,
    BIG,
    b"",
    b"last",
]
LIMITS = Limits(max_frame_bytes=len(BIG) + 100)


def feed(conn: Connection, data: bytes, cuts: list[int]) -> None:
    pos = 0
    for size in cuts:
        if pos >= len(data):
            return
        conn.data_received(data[pos : pos + size])
        pos += size
    if pos < len(data):
        conn.data_received(data[pos:])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 400), max_size=60), st.booleans())
def test_any_cut_gives_the_same_messages_in_order(cuts: list[int], with_handshake: bool) -> None:
    conn, gateway, transport = connect(LIMITS)
    stream = b"".join(STREAM)
    if with_handshake:  # frames in the same reads as the HTTP request
        feed(conn, HANDSHAKE + stream, cuts)
    else:
        conn.data_received(HANDSHAKE)
        feed(conn, stream, cuts)
    assert gateway.messages == MESSAGES
    if with_handshake:
        return  # websockets writes pongs parsed before the 101 ahead of it: not ours to check
    pongs = [fr.data for fr in server_frames(bytes(transport.out)) if fr.opcode is Opcode.PONG]
    assert pongs == [b"beat", b"mid"]


def test_plain_frames_bypass_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    conn, gateway, _ = connect()
    conn.data_received(HANDSHAKE)
    calls: list[bytes] = []
    real = conn.ws.receive_data
    monkeypatch.setattr(conn.ws, "receive_data", lambda d: (calls.append(d), real(d)))
    frames = [client_frame(Opcode.TEXT, f"m{i}".encode()) for i in range(3)]
    conn.data_received(b"".join(frames))
    conn.data_received(frames[0][:3])  # and across reads
    conn.data_received(frames[0][3:])
    assert gateway.messages == [b"m0", b"m1", b"m2", b"m0"]
    assert calls == []
    conn.data_received(client_frame(Opcode.PING, b"p"))
    assert len(calls) == 1  # control frames still go to websockets


def reachable(root: object) -> list[object]:
    """Everything `root` holds, through generators' frames too (gc walks
    their locals), short of classes, modules and functions."""
    seen, todo, found = {id(root)}, [root], []
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)
    while todo and len(found) < 100_000:
        for ref in gc.get_referents(todo.pop()):
            if id(ref) not in seen and not isinstance(ref, skip):
                seen.add(id(ref))
                found.append(ref)
                todo.append(ref)
    return found


def test_an_open_connection_keeps_nothing_of_its_handshake() -> None:
    # websockets' parser holds the Request (every header: ~3 KB) in its
    # generator's frame while it parses frames; an idle connection is mostly
    # that, so it is dropped once the 101 is out (issue #18: <= 8 KB each).
    conn, gateway, _ = connect()
    conn.data_received(HANDSHAKE)
    assert conn.ws.state is State.OPEN
    assert not [o for o in reachable(conn) if isinstance(o, Request)]
    conn.data_received(client_frame(Opcode.TEXT, b"after"))
    conn.data_received(client_frame(Opcode.PING, b"p"))  # the new parser answers
    assert gateway.messages == [b"after"]
    assert conn.inbox is None  # nothing queued: no deque kept either


def close_code(transport: Transport) -> int:
    frames = server_frames(bytes(transport.out))
    assert frames[-1].opcode is Opcode.CLOSE
    return Close.parse(frames[-1].data).code


@pytest.mark.parametrize("size", [1001, PARTIAL_MAX + 1])
async def test_a_frame_over_max_frame_bytes_closes_1009(size: int) -> None:
    conn, gateway, transport = connect(Limits(max_frame_bytes=1000))
    conn.data_received(HANDSHAKE)
    conn.data_received(client_frame(Opcode.TEXT, b"x" * size) + client_frame(Opcode.TEXT, b"y"))
    assert gateway.messages == []
    assert close_code(transport) == 1009


async def test_an_unmasked_frame_closes_1002() -> None:
    conn, gateway, transport = connect()
    conn.data_received(HANDSHAKE)
    conn.data_received(client_frame(Opcode.TEXT, b"ok"))
    conn.data_received(client_frame(Opcode.TEXT, b"bare", mask=False))
    conn.data_received(client_frame(Opcode.TEXT, b"after"))
    assert gateway.messages == [b"ok"]
    assert close_code(transport) == 1002


async def test_nothing_after_a_close_frame_is_delivered() -> None:
    conn, gateway, transport = connect()
    conn.data_received(HANDSHAKE)
    close = client_frame(Opcode.CLOSE, Close(1000, "bye").serialize())
    conn.data_received(
        client_frame(Opcode.TEXT, b"before") + close + client_frame(Opcode.TEXT, b"x")
    )
    assert gateway.messages == [b"before"]
    assert close_code(transport) == 1000  # the echo


BAD_UTF8 = b'{"action":"ping","x":"\xc3\x28"}'


@pytest.mark.parametrize("size", [0, PARTIAL_MAX + 1], ids=["fast-path", "parser-path"])
async def test_a_text_message_that_is_not_utf8_closes_1007(size: int) -> None:
    conn, gateway, transport = connect(Limits(max_frame_bytes=PARTIAL_MAX * 2))
    conn.data_received(HANDSHAKE)
    bad = BAD_UTF8 + b" " * size
    conn.data_received(
        client_frame(Opcode.TEXT, b"ok")
        + client_frame(Opcode.TEXT, bad)
        + client_frame(Opcode.TEXT, b"after")
    )
    assert gateway.messages == [b"ok"]
    assert close_code(transport) == 1007


async def test_a_fragmented_text_message_fails_at_its_first_bad_fragment() -> None:
    conn, gateway, transport = connect()
    conn.data_received(HANDSHAKE)
    conn.data_received(client_frame(Opcode.TEXT, b'{"x":"\xff', fin=False))
    # Closed now, before the message is over (RFC 6455: fail fast).
    assert close_code(transport) == 1007
    conn.data_received(client_frame(Opcode.CONT, b'"}'))
    assert gateway.messages == []


async def test_utf8_cut_between_fragments_and_binary_payloads_pass() -> None:
    conn, gateway, transport = connect()
    conn.data_received(HANDSHAKE)
    e_acute = "é".encode()  # two bytes: one in each fragment
    conn.data_received(client_frame(Opcode.TEXT, b"caf" + e_acute[:1], fin=False))
    conn.data_received(client_frame(Opcode.CONT, e_acute[1:]))
    # Binary frames are the session layer's to judge (an `invalid_utf8` error frame).
    conn.data_received(client_frame(Opcode.BINARY, b"\xff\xfe"))
    conn.data_received(client_frame(Opcode.BINARY, b"\xff", fin=False))
    conn.data_received(client_frame(Opcode.CONT, b"\xfe"))
    assert gateway.messages == ["café".encode(), b"\xff\xfe", b"\xff\xfe"]
    assert not [f for f in server_frames(bytes(transport.out)) if f.opcode is Opcode.CLOSE]
