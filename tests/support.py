"""Test helpers: a real hubbub server process on an ephemeral port, and small
REST / WebSocket clients that check every server frame against the schema."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode

from hubbub.protocol import frames

WAIT = 10.0  # upper bound for any single wait in the tests

# Raw client bytes, for tests that drive one connection's receive path.
HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def client_frame(opcode: Opcode, data: bytes, fin: bool = True, mask: bool = True) -> bytes:
    return Frame(opcode, data, fin=fin).serialize(mask=mask, extensions=[])


def check_frame(obj: Any) -> None:
    """Fail unless `obj` is a valid server frame per hubbub.protocol.frames."""
    assert isinstance(obj, dict), obj
    if "type" not in obj:
        frames.TutorialMessages.model_validate(obj)
        return
    model = frames.SERVER_TYPES.get(obj["type"])
    assert model, f"undocumented frame type {obj['type']!r}"
    model.model_validate(obj)


@dataclasses.dataclass
class Server:
    proc: subprocess.Popen[str]
    port: int
    data_dir: Path
    args: list[str]
    log: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)


def start_server(
    data_dir: Path, *extra: str, port: int = 0, env: dict[str, str] | None = None
) -> Server:
    """Start `hubbub serve` and wait until it prints where it listens."""
    args = [
        sys.executable,
        "-m",
        "hubbub",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "warning",
        *extra,
    ]
    # Most tests register several accounts: sign-up is open unless a test
    # says otherwise (`--registration`, or this variable in `env`).
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "HUBBUB_REGISTRATION": "open", **(env or {})}
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env
    )
    assert proc.stdout is not None
    log: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        log.append(line)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            server = Server(proc, int(m.group(1)), data_dir, list(extra), log)
            _drain(proc, log)
            return server
    proc.kill()
    raise RuntimeError("server did not start:\n" + "".join(log))


def _drain(proc: subprocess.Popen[str], log: list[str]) -> None:
    """Keep reading the server's output so it never blocks on a full pipe."""
    import threading

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)

    threading.Thread(target=pump, daemon=True).start()


_ids = itertools.count(1)


class WS:
    """A WebSocket client that validates every frame it receives."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.backlog: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(frame))

    async def recv(self, timeout: float = WAIT) -> dict[str, Any]:
        if self.backlog:
            return self.backlog.pop(0)
        raw = await asyncio.wait_for(self.conn.recv(), timeout)
        obj = json.loads(raw)
        check_frame(obj)
        return obj  # type: ignore[no-any-return]

    async def expect(self, type_: str, timeout: float = WAIT, **match: Any) -> dict[str, Any]:
        """The next frame of `type_` (matching `match`); others are kept for later."""
        skipped: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                for i, f in enumerate(self.backlog):
                    if f.get("type") == type_ and all(f.get(k) == v for k, v in match.items()):
                        return self.backlog.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {type_} {match} frame; got {skipped + self.backlog}")
                raw = await asyncio.wait_for(self.conn.recv(), left)
                obj = json.loads(raw)
                check_frame(obj)
                if obj.get("type") == type_ and all(obj.get(k) == v for k, v in match.items()):
                    return obj  # type: ignore[no-any-return]
                skipped.append(obj)
        finally:
            self.backlog[:0] = skipped

    async def request(self, frame: dict[str, Any], timeout: float = WAIT) -> dict[str, Any]:
        """Send a frame with a fresh `id` and return the reply echoing it."""
        fid = next(_ids)
        await self.send({**frame, "id": fid})
        deadline = time.monotonic() + timeout
        skipped: list[dict[str, Any]] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no reply to {frame}")
                raw = await asyncio.wait_for(self.conn.recv(), left)
                obj = json.loads(raw)
                check_frame(obj)
                if obj.get("id") == fid:
                    return obj  # type: ignore[no-any-return]
                skipped.append(obj)
        finally:
            self.backlog.extend(skipped)

    async def close(self) -> None:
        await self.conn.close()


@contextlib.asynccontextmanager
async def ws_connect(url: str, **kwargs: Any) -> AsyncIterator[WS]:
    async with websockets.connect(url, open_timeout=WAIT, **kwargs) as conn:
        yield WS(conn)


async def register(http: httpx.AsyncClient, username: str, password: str = "correct horse") -> str:
    r = await http.post("/api/auth/register", json={"username": username, "password": password})
    assert r.status_code == 201, r.text
    return r.json()["token"]  # type: ignore[no-any-return]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def online(server: Server, token: str, **kwargs: Any) -> AsyncIterator[WS]:
    """A WebSocket signed in with `token`, past its `hello`."""
    async with ws_connect(f"{server.ws_url}?token={token}", **kwargs) as ws:
        await ws.expect("hello")
        yield ws


async def users(http: httpx.AsyncClient, *names: str) -> dict[str, str]:
    """Register each name; their tokens by name."""
    return {n: await register(http, n) for n in names}


async def subscribe(ws: WS, channel: str, **extra: Any) -> dict[str, Any]:
    reply = await ws.request({"action": "subscribe", "channel": channel, **extra})
    assert reply["type"] == "subscribed", reply
    return reply


_client_ids = itertools.count(1)


async def send(ws: WS, channel: str, text: str, client_id: str | None = None) -> dict[str, Any]:
    """Send and wait for the ack (with a fresh client_id unless given)."""
    frame = {
        "action": "send",
        "channel": channel,
        "text": text,
        "client_id": client_id or f"c{next(_client_ids)}",
    }
    reply = await ws.request(frame)
    assert reply["type"] == "ack", reply
    return reply


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of a server, able to swallow what the
    server sends (a lost ack) and to cut every connection (a network drop)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.blackhole = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, down: bool) -> None:
            try:
                while data := await src.read(65536):
                    if down and self.blackhole:
                        continue
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        """Drop every proxied connection at once."""
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
