"""Running a uvicorn server on a socket bound beforehand (so `--port 0` can
say which port it got), and saying where it listens once it does: shared by
`hubbub serve` and `hubbub aws-local`, which must not import each other."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import uvicorn


async def serve_announced(
    server: uvicorn.Server, sock: socket.socket, announce: Callable[[], None]
) -> None:
    """Serve on `sock`; call `announce` once the server accepts connections
    (not at all if it stops first)."""

    async def when_started() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        announce()

    task = asyncio.create_task(when_started())
    try:
        await server.serve(sockets=[sock])
    finally:
        task.cancel()
