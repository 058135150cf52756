"""Client frames split by hand: bounds for every header form, and the check
that says websockets' parser may be bypassed."""

from __future__ import annotations

import pytest
from websockets.frames import Opcode
from websockets.server import ServerProtocol

from hubbub.server.wsframe import frame_bounds, parser_idle, unmask
from support import HANDSHAKE, client_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_bounds_and_unmask_for_each_length_form(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    raw = b"junk" + client_frame(Opcode.TEXT, payload)
    bounds = frame_bounds(raw, 4)
    assert bounds is not None and bounds.plain
    assert bounds.end == len(raw)
    assert unmask(raw, bounds) == payload


def test_an_incomplete_header_has_no_bounds() -> None:
    raw = client_frame(Opcode.TEXT, b"x" * 70000)
    for cut in range(10):  # 2 + 8 length bytes
        assert frame_bounds(raw[:cut], 0) is None
    bounds = frame_bounds(raw[:10], 0)
    assert bounds is not None and bounds.start == 14 and bounds.end == len(raw)


@pytest.mark.parametrize(
    "raw",
    [
        client_frame(Opcode.PING, b"hi"),
        client_frame(Opcode.CLOSE, b"\x03\xe8"),
        client_frame(Opcode.TEXT, b"part", fin=False),
        client_frame(Opcode.CONT, b"end"),
        client_frame(Opcode.TEXT, b"unmasked", mask=False),
        bytes([0xC1]) + client_frame(Opcode.TEXT, b"rsv1")[1:],  # compressed bit set
    ],
    ids=["ping", "close", "first-fragment", "continuation", "unmasked", "rsv1"],
)
def test_frames_the_parser_must_see_are_not_plain(raw: bytes) -> None:
    bounds = frame_bounds(raw, 0)
    assert bounds is not None and not bounds.plain and bounds.end == len(raw)


def test_parser_idle_only_at_a_frame_boundary() -> None:
    ws = ServerProtocol()
    assert not parser_idle(ws)  # reading the HTTP request
    ws.receive_data(HANDSHAKE)
    ws.send_response(ws.accept(ws.events_received()[0]))  # type: ignore[arg-type]
    assert parser_idle(ws)
    frame = client_frame(Opcode.TEXT, b"x" * 300)
    ws.receive_data(frame[:1])
    assert not parser_idle(ws)  # buffered
    ws.receive_data(frame[1:8])  # header and mask key consumed: buffer empty, mid-frame
    assert not ws.reader.buffer
    assert not parser_idle(ws)
    ws.receive_data(frame[8:])
    assert parser_idle(ws)
    assert [e.data for e in ws.events_received()] == [b"x" * 300]  # type: ignore[union-attr]
