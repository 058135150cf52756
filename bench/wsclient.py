"""A minimal WebSocket client for load generation: one asyncio.Protocol per
connection, no task and no coroutine per frame.

The receive path is the hot path of the load generator, so it is a plain loop
over the bytes handed to `data_received`: server frames are never masked and
hubbub never fragments, so a frame is a 2-, 4- or 10-byte header and a payload.
Message frames (those starting with `message_prefix`, which depends on the
server's protocol: see `bench.dialects`) are only counted (`messages`); every
other text frame goes to `on_text`, and samplers (see `bench.gen`) get message
payloads too.

Client frames are masked with the all-zero key, which RFC 6455 allows and which
makes masking the identity: a client frame is a header and the payload as is.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from typing import Any

MESSAGE_PREFIX = b'{"type":"message"'
_perf = time.perf_counter


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A masked client frame (mask key 0000: the payload is sent unchanged)."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        header = bytes((first, 0x80 | n))
    elif n < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    return header + b"\0\0\0\0" + payload


CLOSE_FRAME = client_frame(struct.pack("!H", 1000), opcode=0x8)


def handshake(host: str, port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
    ).encode()


class HandshakeFailed(Exception):
    pass


class WSClient(asyncio.Protocol):
    """One connection. Subclasses override `on_text` (non-message frames, and
    message frames when `sampler` is set)."""

    sampler = False
    # A text frame starting with this is a delivery: counted, not decoded.
    message_prefix = MESSAGE_PREFIX

    def __init__(self, host: str, port: int, path: str) -> None:
        self._request = handshake(host, port, path)
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False
        self.messages = 0  # message frames received
        self.frames = 0  # all frames received
        self.now = 0.0  # perf_counter at the last data_received (samplers only)
        self.close_code: int | None = None
        self.lost = False
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()

    # --- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self._request)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.opened.done():
            self.opened.set_exception(HandshakeFailed(f"connection lost: {exc}"))
        self.on_lost()

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            data = self._upgrade(data)
            if not data:
                return
        buf = self.buf + data if self.buf else data
        if self.sampler:
            self.now = _perf()
        n = len(buf)
        i = 0
        count = 0
        frames = 0
        sampler = self.sampler
        prefix = self.message_prefix
        while n - i >= 2:
            length = buf[i + 1]  # server frames: mask bit clear
            if length < 126:
                start = i + 2
            elif length == 126:
                if n - i < 4:
                    break
                length = (buf[i + 2] << 8) | buf[i + 3]
                start = i + 4
            else:
                if n - i < 10:
                    break
                length = int.from_bytes(buf[i + 2 : i + 10], "big")
                start = i + 10
            end = start + length
            if end > n:
                break
            frames += 1
            opcode = buf[i] & 0x0F
            if opcode == 0x1:
                if buf.startswith(prefix, start):
                    count += 1
                    if sampler:
                        self.on_text(buf[start:end])
                else:
                    self.on_text(buf[start:end])
            elif opcode == 0x8:
                self.close_code = (buf[start] << 8) | buf[start + 1] if length >= 2 else 1005
                self.on_close()
            elif opcode == 0x9 and self.transport is not None:  # ping: answer it
                self.transport.write(client_frame(buf[start:end], 0xA))
            i = end
        self.messages += count
        self.frames += frames
        self.buf = buf[i:] if i < n else b""

    def _upgrade(self, data: bytes) -> bytes:
        buf = self.buf + data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self.buf = buf
            return b""
        status = buf[: buf.find(b"\r\n")]
        self.buf = b""
        if b" 101 " not in status:
            if not self.opened.done():
                self.opened.set_exception(HandshakeFailed(buf[:end].decode("latin-1")))
            if self.transport is not None:
                self.transport.close()
            return b""
        self.upgraded = True
        if not self.opened.done():
            self.opened.set_result(None)
        self.on_open()
        return buf[end + 4 :]

    # --- for subclasses ------------------------------------------------------------

    def on_open(self) -> None:
        pass

    def on_text(self, payload: bytes) -> None:
        pass

    def on_close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(CLOSE_FRAME)
            self.transport.close()

    def on_lost(self) -> None:
        pass

    # --- sending ----------------------------------------------------------------------

    def send_bytes(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(payload))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(CLOSE_FRAME)
            self.transport.close()


async def connect(
    factory: Any, host: str, port: int, timeout: float = 10.0
) -> tuple[asyncio.Transport, Any]:
    """Open a TCP connection with `factory()` as its protocol and wait for the
    WebSocket upgrade."""
    loop = asyncio.get_running_loop()
    transport, proto = await asyncio.wait_for(loop.create_connection(factory, host, port), timeout)
    await asyncio.wait_for(proto.opened, timeout)
    return transport, proto
