"""python-socketio chat-room broadcast on uvicorn: a peer for `python -m bench compare`.

    python -m bench.peers.socketio_server PORT   (0: any free port)

Protocol (`bench.dialects.SocketIO`): the CONNECT auth payload names the user;
`join(room)` is acknowledged; `send({room, text})` emits `message {room, seq,
author, text}` to the room (`sio.emit(..., room=)`, which encodes the packet once)
and returns `{seq}` as the Socket.IO ack. Configured for speed as the projects
document it: an ASGI app on uvicorn with uvloop and httptools, the WebSocket
transport only, no per-message deflate, no HTTP compression, no access log.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import socketio  # type: ignore[import-untyped]
import uvicorn

sio = socketio.AsyncServer(
    async_mode="asgi",
    transports=["websocket"],
    http_compression=False,
    cors_allowed_origins=[],
    logger=False,
    engineio_logger=False,
)
app = socketio.ASGIApp(sio)
names: dict[str, str] = {}
seqs: dict[str, int] = {}


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    name = auth.get("name") if isinstance(auth, dict) else None
    names[sid] = name if isinstance(name, str) else "?"


@sio.event
async def disconnect(sid: str, *reason: Any) -> None:
    names.pop(sid, None)


@sio.on("join")
async def join(sid: str, room: Any) -> bool:
    await sio.enter_room(sid, str(room))
    return True


@sio.on("send")
async def send(sid: str, msg: Any) -> dict[str, Any]:
    if not isinstance(msg, dict) or not isinstance(msg.get("text"), str):
        return {"error": "bad_request"}
    room = str(msg.get("room"))
    seq = seqs[room] = seqs.get(room, 0) + 1
    body = {"room": room, "seq": seq, "author": names.get(sid, "?"), "text": msg["text"]}
    await sio.emit("message", body, room=room)
    return {"seq": seq}


def main(port: int) -> None:
    # Bind and listen here so the port can be printed before uvicorn starts.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(4096)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",  # uvicorn's current implementation (the other is deprecated)
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )
    print(f"python-sio listening on port {sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
