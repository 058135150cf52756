"""Run one server process: uvicorn for HTTP, hubbub's own protocol for /ws."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import socket
import sys

import uvicorn

from hubbub.config import Settings
from hubbub.server import logs
from hubbub.server.app import create_app
from hubbub.server.connection import Connection
from hubbub.server.gateway import redact
from hubbub.serving import serve_announced


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


REGISTRATION_LINES = {
    "open": "open to anyone (--registration open)",
    "invite": "the first account is the owner's; then by invite (--registration invite)",
    "closed": "the first account is the owner's; then none (--registration closed)",
}


def guests_line(settings: Settings) -> str:
    """The banner's word on anonymous S1-tutorial connections (`?room_name=`)."""
    if not settings.allow_guests:
        return "off (--allow-guests lets S1-tutorial clients in with ?room_name=)"
    if settings.guest_rooms == "create":
        rooms = "naming an unused room creates it (--guest-rooms create)"
    else:
        rooms = "existing public channels only (--guest-rooms existing)"
    return f"allowed with ?room_name=: {rooms}"


async def serve(settings: Settings) -> None:
    sock = _bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    # The port it got (`--port 0`): the default public origins are made of it.
    settings = dataclasses.replace(settings, port=port)
    origins = ", ".join(dict.fromkeys(settings.public_origins + settings.allowed_origins))
    config = uvicorn.Config(
        create_app(settings),
        ws=Connection,
        http="httptools",
        loop="none",
        lifespan="on",
        log_level=settings.log_level,
        log_config=None,  # server.logs: JSON lines for uvicorn's loggers too
        access_log=settings.access_log,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    server = uvicorn.Server(config)

    def announce() -> None:
        # Start-up objects live for the whole process: keep them out of GC scans.
        gc.freeze()
        shown = f"[{host}]" if ":" in host else host
        print(f"hubbub listening on http://{shown}:{port}", flush=True)
        where = settings.public_urls[0] if settings.public_urls else f"http://{shown}:{port}"
        print(f"  open {where} in a browser to chat", flush=True)
        print(f"  browser origins allowed on /ws: {origins}", flush=True)
        if not settings.public_urls and host in ("0.0.0.0", "::"):
            print("  (on every interface: other names need --public-url)", flush=True)
        print(f"  database: {redact(settings.store_url)}", flush=True)
        print(f"  bus:      {settings.bus_url}", flush=True)
        print(f"  guests:   {guests_line(settings)}", flush=True)
        print(f"  sign-up:  {REGISTRATION_LINES[settings.registration]}", flush=True)

    await serve_announced(server, sock, announce)
    if not server.started:
        sys.exit(1)


def run(settings: Settings) -> None:
    logs.configure(settings.log_level)
    try:
        import uvloop

        uvloop.run(serve(settings))
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(serve(settings))
