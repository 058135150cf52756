"""`websockets` chat-room broadcast: a peer for `python -m bench compare`.

    python -m bench.peers.websockets_server PORT   (0: any free port)

Protocol (`bench.dialects.Plain`): JSON text frames.
`{"action":"join","room":R,"name":N}` -> `{"type":"joined","room":R}`;
`{"action":"send","room":R,"text":T}` -> `{"type":"message","room":R,"seq":S,
"author":N,"text":T}` to every member of R (the sender too) with
`websockets.broadcast()`, the library's own fan-out. Fastest documented form:
no compression, the message encoded once as UTF-8 bytes and sent with
`text=True` (as `broadcast`'s documentation advises), on uvloop.
"""

from __future__ import annotations

import sys

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve

rooms: dict[str, set[ServerConnection]] = {}
seqs: dict[str, int] = {}


async def handler(ws: ServerConnection) -> None:
    name = "?"
    joined: set[str] = set()
    try:
        async for raw in ws:
            try:
                obj = orjson.loads(raw)
                action, room = obj.get("action"), str(obj.get("room"))
            except (orjson.JSONDecodeError, AttributeError):
                await ws.send(b'{"type":"error","code":"bad_json"}', text=True)
                continue
            if action == "send":
                text = obj.get("text")
                if room not in joined or not isinstance(text, str):
                    await ws.send(b'{"type":"error","code":"not_member"}', text=True)
                    continue
                seq = seqs[room] = seqs.get(room, 0) + 1
                body = {"type": "message", "room": room, "seq": seq, "author": name, "text": text}
                broadcast(rooms[room], orjson.dumps(body), text=True)
            elif action == "join":
                if isinstance(obj.get("name"), str):
                    name = obj["name"]
                rooms.setdefault(room, set()).add(ws)
                joined.add(room)
                await ws.send(orjson.dumps({"type": "joined", "room": room}), text=True)
            else:
                await ws.send(b'{"type":"error","code":"unknown_action"}', text=True)
    finally:
        for room in joined:
            rooms[room].discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, backlog=4096) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"websockets listening on port {bound}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
