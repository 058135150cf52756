"""The peers `python -m bench compare` measures hubbub against: small chat-room
broadcast servers, each in its stack's idiomatic, fastest documented form.

* `node/sio.js`: Socket.IO 4 on Node.js, `io.to(room).emit`, acks.
* `node/ws.js`: `ws` 8 on Node.js, a loop over the room's clients.
* `socketio_server.py`: python-socketio's AsyncServer, ASGI on uvicorn.
* `websockets_server.py`: `websockets` with `broadcast()`.

Their protocols are in `bench.dialects` (`socketio` and `plain`).
"""
