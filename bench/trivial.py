"""A trivial server that speaks just enough of hubbub's wire protocol for the
fan-out and many-rooms scenarios (hello, subscribe, send -> message to the
channel's subscribers + ack, ping), with no database, no validation and no
auth. It exists to calibrate the load generator: whatever rate the generator
reaches against it is the generator's own ceiling, and in many small rooms,
the ceiling of the machine for that traffic (the same writes, nothing else).

    python -m bench.trivial --port 0 [--coalesce]

It fans out the same way hubbub does (one frame built once, one
`transport.write` per subscriber per message). With `--coalesce`, frames for
one subscriber produced in the same loop iteration go out in one write, which
lets this server outrun the generator when one write per message cannot.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import struct
import time
from typing import Any

import orjson

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def text_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def unmask(payload: bytes, key: bytes) -> bytes:
    if key == b"\0\0\0\0":
        return payload
    n = len(payload)
    mask = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ mask).to_bytes(n, "big")


class Room:
    def __init__(self, coalesce: bool) -> None:
        self.subscribers: dict[Conn, None] = {}
        self.seq = 0
        self.coalesce = coalesce
        self.pending: dict[Conn, list[bytes]] = {}
        self.flush_scheduled = False

    def publish(self, frame: bytes) -> None:
        if not self.coalesce:
            for conn in self.subscribers:
                conn.transport.write(frame)
            return
        for conn in self.subscribers:
            self.pending.setdefault(conn, []).append(frame)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        pending, self.pending = self.pending, {}
        for conn, frames in pending.items():
            if not conn.transport.is_closing():
                conn.transport.write(b"".join(frames))


class Conn(asyncio.Protocol):
    def __init__(self, rooms: dict[str, Room], coalesce: bool) -> None:
        self.rooms = rooms  # by channel name, shared by all connections
        self.coalesce = coalesce
        self.joined: list[Room] = []
        self.buf = b""
        self.upgraded = False
        self.transport: Any = None
        self.name = "?"

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        for room in self.joined:
            room.subscribers.pop(self, None)
            room.pending.pop(self, None)

    def room(self, channel: str) -> Room:
        room = self.rooms.get(channel)
        if room is None:
            room = self.rooms[channel] = Room(self.coalesce)
        return room

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            key = b""
            for line in buf[:end].split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"sec-websocket-key":
                    key = value.strip()
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.upgraded = True
            self.send({"type": "hello", "user": {"username": "bench"}, "server_version": "0"})
            buf = buf[end + 4 :]
        i, n = 0, len(buf)
        while n - i >= 2:
            b0, b1 = buf[i], buf[i + 1]
            length = b1 & 0x7F
            start = i + 2
            if length == 126:
                if n - i < 4:
                    break
                length = (buf[i + 2] << 8) | buf[i + 3]
                start = i + 4
            elif length == 127:
                if n - i < 10:
                    break
                length = int.from_bytes(buf[i + 2 : i + 10], "big")
                start = i + 10
            key = buf[start : start + 4]
            start += 4
            end = start + length
            if end > n:
                break
            opcode = b0 & 0x0F
            if opcode == 0x1:
                self.handle(unmask(buf[start:end], key))
            elif opcode == 0x8:
                self.transport.write(b"\x88\x02\x03\xe8")
                self.transport.close()
                return
            i = end
        self.buf = buf[i:] if i < n else b""

    def send(self, obj: dict[str, Any]) -> None:
        self.transport.write(text_frame(orjson.dumps(obj)))

    def handle(self, payload: bytes) -> None:
        obj = orjson.loads(payload)
        action = obj.get("action")
        if action == "subscribe":
            room = self.room(obj["channel"])
            room.subscribers[self] = None
            self.joined.append(room)
            self.send(
                {
                    "type": "subscribed",
                    "id": obj.get("id"),
                    "channel": obj["channel"],
                    "last_seq": 0,
                }
            )
        elif action == "send":
            room = self.room(obj["channel"])
            room.seq += 1
            body = {
                "channel": obj["channel"],
                "seq": room.seq,
                "author": {"username": "b00000", "display_name": "b00000"},
                "text": obj["text"],
                "client_id": obj["client_id"],
                "created_at": int(time.time() * 1000),
            }
            room.publish(text_frame(orjson.dumps({"type": "message", **body})))
            self.send(
                {
                    "type": "ack",
                    "id": obj.get("id"),
                    "channel": obj["channel"],
                    "seq": room.seq,
                    "client_id": obj["client_id"],
                    "duplicate": False,
                    "message": body,
                }
            )
        elif action == "ping":
            self.send({"type": "pong", "id": obj.get("id"), "time": int(time.time() * 1000)})


async def main(port: int, coalesce: bool) -> None:
    loop = asyncio.get_running_loop()
    rooms: dict[str, Room] = {}
    server = await loop.create_server(
        lambda: Conn(rooms, coalesce), "127.0.0.1", port, backlog=4096
    )
    print(f"trivial listening on port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--coalesce", action="store_true")
    args = parser.parse_args()
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main(args.port, args.coalesce))
