// Socket.IO 4 chat-room broadcast: a peer for `python -m bench compare`.
//
//   node sio.js PORT      (0: any free port; prints "sio listening on port N")
//
// Protocol (bench/dialects.py, `socketio`): the CONNECT auth payload names the
// user; `join(room)` is acknowledged; `send({room, text})` broadcasts
// `message {room, seq, author, text}` to the room with io.to(room).emit (which
// encodes the packet once for all members) and acknowledges with {seq}.
// Configured for speed as Socket.IO documents it: WebSocket transport only,
// no per-message deflate, no HTTP compression, bufferutil installed for ws.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 0);
const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ["websocket"],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
});

const seqs = new Map();

io.on("connection", (socket) => {
  const auth = socket.handshake.auth || {};
  const name = typeof auth.name === "string" ? auth.name : "?";
  socket.on("join", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack(true);
  });
  socket.on("send", (msg, ack) => {
    if (!msg || typeof msg.room !== "string" || typeof msg.text !== "string") {
      if (typeof ack === "function") ack({ error: "bad_request" });
      return;
    }
    const room = msg.room;
    const seq = (seqs.get(room) || 0) + 1;
    seqs.set(room, seq);
    io.to(room).emit("message", { room, seq, author: name, text: msg.text });
    if (typeof ack === "function") ack({ seq });
  });
});

httpServer.listen(port, "127.0.0.1", 4096, () => {
  console.log(`sio listening on port ${httpServer.address().port}`);
});
process.on("SIGTERM", () => process.exit(0));
