// `ws` chat-room broadcast: a peer for `python -m bench compare`.
//
//   node ws.js PORT       (0: any free port; prints "ws listening on port N")
//
// Protocol (bench/dialects.py, `plain`): JSON text frames.
//   {"action":"join","room":R,"name":N}  -> {"type":"joined","room":R}
//   {"action":"send","room":R,"text":T}  -> {"type":"message","room":R,"seq":S,"author":N,"text":T}
//                                          to every member of R, the sender too
// The broadcast is the loop over clients of ws's README, with the message
// encoded once into a Buffer (a string would be converted per client). No
// per-message deflate; bufferutil installed (ws's documented speed-up).
"use strict";

const { WebSocketServer, WebSocket } = require("ws");

const port = Number(process.argv[2] || 0);
const wss = new WebSocketServer({
  host: "127.0.0.1",
  port,
  backlog: 4096,
  perMessageDeflate: false,
  clientTracking: false,
});

const rooms = new Map(); // room -> Set of sockets
const seqs = new Map();

function error(ws, code) {
  ws.send(JSON.stringify({ type: "error", code }));
}

wss.on("connection", (ws) => {
  let name = "?";
  const joined = new Set();
  ws.on("message", (data) => {
    let obj;
    try {
      obj = JSON.parse(data);
    } catch {
      error(ws, "bad_json");
      return;
    }
    const room = String(obj.room);
    if (obj.action === "send") {
      const members = rooms.get(room);
      if (!joined.has(room) || typeof obj.text !== "string") {
        error(ws, "not_member");
        return;
      }
      const seq = (seqs.get(room) || 0) + 1;
      seqs.set(room, seq);
      const out = Buffer.from(
        JSON.stringify({ type: "message", room, seq, author: name, text: obj.text }),
      );
      for (const client of members) {
        if (client.readyState === WebSocket.OPEN) client.send(out, { binary: false });
      }
    } else if (obj.action === "join") {
      if (typeof obj.name === "string") name = obj.name;
      let members = rooms.get(room);
      if (!members) rooms.set(room, (members = new Set()));
      members.add(ws);
      joined.add(room);
      ws.send(JSON.stringify({ type: "joined", room }));
    } else {
      error(ws, "unknown_action");
    }
  });
  ws.on("close", () => {
    for (const room of joined) rooms.get(room).delete(ws);
  });
});

wss.on("listening", () => {
  console.log(`ws listening on port ${wss.address().port}`);
});
process.on("SIGTERM", () => process.exit(0));
