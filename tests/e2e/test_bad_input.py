"""Principle 7: bad input gets its documented error and loses nothing.

Every bad frame on /ws gets an error frame with its documented code; afterwards
the same connection still answers (a ping gets a pong, a send gets an ack with
the next `seq`) and the stored history is exactly what it was, plus that ack.
Every bad HTTP request gets `{"error": {"code", "message"}}` with the status
documented for its code.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from hubbub.protocol.errors import ErrorCode
from hubbub.protocol.frames import Send
from hubbub.protocol.limits import Limits
from support import WAIT, WS, Server, auth, start_server, ws_connect

PASSWORD = "correct horse"
MAX_CHARS = Limits().max_message_chars
MAX_CHANNEL = next(
    m.max_length for m in Send.model_fields["channel"].metadata if hasattr(m, "max_length")
)
_cids = itertools.count()


# --- a server shared by the module (bad input must not change it anyway) ------------------


@dataclasses.dataclass
class World:
    server: Server
    alice: str  # tokens
    bob: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(
        tmp_path_factory.mktemp("bad-input"),
        "--limit",
        "messages_per_second=1000,message_burst=1000",
    )
    try:
        with httpx.Client(base_url=server.url, timeout=WAIT) as http:
            tokens = {}
            for name in ("alice", "bob"):
                r = http.post("/api/auth/register", json={"username": name, "password": PASSWORD})
                assert r.status_code == 201, r.text
                tokens[name] = r.json()["token"]
            # Both are in #general (joined on registering); #lobby is alice's alone.
            r = http.post("/api/channels", json={"name": "lobby"}, headers=auth(tokens["alice"]))
            assert r.status_code == 201, r.text
            for i in (1, 2):
                r = http.post(
                    "/api/channels/general/messages",
                    json={"text": f"seed {i}", "client_id": f"seed-{i}"},
                    headers=auth(tokens["alice"]),
                )
                assert r.status_code == 201, r.text
        yield World(server, tokens["alice"], tokens["bob"])
    finally:
        server.stop()


@pytest.fixture
async def api(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.server.url, timeout=WAIT) as client:
        yield client


@pytest.fixture
async def alice_ws(world: World) -> AsyncIterator[WS]:
    async with ws_connect(f"{world.server.ws_url}?token={world.alice}") as ws:
        hello = await ws.recv()
        assert hello["type"] == "hello" and hello["user"]["username"] == "alice"
        yield ws


Row = tuple[int, str | None, str, str | None]


async def history(api: httpx.AsyncClient, token: str, channel: str = "general") -> list[Row]:
    """Every stored message of `channel`, oldest first, as (seq, author, text, client_id)."""
    rows: list[Row] = []
    after = 0
    while True:
        r = await api.get(
            f"/api/channels/{channel}/messages",
            params={"after": after, "limit": 200},
            headers=auth(token),
        )
        assert r.status_code == 200, r.text
        page = r.json()
        rows += [
            (m["seq"], m["author"]["username"], m["text"], m["client_id"]) for m in page["messages"]
        ]
        if not page["has_more"]:
            return rows
        after = rows[-1][0]


async def still_works(ws: WS, api: httpx.AsyncClient, token: str, before: list[Row]) -> None:
    """Nothing was stored by the bad input, and the same connection still answers:
    a ping gets a pong and a send is acked with the next seq, stored after the rest."""
    assert await history(api, token) == before
    pong = await ws.request({"action": "ping"})
    assert pong["type"] == "pong"
    cid = f"ok-{next(_cids)}"
    ack = await ws.request({"action": "send", "channel": "general", "text": cid, "client_id": cid})
    assert ack["type"] == "ack", ack
    assert ack["seq"] == before[-1][0] + 1 and not ack["duplicate"]
    assert await history(api, token) == [*before, (ack["seq"], "alice", cid, cid)]
    assert ws.backlog == [], "no frame should arrive that nobody asked for"


# --- WebSocket: each bad frame ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Bad:
    payload: str | bytes
    code: str
    field: str | None = None
    message: str | None = None  # a substring of the error message
    text: bool | None = None  # None: str -> text frame, bytes -> binary frame
    id: str | int | None = None  # the `id` the error must echo


def frame(**fields: Any) -> str:
    return json.dumps(fields)


NOT_OBJECT = "a frame must be a JSON object"
SEND = {"action": "send", "channel": "general", "text": "hi", "client_id": "c-bad"}

BAD_FRAMES = {
    # not JSON at all
    "malformed-json": Bad("{not json", "invalid_json"),
    "empty-frame": Bad("", "invalid_json"),
    "truncated-json": Bad('{"action": "ping"', "invalid_json"),
    "single-quotes": Bad("{'action': 'ping'}", "invalid_json"),
    "trailing-garbage": Bad('{"action": "ping"} {}', "invalid_json"),
    "nan": Bad('{"action": "ping", "id": NaN}', "invalid_json"),
    "lone-surrogate-escape": Bad('{"action": "ping", "x": "\\ud800"}', "invalid_json"),
    # not UTF-8 in a binary frame (in a text frame it closes 1007: see below)
    "binary-not-utf8": Bad(b"\xff\xfe\xfd", "invalid_utf8"),
    "encoded-surrogate": Bad(b'{"action": "ping", "x": "\xed\xa0\x80"}', "invalid_utf8"),
    "overlong-encoding": Bad(b'{"action": "\xc0\xafping"}', "invalid_utf8"),
    # JSON, but not an object
    "array": Bad("[]", "invalid_input", message=NOT_OBJECT),
    "array-of-frame": Bad('[{"action": "ping"}]', "invalid_input", message=NOT_OBJECT),
    "string": Bad('"ping"', "invalid_input", message=NOT_OBJECT),
    "number": Bad("42", "invalid_input", message=NOT_OBJECT),
    "null": Bad("null", "invalid_input", message=NOT_OBJECT),
    "bool": Bad("true", "invalid_input", message=NOT_OBJECT),
    # missing, unknown or non-string action
    "no-action": Bad("{}", "unknown_action", "action"),
    "type-not-action": Bad(frame(type="ping"), "unknown_action", "action"),
    "unknown-action": Bad(frame(action="nope", id="u1"), "unknown_action", "action", id="u1"),
    "action-case": Bad(frame(action="PING"), "unknown_action", "action"),
    "action-space": Bad(frame(action="ping "), "unknown_action", "action"),
    "action-int": Bad(frame(action=5, id=7), "unknown_action", "action", id=7),
    "action-null": Bad(frame(action=None), "unknown_action", "action"),
    "action-list": Bad(frame(action=["ping"]), "unknown_action", "action"),
    "action-object": Bad(frame(action={"name": "ping"}), "unknown_action", "action"),
    # a required field is missing (the S1 tutorial's wording)
    **{
        f"send-without-{name}": Bad(
            frame(**{k: v for k, v in SEND.items() if k != name}, id=f"m-{name}"),
            "invalid_input",
            name,
            f"{name} not in message dict",
            id=f"m-{name}",
        )
        for name in ("channel", "text", "client_id")
    },
    "subscribe-without-channel": Bad(
        frame(action="subscribe"), "invalid_input", "channel", "channel not in message dict"
    ),
    "history-without-channel": Bad(
        frame(action="history"), "invalid_input", "channel", "channel not in message dict"
    ),
    "read-without-seq": Bad(
        frame(action="read", channel="general"), "invalid_input", "seq", "seq not in message dict"
    ),
    "watch-without-usernames": Bad(
        frame(action="watch_presence"), "invalid_input", "usernames", "not in message dict"
    ),
    "auth-without-token": Bad(
        frame(action="auth"), "invalid_input", "token", "token not in message dict"
    ),
    # wrong types: strict, nothing is coerced
    "since-as-string": Bad(
        frame(action="subscribe", channel="general", since="1"), "invalid_input", "since"
    ),
    "since-as-float": Bad(
        frame(action="subscribe", channel="general", since=1.5), "invalid_input", "since"
    ),
    "since-as-bool": Bad(
        frame(action="subscribe", channel="general", since=True), "invalid_input", "since"
    ),
    "since-negative": Bad(
        frame(action="subscribe", channel="general", since=-1), "invalid_input", "since"
    ),
    "text-as-int": Bad(frame(**{**SEND, "text": 5}), "invalid_input", "text"),
    "text-as-list": Bad(frame(**{**SEND, "text": ["hi"]}), "invalid_input", "text"),
    "text-null": Bad(frame(**{**SEND, "text": None}), "invalid_input", "text"),
    "client-id-as-int": Bad(frame(**{**SEND, "client_id": 5}), "invalid_input", "client_id"),
    "client-id-empty": Bad(frame(**{**SEND, "client_id": ""}), "invalid_input", "client_id"),
    "client-id-too-long": Bad(
        frame(**{**SEND, "client_id": "c" * 65}), "invalid_input", "client_id"
    ),
    "channel-as-int": Bad(frame(**{**SEND, "channel": 5}), "invalid_input", "channel"),
    "channel-empty": Bad(frame(**{**SEND, "channel": ""}), "invalid_input", "channel"),
    "channel-too-long": Bad(
        frame(**{**SEND, "channel": "c" * (MAX_CHANNEL + 1)}), "invalid_input", "channel"
    ),
    "limit-as-string": Bad(
        frame(action="history", channel="general", limit="10"), "invalid_input", "limit"
    ),
    "limit-zero": Bad(
        frame(action="history", channel="general", limit=0), "invalid_input", "limit"
    ),
    "limit-too-big": Bad(
        frame(action="history", channel="general", limit=201), "invalid_input", "limit"
    ),
    "before-negative": Bad(
        frame(action="history", channel="general", before=-1), "invalid_input", "before"
    ),
    "seq-as-string": Bad(frame(action="read", channel="general", seq="1"), "invalid_input", "seq"),
    "seq-as-float": Bad(frame(action="read", channel="general", seq=1.0), "invalid_input", "seq"),
    "usernames-as-string": Bad(
        frame(action="watch_presence", usernames="bob"), "invalid_input", "usernames"
    ),
    "usernames-of-ints": Bad(
        frame(action="watch_presence", usernames=[1]), "invalid_input", "usernames.0"
    ),
    "token-as-int": Bad(frame(action="auth", token=5), "invalid_input", "token"),
    "id-as-bool": Bad(frame(action="ping", id=True), "invalid_input", "id"),
    "id-as-float": Bad(frame(action="ping", id=1.5), "invalid_input", "id"),
    "id-as-object": Bad(frame(action="ping", id={"n": 1}), "invalid_input", "id"),
    "huge-int-is-a-float": Bad(
        frame(action="subscribe", channel="general", since=10**30), "invalid_input", "since"
    ),
    # text empty, blank or too long
    "text-empty": Bad(frame(**{**SEND, "text": ""}, id="t0"), "message_too_long", "text", id="t0"),
    "text-blank": Bad(frame(**{**SEND, "text": " \n\t "}), "message_too_long", "text"),
    "text-too-long": Bad(frame(**{**SEND, "text": "x" * (MAX_CHARS + 1)}), "message_too_long"),
    "text-too-long-multibyte": Bad(
        frame(**{**SEND, "text": "é" * (MAX_CHARS + 1)}, id=3), "message_too_long", id=3
    ),
}


@pytest.mark.parametrize("bad", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
async def test_bad_frame_gets_its_error_and_loses_nothing(
    bad: Bad, world: World, api: httpx.AsyncClient, alice_ws: WS
) -> None:
    before = await history(api, world.alice)
    await alice_ws.conn.send(bad.payload, text=bad.text)
    err = await alice_ws.recv()
    assert err["type"] == "error", err
    assert err["code"] == bad.code, err
    assert err["id"] == bad.id
    assert err["message"]
    if bad.field is not None:
        assert err["field"] == bad.field, err
    if bad.message is not None:
        assert bad.message in err["message"], err
    await still_works(alice_ws, api, world.alice, before)


async def test_many_bad_frames_in_a_row_keep_order_and_lose_nothing(
    world: World, api: httpx.AsyncClient, alice_ws: WS
) -> None:
    """All of them pipelined, without waiting: one error each, in order."""
    before = await history(api, world.alice)
    for i, bad in enumerate(BAD_FRAMES.values()):
        await alice_ws.conn.send(bad.payload, text=bad.text)
        await alice_ws.send({"action": "ping", "id": f"after-{i}"})
    for i, bad in enumerate(BAD_FRAMES.values()):
        err = await alice_ws.recv()
        assert (err["type"], err["code"]) == ("error", bad.code), (bad, err)
        pong = await alice_ws.recv()
        assert (pong["type"], pong["id"]) == ("pong", f"after-{i}")
    await still_works(alice_ws, api, world.alice, before)


async def test_unknown_fields_are_ignored(
    world: World, api: httpx.AsyncClient, alice_ws: WS
) -> None:
    pong = await alice_ws.request({"action": "ping", "extra": {"nested": [1, 2]}, "type": "x"})
    assert pong["type"] == "pong"
    await still_works(alice_ws, api, world.alice, await history(api, world.alice))


async def test_text_at_the_limit_is_stored_exactly_as_sent(
    world: World, api: httpx.AsyncClient, alice_ws: WS
) -> None:
    before = await history(api, world.alice)
    texts = [
        "x" * MAX_CHARS,
        "é" * MAX_CHARS,  # characters, not bytes, are counted
        "<script>alert(1)</script> & \u0000 \u202e 👋",
    ]
    acked: list[Row] = []
    for i, text in enumerate(texts):
        cid = f"limit-{next(_cids)}"
        ack = await alice_ws.request(
            {"action": "send", "channel": "general", "text": text, "client_id": cid}
        )
        assert ack["type"] == "ack", ack
        assert ack["message"]["text"] == text
        assert ack["seq"] == before[-1][0] + 1 + i
        acked.append((ack["seq"], "alice", text, cid))
    assert await history(api, world.alice) == before + acked


async def test_unknown_channel_is_not_found(
    world: World, api: httpx.AsyncClient, alice_ws: WS
) -> None:
    before = await history(api, world.alice)
    for action, extra in [
        ("subscribe", {}),
        ("subscribe", {"since": 0}),
        ("send", {"text": "hi", "client_id": "to-nowhere"}),
        ("history", {}),
        ("typing", {}),
        ("read", {"seq": 1}),
    ]:
        err = await alice_ws.request({"action": action, "channel": "no-such-channel", **extra})
        assert (err["type"], err["code"]) == ("error", "not_found"), (action, err)
    await still_works(alice_ws, api, world.alice, before)


# --- WebSocket: oversized frames -----------------------------------------------------------


async def closed_with(ws: WS) -> tuple[int, str]:
    """Read until the server closes; return its close code and reason."""
    with pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            await ws.recv()
    rcvd = info.value.rcvd
    assert rcvd is not None, "the server must send a close frame"
    return rcvd.code, rcvd.reason


NOT_UTF8_TEXT = {
    "invalid-byte": b'{"action": "ping", "x": "\xc3\x28"}',
    "overlong-encoding": b'{"action": "\xc0\xafping"}',
    "encoded-surrogate": b'{"action": "ping", "x": "\xed\xa0\x80"}',
}


@pytest.mark.parametrize("payload", NOT_UTF8_TEXT.values(), ids=NOT_UTF8_TEXT.keys())
async def test_a_text_frame_that_is_not_utf8_closes_1007(
    payload: bytes, world: World, api: httpx.AsyncClient
) -> None:
    # RFC 6455 section 8.1: the endpoint fails the connection (issue #19, defect 4).
    before = await history(api, world.alice)
    async with ws_connect(f"{world.server.ws_url}?token={world.alice}") as ws:
        await ws.expect("hello")
        await ws.conn.send(payload, text=True)
        code, _ = await closed_with(ws)
        assert code == 1007
    async with ws_connect(f"{world.server.ws_url}?token={world.alice}") as ws:
        await ws.expect("hello")
        await still_works(ws, api, world.alice, before)


@pytest.mark.parametrize("fragmented", [False, True], ids=["one-frame", "fragments"])
async def test_oversized_frame_closes_1009_and_server_keeps_serving(
    server_factory: Callable[..., Server], tmp_path: Path, fragmented: bool
) -> None:
    server = server_factory("--limit", "max_frame_bytes=4096")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as api:
        r = await api.post("/api/auth/register", json={"username": "alice", "password": PASSWORD})
        token = r.json()["token"]  # alice is in #general: joined on registering
        url = f"{server.ws_url}?token={token}"
        async with ws_connect(url) as other, ws_connect(url) as big:
            hello = await big.recv()
            assert hello["limits"]["max_frame_bytes"] == 4096
            await other.expect("hello")
            sub = await other.request({"action": "subscribe", "channel": "general", "since": 0})
            assert sub["type"] == "subscribed"
            first = await big.request(
                {"action": "send", "channel": "general", "text": "y" * 3000, "client_id": "fits"}
            )
            assert first["type"] == "ack" and first["seq"] == 1
            await other.expect("message", seq=1)

            text = frame(**{**SEND, "text": "z" * 5000, "client_id": "too-big"})
            if fragmented:  # each fragment fits; the message does not
                await big.conn.send([text[i : i + 2000] for i in range(0, len(text), 2000)])
            else:
                await big.conn.send(text)
            code, _ = await closed_with(big)
            assert code == 1009

            # The other connection of the same user, new connections and the
            # stored history are all untouched.
            assert (await other.request({"action": "ping"}))["type"] == "pong"
            async with ws_connect(url) as fresh:
                await fresh.expect("hello")
                ack = await fresh.request(
                    {"action": "send", "channel": "general", "text": "after", "client_id": "a"}
                )
                assert ack["type"] == "ack" and ack["seq"] == 2
            await other.expect("message", seq=2)
        rows = await history(api, token)
        assert [(seq, cid) for seq, _, _, cid in rows] == [(1, "fits"), (2, "a")]


# --- REST ----------------------------------------------------------------------------------------


def api_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check the documented error shape and status; return the `error` object."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["error"], body
    err: dict[str, Any] = body["error"]
    assert {"code", "message"} <= set(err) <= {"code", "message", "field", "retry_after"}, err
    assert err["code"] == code, err
    assert ErrorCode[code].status == status
    assert isinstance(err["message"], str) and err["message"]
    assert not err["message"].startswith("None"), err
    return err


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    "body",
    [b"{nope", b'{"username": "x",}', b"{'username': 'x'}", b'{"username": "x"', b"\xff\xfe"],
)
async def test_rest_invalid_json_body(api: httpx.AsyncClient, body: bytes) -> None:
    r = await api.post("/api/auth/register", content=body, headers=JSON)
    api_error(r, 400, "invalid_json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "carol"}, "password"),
        ({"password": PASSWORD}, "username"),
        ({"username": 5, "password": PASSWORD}, "username"),
        ({"username": "carol", "password": ["x"] * 9}, "password"),
        ({"username": "carol", "password": PASSWORD, "display_name": 7}, "display_name"),
        ({"username": "c" * 65, "password": PASSWORD}, "username"),
    ],
)
async def test_rest_missing_or_wrong_fields(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    err = api_error(await api.post("/api/auth/register", json=body), 400, "invalid_input")
    assert err["field"] == field


@pytest.mark.parametrize("body", [[1, 2], "text", 5, None])
async def test_rest_body_not_an_object(api: httpx.AsyncClient, body: Any) -> None:
    r = await api.post("/api/auth/register", content=json.dumps(body), headers=JSON)
    api_error(r, 400, "invalid_input")


async def test_rest_no_body(api: httpx.AsyncClient) -> None:
    api_error(await api.post("/api/auth/register"), 400, "invalid_input")
    api_error(await api.post("/api/auth/register", headers=JSON), 400, "invalid_input")


async def test_rest_bad_query_parameters(api: httpx.AsyncClient, world: World) -> None:
    for params, field in [
        ({"limit": "abc"}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"before": -1}, "before"),
        ({"after": "x"}, "after"),
    ]:
        r = await api.get(
            "/api/channels/general/messages", params=params, headers=auth(world.alice)
        )
        assert api_error(r, 400, "invalid_input")["field"] == field


async def test_rest_seq_beyond_any_stored_is_just_empty(
    api: httpx.AsyncClient, world: World
) -> None:
    """A huge (but valid) seq is not a server error: there is simply nothing there."""
    for params, more in [({"after": 2**63 - 1}, False), ({"after": 2**64 - 1}, False)]:
        r = await api.get(
            "/api/channels/general/messages", params=params, headers=auth(world.alice)
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"messages": [], "has_more": more}
    rows = await history(api, world.alice)
    for before in (2**63 - 1, 2**64 - 1):
        r = await api.get(
            "/api/channels/general/messages",
            params={"before": before, "limit": 1},
            headers=auth(world.alice),
        )
        assert r.status_code == 200, r.text
        assert [m["seq"] for m in r.json()["messages"]] == [rows[-1][0]]


async def test_ws_seq_beyond_any_stored_is_not_a_server_error(
    world: World, api: httpx.AsyncClient, alice_ws: WS
) -> None:
    before = await history(api, world.alice)
    for seq in (2**63 - 1, 2**63, 2**64 - 1):
        page = await alice_ws.request({"action": "history", "channel": "general", "after": seq})
        assert (page["type"], page["messages"], page["has_more"]) == ("history", [], False)
        page = await alice_ws.request(
            {"action": "history", "channel": "general", "before": seq, "limit": 1}
        )
        assert page["type"] == "history", page
        assert [m["seq"] for m in page["messages"]] == [before[-1][0]]
        sub = await alice_ws.request({"action": "subscribe", "channel": "general", "since": seq})
        assert sub["type"] == "subscribed" and sub["recovered"] is False
        read = await alice_ws.request({"action": "read", "channel": "general", "seq": seq})
        assert read["type"] == "ok"
    await alice_ws.request({"action": "unsubscribe", "channel": "general"})
    alice_ws.backlog.clear()  # `read` events for the cursor moves
    await still_works(alice_ws, api, world.alice, before)


async def test_rest_names_and_passwords(api: httpx.AsyncClient, world: World) -> None:
    for username in ["Carol", "c", "carol smith", "-carol", "carol!", "ca" * 17, "", "çarol"]:
        r = await api.post("/api/auth/register", json={"username": username, "password": PASSWORD})
        assert api_error(r, 400, "invalid_name")["field"] == "username", username
    for password in ["", "short", "x" * 7, "x" * 257]:
        r = await api.post("/api/auth/register", json={"username": "carol", "password": password})
        assert api_error(r, 400, "weak_password")["field"] == "password"
    r = await api.post("/api/auth/register", json={"username": "alice", "password": "x" * 12})
    api_error(r, 409, "conflict")
    # alice's account is untouched by the failed registration
    r = await api.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200, r.text

    for name in ["General", "", "has space", "-dash", "dm:alice,bob", "x" * 81, "émoji"]:
        r = await api.post("/api/channels", json={"name": name}, headers=auth(world.bob))
        code = "invalid_input" if len(name) > 80 else "invalid_name"
        assert api_error(r, 400, code)["field"] == "name", name
    r = await api.post("/api/channels", json={"name": "lobby"}, headers=auth(world.bob))
    api_error(r, 409, "conflict")
    r = await api.get("/api/channels/lobby", headers=auth(world.alice))
    assert r.json()["member_count"] == 1  # bob did not get in through the conflict


async def test_rest_send_bad_messages_stores_nothing(api: httpx.AsyncClient, world: World) -> None:
    before = await history(api, world.alice)
    url = "/api/channels/general/messages"
    h = auth(world.alice)
    for body, status, code, field in [
        ({"text": "", "client_id": "r1"}, 400, "message_too_long", "text"),
        ({"text": "   ", "client_id": "r1"}, 400, "message_too_long", "text"),
        ({"text": "x" * (MAX_CHARS + 1), "client_id": "r1"}, 400, "message_too_long", "text"),
        ({"text": "hi", "client_id": 5}, 400, "invalid_input", "client_id"),  # optional, not any
        ({"client_id": "r1"}, 400, "invalid_input", "text"),
        ({"text": 1, "client_id": "r1"}, 400, "invalid_input", "text"),
        ({"text": "hi", "client_id": ""}, 400, "invalid_input", "client_id"),
    ]:
        err = api_error(await api.post(url, json=body, headers=h), status, code)
        assert err.get("field") == field, (body, err)
    r = await api.post(
        "/api/channels/nope/messages", json={"text": "hi", "client_id": "r1"}, headers=h
    )
    api_error(r, 404, "not_found")
    assert await history(api, world.alice) == before


async def test_rest_authentication_errors(api: httpx.AsyncClient, world: World) -> None:
    for headers in [{}, {"Authorization": "Basic YWxpY2U6eA=="}, {"Authorization": "Bearer"}]:
        r = await api.get("/api/me", headers=headers)
        api_error(r, 401, "not_authenticated")
        assert r.headers["www-authenticate"] == "Bearer"
    for token in ["garbage", world.alice[:-2], world.alice + "x", "a.b.c"]:
        r = await api.get("/api/me", headers=auth(token))
        api_error(r, 401, "token_invalid")
        assert r.headers["www-authenticate"] == "Bearer"
    r = await api.get("/api/me", headers=auth(world.alice))
    assert r.status_code == 200 and r.json()["username"] == "alice"


async def test_rest_unknown_routes_and_methods(api: httpx.AsyncClient, world: World) -> None:
    for path in ["/api/nope", "/nope", "/api", "/api/channels/general/nope", "/ws"]:
        r = await api.get(path, headers=auth(world.alice))
        api_error(r, 404, "not_found")
    r = await api.get("/api/users/ghost", headers=auth(world.alice))
    assert api_error(r, 404, "not_found")["field"] == "username"
    for method, path in [
        ("DELETE", "/api/me"),
        ("GET", "/api/auth/login"),
        ("PUT", "/api/auth/register"),
        ("PATCH", "/api/channels"),
        ("DELETE", "/api/channels/general/messages"),
    ]:
        r = await api.request(method, path, headers=auth(world.alice))
        api_error(r, 405, "method_not_allowed")
        assert method not in r.headers["allow"] and r.headers["allow"], r.headers
