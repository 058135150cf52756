"""A client that stops reading is cut off (close code 4008) once its outbound
buffer passes `max_buffer_bytes`, and nobody else slows down or misses a thing
(principle 4)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from support import WAIT, Server, check_frame, online, register

BUFFER = 65536
TEXT = "x" * 8000  # each message event is a little over 8 KB
LIMITS = (
    "--limit",
    f"max_buffer_bytes={BUFFER},messages_per_second=100000,message_burst=100000",
)


class RawClient:
    """A WebSocket client on a plain socket with a tiny receive buffer, driven
    by websockets' Sans-I/O protocol: it reads only when told to."""

    def __init__(self, sock: socket.socket, protocol: ClientProtocol) -> None:
        self.sock = sock
        self.protocol = protocol
        self.loop = asyncio.get_running_loop()
        self.eof = False

    @classmethod
    async def connect(cls, port: int, token: str, rcvbuf: int = 4096) -> RawClient:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connect, so the advertised window is small from the start.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), WAIT)
        protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/ws?token={token}"))
        client = cls(sock, protocol)
        protocol.send_request(protocol.connect())
        await client.flush()
        return client

    async def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                await self.loop.sock_sendall(self.sock, data)

    async def send(self, frame: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(frame).encode())
        await self.flush()

    async def events(self) -> AsyncIterator[Response | Frame]:
        """Read and parse until EOF or a reset (then stop)."""
        while not self.eof:
            try:
                data = await self.loop.sock_recv(self.sock, 1 << 20)
            except ConnectionResetError:
                data = b""
            if data:
                self.protocol.receive_data(data)
            else:
                self.eof = True
                self.protocol.receive_eof()
            for event in self.protocol.events_received():
                yield event
            with contextlib.suppress(OSError):
                await self.flush()

    async def frame(self, type_: str) -> dict[str, Any]:
        """Read until a server frame of `type_`."""
        async with asyncio.timeout(WAIT):
            async for event in self.events():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    obj = json.loads(event.data)
                    check_frame(obj)
                    if obj.get("type") == type_:
                        return obj  # type: ignore[no-any-return]
        raise AssertionError(f"connection ended before a {type_} frame")

    def close(self) -> None:
        self.sock.close()


async def test_slow_consumer_is_cut_off_and_others_keep_going(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(*LIMITS)
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        # All three are in #general: joined on registering.
        t = {n: await register(http, n) for n in ("alice", "bob", "carol")}

    slow = await RawClient.connect(server.port, t["carol"])
    try:
        assert (await slow.frame("hello"))["user"]["username"] == "carol"
        await slow.send({"action": "subscribe", "channel": "general", "id": 1})
        await slow.frame("subscribed")
        # From here on carol reads nothing.

        async with (
            online(server, t["alice"]) as sender,
            online(server, t["alice"]) as watcher,
            # bob reads everything as it comes: with websockets' default
            # queue of 16 frames his client stops reading until the test asks,
            # and his buffers fill as carol's do (he was cut off in CI once).
            online(server, t["bob"], max_queue=None) as bob,
        ):
            await bob.request({"action": "subscribe", "channel": "general"})
            state = await watcher.request({"action": "watch_presence", "usernames": ["carol"]})
            assert state["users"] == {"carol": "online"}

            cut_off = asyncio.Event()
            acked: list[int] = []
            sent_before_cut: list[int] = []

            async def watch() -> None:
                await watcher.expect("presence", timeout=6 * WAIT, user="carol", status="offline")
                cut_off.set()
                sent_before_cut.append(len(acked))

            async def send_until_cut_off() -> None:
                """Send in windows of 20 until carol is dropped, then 40 more;
                every ack must come back (at most 2000 messages, ~16 MB)."""
                after = 0
                while after < 40 and len(acked) < 2000:
                    base = len(acked)
                    for i in range(base, base + 20):
                        await sender.send(
                            {
                                "action": "send",
                                "channel": "general",
                                "text": TEXT,
                                "client_id": f"{i}",
                            }
                        )
                    for _ in range(20):
                        ack = await sender.expect("ack")
                        acked.append(ack["seq"])
                    if cut_off.is_set():
                        after += 20

            received: list[int] = []

            async def read_all() -> None:
                while not (cut_off.is_set() and len(acked) >= 40 and received[-1:] == acked[-1:]):
                    frame = await bob.expect("message")
                    assert frame["text"] == TEXT
                    received.append(frame["seq"])

            watching = asyncio.ensure_future(watch())
            async with asyncio.timeout(6 * WAIT):
                await send_until_cut_off()
                assert cut_off.is_set(), "the reader that stopped was never cut off"
                await read_all()
            await watching

            # Cut off once its buffers are full: ours (max_buffer_bytes) and the
            # kernel's, capped by socket_send_buffer (64 KiB, doubled by Linux),
            # plus carol's 4 KiB window, within a window of 20 sends. Left to
            # autotune, the kernel held about 340 of these 8 KB messages.
            kernel = 2 * 65536 + 4096
            assert sent_before_cut[0] <= (BUFFER + kernel) // len(TEXT) + 2 * 20, sent_before_cut
            # The sender's acks all came back, in order, for every message.
            assert acked == list(range(1, len(acked) + 1))
            # The reading subscriber got every message, once, in order,
            # including those sent after carol was cut off.
            assert received == acked

        # carol, reading at last, gets an unbroken prefix of the messages and
        # then the close frame with 4008, or finds the connection already
        # reset: either way it is over, within a bounded time.
        seqs: list[int] = []
        close_code = None
        async with asyncio.timeout(WAIT):
            async for event in slow.events():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    obj = json.loads(event.data)
                    check_frame(obj)
                    if obj["type"] == "message":
                        seqs.append(obj["seq"])
                elif isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                    close_code = int.from_bytes(event.data[:2], "big")
        assert slow.eof
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(seqs) < len(acked)
        assert close_code in (4008, None), close_code
    finally:
        slow.close()
