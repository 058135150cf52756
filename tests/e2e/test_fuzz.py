"""Random frames at one live connection of a real server (principle 6 and 7).

Every frame gets a proper reply or an error frame with a documented code,
never a close and never a server error; after each, the same connection still
answers a ping; and the server stores exactly the messages it acknowledged.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from hubbub.protocol.errors import ErrorCode
from hubbub.protocol.frames import ACTIONS
from support import WAIT, WS, Server, auth, start_server

PASSWORD = "correct horse"
# Codes that mean the server, not the client, failed.
SERVER_FAULTS = {ErrorCode.internal_error.name, ErrorCode.unavailable.name}

# --- what to throw -------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` four times in five, else `rare`."""
    return st.sampled_from([usual] * 4 + [rare]).flatmap(lambda strategy: strategy)


# Valid, but past SQLite's INTEGER / its largest / the largest int orjson reads.
huge_seqs = st.sampled_from([2**63, 2**63 - 1, 2**64 - 1])
seqs = st.integers(min_value=0, max_value=8) | huge_seqs
bad_seqs = st.sampled_from([-1, 2**64, 10**30, 1.5, "1", True])
texts = (
    st.text(min_size=1, max_size=30),
    st.sampled_from(["", "  \n", "x" * 10_000, "x" * 10_001]) | st.text(max_size=30),
)

# For every field of every client frame: (a usual value, a rare or wrong one).
# A new field without an entry here fails this module at import: add one.
FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "id": (
        st.none() | st.integers(min_value=0, max_value=1000) | st.text(min_size=1, max_size=8),
        st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(max_size=12),
    ),
    "token": (st.just("<token>"), st.sampled_from(["garbage", ""]) | st.text(max_size=10)),
    "channel": (
        st.sampled_from(["general", "general", "lounge", "vault", "fuzz-room"]),
        st.sampled_from(["", "c" * 2000, "dm:alice,bob", "Bad!"]) | st.text(max_size=12),
    ),
    "since": (st.none() | seqs, bad_seqs),
    "before": (st.none() | seqs, bad_seqs),
    "after": (st.none() | seqs, bad_seqs),
    "seq": (seqs, bad_seqs),
    "thread_root": (st.none() | seqs, bad_seqs),
    "broadcast": (st.booleans(), st.sampled_from([None, 0, 1, "yes", []])),
    "limit": (st.integers(min_value=1, max_value=200), st.integers(-2, 202)),
    "text": texts,
    "client_id": (st.text(min_size=1, max_size=8), st.sampled_from(["", "c" * 64, "c" * 65])),
    "usernames": (
        st.lists(st.sampled_from(["alice", "bob"]), max_size=3),
        st.lists(st.text(max_size=8), max_size=5),
    ),
    "content": texts,
    "room_name": (
        st.sampled_from(["general", "lounge", "fuzz-room"]),
        st.sampled_from([None, "vault", "dm:alice,bob", "Bad!", ""]) | st.text(max_size=10),
    ),
    "user_name": (st.none() | st.text(max_size=10), st.text(max_size=10)),
    "username": (st.none() | st.text(max_size=10), st.text(max_size=10)),
    "emoji": (
        st.sampled_from(["👍", ":+1:", "🎉", ":tada:"]),
        st.sampled_from(["", "x", ":nope:", "👍👍", "e" * 101]) | st.text(max_size=8),
    ),
    "around": (st.none() | seqs, bad_seqs),
    # Files: ids that name no file (the fuzzer uploads none), and malformed ones.
    "files": (
        st.lists(st.sampled_from(["A" * 22, "nofile-nofile-nofile"]), max_size=2),
        st.sampled_from([None, "x", ["../etc"], ["a" * 65], ["A" * 22] * 101]),
    ),
    "file_id": (
        st.sampled_from(["A" * 22, "nofile-nofile-nofile"]),
        st.sampled_from(["", "x", "../../etc/passwd", "a" * 65, 7]) | st.text(max_size=10),
    ),
    "thumbnail": (st.booleans(), st.sampled_from([None, 0, "yes"])),
    "name": (
        st.sampled_from(["notes.txt", "shot.png"]) | st.text(min_size=1, max_size=12),
        st.sampled_from(["", "n" * 256, None, 3]),
    ),
    "size": (st.integers(min_value=0, max_value=10**6), st.sampled_from([-1, None, "big", 2**70])),
    "query": (
        st.sampled_from(["hello", '"a phrase"', "in:#general from:@alice", "has:file", "x*"])
        | st.text(min_size=1, max_size=20),
        st.sampled_from(["", "has:cats", '"unclosed', "before:2024-13-01", "q" * 1001]),
    ),
    "order": (st.sampled_from(["newest", "relevance"]), st.sampled_from(["", "oldest", None])),
    "offset": (st.integers(min_value=0, max_value=100), st.integers(-2, 10_002)),
    "tz": (st.integers(min_value=-720, max_value=840), st.sampled_from([-721, 841, "utc"])),
    # Notification settings (turning digests on is 501 here: no --smtp-url).
    "dnd_until": (
        st.none() | st.integers(min_value=0, max_value=2**42),
        st.sampled_from([-1, 2**64, "soon", 1.5]),
    ),
    "dnd_minutes": (
        st.none() | st.integers(min_value=1, max_value=7 * 24 * 60),
        st.sampled_from([0, -1, 7 * 24 * 60 + 1, 2**64, "30"]),
    ),
    "schedule": (
        st.none()
        | st.fixed_dictionaries(
            {
                "start": st.sampled_from(["22:00", "08:30"]),
                "end": st.sampled_from(["07:00", "23:59"]),
                "tz": st.sampled_from(["UTC", "Europe/Paris"]),
            }
        ),
        st.sampled_from(
            [
                {"start": "25:00", "end": "07:00", "tz": "UTC"},
                {"start": "22:00", "end": "07:00", "tz": "Mars/Base"},
                "22-07",
                [],
                {},
            ]
        ),
    ),
    "email_digest": (st.none() | st.booleans(), st.sampled_from([0, "yes", []])),
    "email": (
        st.none() | st.sampled_from(["", "ann@example.com"]),
        st.sampled_from(["not-an-address", "a" * 300 + "@example.com", 3]),
    ),
    "level": (
        st.none() | st.sampled_from(["all", "mentions", "nothing"]),
        st.sampled_from(["", "loud", 1]),
    ),
    "muted": (st.none() | st.booleans(), st.sampled_from([0, "yes", []])),
}
for _model in ACTIONS.values():
    for _name in _model.model_fields:
        assert _name == "action" or _name in FIELDS, f"no fuzz strategy for field {_name!r}"


