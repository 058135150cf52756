"""Server-to-client WebSocket frames, built once and written to many sockets.

Server frames are never masked and compression is off, so the bytes of a frame
are the same for every recipient: that is what lets fan-out encode once.
"""

from __future__ import annotations

import struct

_FIN_TEXT = 0x81


def text_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((_FIN_TEXT, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", _FIN_TEXT, 126, n) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, n) + payload
