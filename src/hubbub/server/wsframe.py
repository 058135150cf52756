"""WebSocket framing done by hand where it is hot.

Server frames are never masked and compression is off, so the bytes of a frame
are the same for every recipient: that is what lets fan-out encode once.

Client frames are split here too, so the connection can unmask a plain data
frame itself and give websockets' parser only what needs it (the handshake,
control frames, fragments, protocol errors). That parser is a chain of Python
generators: for a small frame it cost more than everything else the server did
with it.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from websockets.protocol import Protocol
from websockets.streams import StreamReader

try:  # websockets' C helper; its wheels ship it, a source build may not
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

_FIN_TEXT = 0x81
_FIN_BINARY = 0x82
_MASKED = 0x80


def text_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((_FIN_TEXT, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", _FIN_TEXT, 126, n) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, n) + payload


class Bounds(NamedTuple):
    """Where one client frame lies in a buffer; `end` may be past its end."""

    plain: bool  # a whole masked text or binary message, no extension bits
    start: int  # first payload byte (the 4-byte mask key is just before it)
    end: int
    text: bool = False  # a whole text message: its payload must be UTF-8


def frame_bounds(buf: bytes, pos: int) -> Bounds | None:
    """The frame starting at `buf[pos]`, or None until its length is known."""
    avail = len(buf) - pos
    if avail < 2:
        return None
    b0, b1 = buf[pos], buf[pos + 1]
    length, head = b1 & 0x7F, 2
    if length == 126:
        if avail < 4:
            return None
        length, head = int.from_bytes(buf[pos + 2 : pos + 4]), 4
    elif length == 127:
        if avail < 10:
            return None
        length, head = int.from_bytes(buf[pos + 2 : pos + 10]), 10
    masked = bool(b1 & _MASKED)
    if masked:
        head += 4
    start = pos + head
    return Bounds(masked and b0 in (_FIN_TEXT, _FIN_BINARY), start, start + length, b0 == _FIN_TEXT)


def is_utf8(data: bytes) -> bool:
    """RFC 6455 wants a text message's payload to be valid UTF-8. Most chat
    frames are ASCII, which is checked without decoding."""
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def unmask(buf: bytes, bounds: Bounds) -> bytes:
    return apply_mask(buf[bounds.start : bounds.end], buf[bounds.start - 4 : bounds.start])


def parser_idle(ws: Protocol) -> bool:
    """True when websockets' parser waits for the first byte of a frame with
    nothing buffered: only then may bytes bypass it without confusing it.

    It waits there inside `StreamReader.at_eof`, at the bottom of a chain of
    `yield from`s. If a websockets release reshapes that, this says False and
    every byte takes the parser's path: slower, never wrong."""
    if ws.reader.buffer:
        return False
    gen: Any = ws.parser
    while gen.gi_yieldfrom is not None:
        gen = gen.gi_yieldfrom
    return getattr(gen, "gi_code", None) is _AT_EOF


_AT_EOF = StreamReader.at_eof.__code__
