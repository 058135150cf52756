"""The wire dialects the load generator speaks: one small class per protocol.

`bench.gen` holds the connections and does the counting, timing and stepping;
a dialect only says how to open a session, join a room, send a chat message,
and what each incoming text frame is. So every server (hubbub and its peers)
is driven by the same open-loop sender and the same sampling receivers.

The receive hot path never calls a dialect: a receiver counts a delivery when a
text frame starts with `message_prefix` (a prefix check in `WSClient`); only
samplers and the sender decode deliveries (`message`), and everything else
(session set-up, join confirmations, acks, pings: a few frames per connection,
or one per sent message) goes through `control`.

* `hubbub`: the native protocol (`/ws?token=`, `hello`, `subscribe`, `send` ->
  `ack` by id after the commit, `ping` every 30 s from the client).
* `socketio`: Engine.IO v4 / Socket.IO v5 over a raw WebSocket
  (`/socket.io/?EIO=4&transport=websocket`): the server opens with `0{...}`,
  the client connects to the main namespace with `40{auth}`, events are
  `42["event",...]`, acks `43<id>[...]`; the server pings (`2`), the client
  answers (`3`). A sent message is acknowledged with a Socket.IO ack, the
  stack's own mechanism; the sender is not in the room (as with hubbub).
* `plain`: JSON over a bare WebSocket for the `ws` and `websockets` servers:
  `{"action":"join"}` -> `{"type":"joined"}`, `{"action":"send"}` -> a
  `{"type":"message"}` broadcast to every member. Those servers have no acks:
  the sender joins the room too and its own copy of the broadcast is its ack,
  so each message costs the server one write per member plus one, as with
  hubbub's ack.
* `tutorial`: hubbub's S1 tutorial protocol (API Gateway chat): the room is
  joined by the handshake (`/ws?room_name=`, plus `&token=` for an account;
  without one a guest, where the server allows guests), `sendMessage` ->
  `{"messages": [{"user_name", "content"}]}` pushed to every member. No acks
  and no `seq`: the sender is a member and its own copy is its ack (as
  `plain`), and samplers check no continuity.

Every delivery carries the room's `seq` (samplers check continuity; the
tutorial's have none) and the text `bench <intended send time> xxx...`
(latency from intended send time).
"""

from __future__ import annotations

import enum
import urllib.parse
from typing import Any, ClassVar

import orjson


class Kind(enum.Enum):
    """What a non-delivery frame means to the generator."""

    HELLO = "hello"  # the session is ready to use
    SUBSCRIBED = "subscribed"  # the join/subscribe was confirmed
    ACK = "ack"  # value: the id of the acknowledged send
    ERROR = "error"  # value: (id or None, code, the decoded frame)
    PONG = "pong"
    REPLY = "reply"  # value: a payload to send back at once (Engine.IO pong)
    OPEN = "open"  # the transport is open: send `session(token)` to start the session
    OTHER = "other"


Control = tuple[Kind, Any]


class Dialect:
    name: ClassVar[str]
    message_prefix: ClassVar[bytes]
    # The sender joins the room and takes its own copy of a broadcast as the ack.
    echo_ack: ClassVar[bool] = False

    def path(self, token: str, channel: str = "general") -> str:
        raise NotImplementedError

    def session(self, token: str) -> bytes:
        """The payload that starts a session once the server said `OPEN`."""
        raise NotImplementedError

    def ready_on_upgrade(self) -> bool:
        """True when the upgrade itself is the hello (no session frame)."""
        return False

    def subscribe(self, channel: str, token: str) -> bytes | None:
        """The join frame; None where the handshake itself joins the room."""
        raise NotImplementedError

    def send(self, channel: str, text: str, n: int, client_id: str) -> bytes:
        """The payload of the n-th send (n >= 1)."""
        raise NotImplementedError

    def ping(self) -> bytes | None:
        """The client's heartbeat payload; None when the server drives liveness."""
        return None

    def control(self, payload: bytes) -> Control:
        raise NotImplementedError

    def message(self, payload: bytes) -> tuple[int | None, str]:
        """A delivery's (seq, text)."""
        raise NotImplementedError


class Hubbub(Dialect):
    name = "hubbub"
    message_prefix = b'{"type":"message"'

    def path(self, token: str, channel: str = "general") -> str:
        return "/ws?token=" + token

    def subscribe(self, channel: str, token: str) -> bytes:
        return orjson.dumps({"action": "subscribe", "channel": channel, "id": 1})

    def send(self, channel: str, text: str, n: int, client_id: str) -> bytes:
        return orjson.dumps(
            {"action": "send", "channel": channel, "text": text, "client_id": client_id, "id": n}
        )

    def ping(self) -> bytes | None:
        return b'{"action":"ping"}'

    def control(self, payload: bytes) -> Control:
        obj = orjson.loads(payload)
        kind = obj.get("type")
        if kind == "ack":
            return Kind.ACK, obj["id"]
        if kind == "pong":
            return Kind.PONG, None
        if kind == "hello":
            return Kind.HELLO, None
        if kind == "subscribed":
            return Kind.SUBSCRIBED, None
        if kind == "error":
            return Kind.ERROR, (obj.get("id"), str(obj.get("code")), obj)
        return Kind.OTHER, obj

    def message(self, payload: bytes) -> tuple[int | None, str]:
        obj = orjson.loads(payload)
        return obj["seq"], obj["text"]