@st.composite
def near_valid(draw: st.DrawFn, action: str, exact: bool = False) -> dict[str, Any]:
    """A frame for `action` whose fields are usual, rare, random or missing;
    with `exact`, only usual values, so most such frames are valid."""
    frame: dict[str, Any] = {"action": action}
    for name, info in ACTIONS[action].model_fields.items():
        if name == "action":
            continue
        usual, rare = FIELDS[name]
        if exact:
            how = "usual" if info.is_required() or draw(st.booleans()) else "omit"
        elif info.is_required():
            how = draw(st.sampled_from(["usual"] * 6 + ["rare"] * 2 + ["random", "omit"]))
        else:
            how = draw(st.sampled_from(["usual"] * 3 + ["rare", "random"] + ["omit"] * 4))
        if how == "usual":
            frame[name] = draw(usual)
        elif how == "rare":
            frame[name] = draw(rare)
        elif how == "random":
            frame[name] = draw(json_values)
    if not exact and draw(st.integers(0, 4)) == 0:
        frame[draw(st.text(max_size=6))] = draw(json_values)  # unknown fields are ignored
    return frame


# (text or binary frame, raw bytes to send as they are or a JSON value to encode)
Throw = tuple[str, "Raw | Any"]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class Raw:
    data: bytes


# Hypothesis favours the first entries: the ones that store or read messages go first.
FIRST = ["send", "subscribe", "history", "sendMessage", "read", "typing", "getRecentMessages"]
actions = st.sampled_from(FIRST + sorted(set(ACTIONS) - set(FIRST)))
near_valid_frames = actions.flatmap(near_valid)
valid_frames = actions.flatmap(lambda action: near_valid(action, exact=True))
throws: st.SearchStrategy[Throw] = st.sampled_from(
    [
        st.tuples(st.just("text"), valid_frames),
        st.tuples(st.just("text"), near_valid_frames),
        st.tuples(st.just("text"), valid_frames),
        st.tuples(st.just("text"), near_valid_frames),
        st.tuples(st.sampled_from(["text", "binary"]), st.binary(max_size=48).map(Raw)),
        st.tuples(st.sampled_from(["text", "binary"]), json_values),
        st.tuples(st.just("binary"), valid_frames | near_valid_frames),
    ]
).flatmap(lambda strategy: strategy)
# What a valid frame is answered with (besides events), by action.
ANSWER = {
    "subscribe": "subscribed",
    "unsubscribe": "unsubscribed",
    "send": "ack",
    "history": "history",
    "watch_presence": "presence_state",
    "ping": "pong",
    "edit": "changed",
    "delete": "changed",
    "react": "changed",
    "unreact": "changed",
}


# --- one live connection for the whole property --------------------------------------------