class SocketIO(Dialect):
    """Engine.IO v4 + Socket.IO v5, main namespace, JSON (default) parser."""

    name = "socketio"
    message_prefix = b'42["message",'
    JOIN_ACK = 0  # the join's ack id; sends count from 1

    def path(self, token: str, channel: str = "general") -> str:
        return "/socket.io/?EIO=4&transport=websocket"

    def subscribe(self, channel: str, token: str) -> bytes:
        return b"42%d" % self.JOIN_ACK + orjson.dumps(["join", channel])

    def send(self, channel: str, text: str, n: int, client_id: str) -> bytes:
        return b"42%d" % n + orjson.dumps(["send", {"room": channel, "text": text}])

    def control(self, payload: bytes) -> Control:
        # Engine.IO packet type, then (for 4 = message) the Socket.IO packet type.
        if payload == b"2":  # the server's ping: answer at once or be dropped
            return Kind.REPLY, b"3"
        head = payload[:2]
        if head == b"43":
            i = payload.index(b"[")
            ack = int(payload[2:i])
            return (Kind.SUBSCRIBED, None) if ack == self.JOIN_ACK else (Kind.ACK, ack)
        if payload[:1] == b"0":  # Engine.IO open: connect to the main namespace
            return Kind.OPEN, None
        if head == b"40":  # Socket.IO CONNECT acknowledged
            return Kind.HELLO, None
        if head == b"44":  # CONNECT_ERROR
            return Kind.ERROR, (None, "connect_error", payload.decode(errors="replace"))
        if payload[:1] == b"1":  # Engine.IO close
            return Kind.ERROR, (None, "closed", payload.decode(errors="replace"))
        return Kind.OTHER, payload

    def session(self, token: str) -> bytes:
        # The auth payload of CONNECT names the user (`socket.handshake.auth`).
        return b"40" + orjson.dumps({"name": token})

    def message(self, payload: bytes) -> tuple[int | None, str]:
        obj = orjson.loads(payload[2:])[1]
        return obj["seq"], obj["text"]


class Plain(Dialect):
    """JSON over a bare WebSocket (bench/peers ws.js and websockets_server.py)."""

    name = "plain"
    message_prefix = b'{"type":"message"'
    echo_ack = True

    def path(self, token: str, channel: str = "general") -> str:
        return "/"

    def ready_on_upgrade(self) -> bool:
        return True

    def subscribe(self, channel: str, token: str) -> bytes:
        return orjson.dumps({"action": "join", "room": channel, "name": token})

    def send(self, channel: str, text: str, n: int, client_id: str) -> bytes:
        return orjson.dumps({"action": "send", "room": channel, "text": text})

    def control(self, payload: bytes) -> Control:
        obj = orjson.loads(payload)
        kind = obj.get("type")
        if kind == "joined":
            return Kind.SUBSCRIBED, None
        if kind == "error":
            return Kind.ERROR, (None, str(obj.get("code")), obj)
        return Kind.OTHER, obj

    def message(self, payload: bytes) -> tuple[int | None, str]:
        obj = orjson.loads(payload)
        return obj["seq"], obj["text"]


class Tutorial(Dialect):
    """hubbub's S1 tutorial protocol (`hubbub.session.tutorial`)."""

    name = "tutorial"
    message_prefix = b'{"messages":['
    echo_ack = True

    def path(self, token: str, channel: str = "general") -> str:
        # "-" (the relays' placeholder) or nothing: a guest.
        auth = f"&token={token}" if token and token != "-" else ""
        return f"/ws?room_name={urllib.parse.quote(channel)}{auth}"

    def ready_on_upgrade(self) -> bool:
        return True  # the 101 comes once the room is joined (as API Gateway's $connect)

    def subscribe(self, channel: str, token: str) -> bytes | None:
        return None

    def send(self, channel: str, text: str, n: int, client_id: str) -> bytes:
        return orjson.dumps(
            {"action": "sendMessage", "room_name": channel, "user_name": "bench", "content": text}
        )

    def ping(self) -> bytes | None:
        return b'{"action":"ping"}'

    def control(self, payload: bytes) -> Control:
        obj = orjson.loads(payload)
        kind = obj.get("type")
        if kind == "pong":
            return Kind.PONG, None
        if kind == "error":
            return Kind.ERROR, (obj.get("id"), str(obj.get("code")), obj)
        return Kind.OTHER, obj

    def message(self, payload: bytes) -> tuple[int | None, str]:
        return None, orjson.loads(payload)["messages"][0]["content"]


DIALECTS: dict[str, type[Dialect]] = {d.name: d for d in (Hubbub, SocketIO, Plain, Tutorial)}


def dialect(name: str) -> Dialect:
    return DIALECTS[name]()