@dataclasses.dataclass(repr=False)  # keep hypothesis' reports short
class Live:
    server: Server
    loop: asyncio.AbstractEventLoop
    http: httpx.Client
    tokens: dict[str, str]
    ws: WS
    # (channel, seq) -> (client_id, text) of every message acknowledged to us,
    # in its state after the changes acknowledged to us (edits, deletes)
    acked: dict[tuple[str, int], tuple[str | None, str]] = dataclasses.field(default_factory=dict)
    # (channel, text) of every sendMessage the server did not refuse (it has no ack)
    tutorial: collections.Counter[tuple[str, str]] = dataclasses.field(
        default_factory=collections.Counter
    )
    # (channel, seq) -> text of those (alice's, signed in: no client_id) that
    # she then changed (an edit, a delete), as the last change left it
    changed_tutorial: dict[tuple[str, int], str] = dataclasses.field(default_factory=dict)
    sentinels: Iterator[int] = dataclasses.field(default_factory=itertools.count)
    connect: Callable[[], Awaitable[WS]] | None = None  # a new connection, signed in

    async def not_utf8_text(self, payload: bytes) -> None:
        """A text message that is not UTF-8 fails the connection (1007, RFC
        6455); the property goes on with a new one."""
        await self.ws.conn.send(payload, text=True)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:  # events may come before the close
                await self.ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
        event("text not UTF-8: 1007")
        assert self.connect is not None
        self.ws = await self.connect()

    async def throw(self, kind: str, data: Raw | Any) -> None:
        obj = data if isinstance(data, dict) else None
        if isinstance(data, Raw):
            payload = data.data
        else:
            if obj is not None and obj.get("token") == "<token>":
                obj = {**obj, "token": self.tokens["alice"]}
            payload = json.dumps(obj if obj is not None else data).encode()
        if kind == "text" and not _is_utf8(payload):
            await self.not_utf8_text(payload)
            return
        await self.ws.conn.send(payload, text=kind == "text")
        # longer than any random text, so no fuzzed `id` can be the same
        sentinel = f"sentinel-{next(self.sentinels)}-{'~' * 24}"
        await self.ws.send({"action": "ping", "id": sentinel})
        replies = []
        deadline = time.monotonic() + WAIT
        while True:  # frames are answered in order (acks may come later, see below)
            frame = await self.ws.recv(timeout=max(0.0, deadline - time.monotonic()))
            if frame.get("type") == "pong" and frame.get("id") == sentinel:
                break
            replies.append(frame)
        if obj is not None and obj.get("action") == "send" and isinstance(obj.get("text"), str):
            # Sends are pipelined: the ack (or a refusal found at commit time)
            # may come after the answers to later frames.
            fid = obj.get("id")

            def answered() -> bool:
                return any(
                    f.get("type") == "error" or (f.get("type") == "ack" and f.get("id") == fid)
                    for f in replies
                )

            while not answered():
                replies.append(await self.ws.recv(timeout=max(0.0, deadline - time.monotonic())))
        errors = [f for f in replies if f.get("type") == "error"]
        for err in errors:
            assert err["code"] in ErrorCode.__members__, err
            assert err["code"] not in SERVER_FAULTS, (payload, err)
        assert len(errors) <= 1, (payload, replies)
        action = obj.get("action") if obj is not None else None
        outcome = f"{errors[0]['code']} {errors[0].get('field') or ''}" if errors else "ok"
        event(f"{action if isinstance(action, str) else '-'}: {outcome}")
        for f in replies:
            if f.get("type") in ("ack", "changed"):
                m = f["message"]
                key = (f["channel"], m["seq"])
                if m["client_id"] is not None:
                    self.acked[key] = (m["client_id"], m["text"])
                elif f.get("type") == "changed":  # one sent by sendMessage
                    self.changed_tutorial[key] = m["text"]
        if obj is not None and not errors:  # a valid frame: it got its proper answer
            action = obj.get("action")
            if action == "sendMessage":
                self.tutorial[(obj["room_name"], obj["content"])] += 1
            elif action == "getRecentMessages":
                assert any("messages" in f and "type" not in f for f in replies), replies
            elif action in ANSWER or (obj.get("id") is not None and action in ("typing", "read")):
                answer = ANSWER.get(action, "ok")
                assert any(f.get("type") == answer and f["id"] == obj.get("id") for f in replies), (
                    obj,
                    replies,
                )

    def stored(self) -> dict[tuple[str, int], tuple[str | None, str]]:
        """Every message in every channel alice or bob can see."""
        visible: dict[str, str] = {}  # channel -> a token that can read it
        for token in self.tokens.values():
            r = self.http.get("/api/channels", headers=auth(token))
            assert r.status_code == 200, r.text
            visible.update((c["name"], token) for c in r.json())
        out = {}
        for name, token in visible.items():
            after = 0
            while True:
                r = self.http.get(
                    f"/api/channels/{name}/messages",
                    params={"after": after, "limit": 200},
                    headers=auth(token),
                )
                assert r.status_code == 200, r.text
                page = r.json()
                for m in page["messages"]:
                    out[(name, m["seq"])] = (m["client_id"], m["text"])
                    if m["reply_count"]:
                        out.update(self.replies(name, m["seq"], token))
                if not page["has_more"]:
                    break
                after = page["messages"][-1]["seq"]
        return out

    def replies(
        self, name: str, root: int, token: str
    ) -> dict[tuple[str, int], tuple[str | None, str]]:
        """Every reply in the thread of `root` (channel history leaves them out)."""
        out = {}
        after = 0
        while True:
            r = self.http.get(
                f"/api/channels/{name}/messages/{root}/thread",
                params={"after": after, "limit": 200},
                headers=auth(token),
            )
            assert r.status_code == 200, r.text
            page = r.json()
            for m in page["messages"]:
                out[(name, m["seq"])] = (m["client_id"], m["text"])
            if not page["has_more"]:
                return out
            after = page["messages"][-1]["seq"]

    def check_store(self) -> None:
        stored = self.stored()
        native = {k: v for k, v in stored.items() if v[0] is not None}
        assert native == self.acked, "stored messages differ from the acknowledged ones"
        plain = {k: text for k, (cid, text) in stored.items() if cid is None}
        # Those changed since are as the last change left them; the others,
        # each one of the sendMessages, as sent.
        assert {k: plain.get(k) for k in self.changed_tutorial} == self.changed_tutorial
        as_sent = collections.Counter(
            (ch, text)
            for (ch, seq), text in plain.items()
            if (ch, seq) not in self.changed_tutorial
        )
        assert as_sent <= self.tutorial
        assert len(plain) == self.tutorial.total()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    server = start_server(
        tmp_path_factory.mktemp("fuzz"),
        "--limit",
        "messages_per_second=100000,message_burst=100000",
    )
    loop = asyncio.new_event_loop()
    http = httpx.Client(base_url=server.url, timeout=WAIT)
    live: Live | None = None
    try:
        tokens = {}
        for name in ("alice", "bob"):
            r = http.post("/api/auth/register", json={"username": name, "password": PASSWORD})
            assert r.status_code == 201, r.text
            tokens[name] = r.json()["token"]
        for owner, body in [  # and #general, which both joined on registering
            ("bob", {"name": "lounge"}),
            ("bob", {"name": "vault", "private": True}),
        ]:
            r = http.post("/api/channels", json=body, headers=auth(tokens[owner]))
            assert r.status_code == 201, r.text
        r = http.post(
            "/api/channels/vault/messages",
            json={"text": "bob's secret", "client_id": "v1"},
            headers=auth(tokens["bob"]),
        )
        assert r.status_code == 201, r.text

        async def connect() -> WS:
            c = await websockets.connect(
                f"{server.ws_url}?token={tokens['alice']}", open_timeout=WAIT
            )
            ws = WS(c)
            assert (await ws.recv())["type"] == "hello"
            return ws

        ws = loop.run_until_complete(connect())
        live = Live(server, loop, http, tokens, ws, connect=connect)
        live.acked[("vault", 1)] = ("v1", "bob's secret")  # bob's, stored before
        yield live
    finally:
        if live is not None:
            loop.run_until_complete(live.ws.conn.close())
        loop.close()
        http.close()
        server.stop()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=st.lists(throws, min_size=1, max_size=6))
# Found by this test once (an OverflowError in SQLite became internal_error): keep them.
@example([("text", {"action": "history", "channel": "general", "before": 2**64 - 1})])
@example([("binary", {"action": "history", "channel": "lounge", "after": 2**63, "id": 2**64 - 1})])
def test_random_frames_get_documented_answers_and_lose_nothing(
    live: Live, batch: list[Throw]
) -> None:
    async def run() -> None:
        for kind, data in batch:
            await live.throw(kind, data)

    live.loop.run_until_complete(asyncio.wait_for(run(), 4 * WAIT))
    live.check_store()


def test_the_fuzzed_server_is_still_healthy(live: Live) -> None:
    """After the property (file order): the connection and server are fine and
    the server logged no traceback, so nothing failed out of sight either."""

    async def check() -> dict[str, Any]:
        return await live.ws.request({"action": "ping"})

    assert live.loop.run_until_complete(check())["type"] == "pong"
    r = live.http.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    live.check_store()
    log = "".join(live.server.log)
    assert "Traceback" not in log and "ERROR" not in log, log
