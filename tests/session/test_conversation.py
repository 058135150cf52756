"""One conversation suite for both deployments of the WebSocket protocol
(docs/protocol.md): every client action, run against `hubbub serve` (id
`server`) and against the Lambda handlers under `hubbub aws-local` (id `aws`),
with real WebSocket clients, asserting the same frames from both, frame by
frame.

Exact dicts throughout. The only values not compared exactly are server clock
readings (`created_at`, `pong.time`) the first time a test sees them: `MS`
matches any plausible one, and later frames are compared with the value seen.
Where the two deployments are documented to differ (docs/deploy-aws.md,
"Differences from `hubbub serve`") the expected behaviour is looked up in
`DIFFERENCES`; nowhere else does a test depend on the driver.

Ordering: a connection's answers come in the order of its frames, but events
may come in between (docs/protocol.md, "Frames"), so an event and an answer to
the same connection are compared as an unordered pair. Every event an action
causes is delivered before the action is answered, on both (the server's bus
delivers synchronously; a Lambda posts the event before it posts the answer),
so once the answer is in, a `fence` (a ping whose pong must be the very next
frame) proves that nothing else was sent to a connection.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
import websockets

import hubbub
from support import WS, ws_connect

from .drivers import Account, Driver, unique


class _Ms:
    """Equal to any plausible server clock reading: integer milliseconds since
    the epoch within ten minutes of the test's clock."""

    def __eq__(self, other: object) -> bool:
        return type(other) is int and abs(other - time.time() * 1000) < 600_000

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<ms now>"


MS: Any = _Ms()

# hello's limits: the defaults (docs/protocol.md, "Server limits") with the
# rate limit both deployments are started with (drivers.LIMITS).
HELLO_LIMITS = {
    "max_frame_bytes": 65536,
    "max_message_chars": 10000,
    "messages_per_second": 1000.0,
    "message_burst": 1000,
    "max_connections_per_user": 20,
    "max_subscriptions": 1000,
    "resume_limit": 1000,
    "heartbeat_interval": 30.0,
    "idle_timeout": 75.0,
    "typing_ttl": 6.0,
    "max_file_bytes": 512 * 1024 * 1024,
    "max_files_per_message": 10,
}
# docs/protocol.md, typing_ttl: "the server relays at most one `typing` per connection and
# channel every 2 s"
TYPING_EVERY = 2.0
QUIET = 0.5  # s: how long "nothing arrives" is watched for where no frame can fence it


# --- the documented differences ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a deployment refuses something."""

    http_status: int | None = None  # the WebSocket upgrade itself is refused with this status
    error: dict[str, Any] | None = None  # this error frame comes first
    closed: bool = True  # then the connection is closed...
    close_code: int | None = None  # ...with this code (None: the docs name none)


@dataclasses.dataclass(frozen=True)
class Differences:
    hello_on_token_url: bool  # a `?token=` connection's first frame is `hello`
    bad_token_url: Outcome  # `?token=forged`
    bad_auth_frame: Outcome  # `{"action": "auth", "token": "forged"}`
    oversize_frame: Outcome  # a frame over max_frame_bytes (64 KiB) but under 128 KiB
    no_room: tuple[str, int, str]  # a guest's ?room_name= it may not use: how it is refused


INVALID_TOKEN = {"type": "error", "id": "a1", "code": "token_invalid", "message": "invalid token"}

# docs/deploy-aws.md, "Differences from `hubbub serve`". Nothing else may differ.
DIFFERENCES = {
    "server": Differences(
        hello_on_token_url=True,
        bad_token_url=Outcome(close_code=4001),  # the upgrade succeeds, then 4001
        bad_auth_frame=Outcome(close_code=4001),  # no error frame: the close code says it
        oversize_frame=Outcome(close_code=1009),
        # docs/protocol.md, "S1 tutorial protocol": close 4004 with reason "no such room"
        no_room=("close", 4004, "no such room"),
    ),
    "aws": Differences(
        # "`$connect` cannot push, so a `?token=` connection gets no `hello`"
        hello_on_token_url=False,
        # "A refused `$connect` is an HTTP status (401 bad token ...), not a close code"
        bad_token_url=Outcome(http_status=401),
        # "a bad `auth` frame gets its error frame, then the connection is closed"
        bad_auth_frame=Outcome(error=INVALID_TOKEN),
        # "Frames over `max_frame_bytes` get an `invalid_input` error frame"
        oversize_frame=Outcome(
            error={
                "type": "error",
                "id": None,  # refused before it is parsed: no id to echo
                "code": "invalid_input",
                "message": "frame is over 65536 bytes",
            },
            closed=False,
        ),
        # "404 room unavailable", with the same reason as the body
        no_room=("http", 404, "no such room"),
    ),
}


# --- frames --------------------------------------------------------------------------------


def hello(a: Account) -> dict[str, Any]:
    return {
        "type": "hello",
        "user": {"username": a.name, "display_name": a.name, "role": a.role},
        "server_version": hubbub.__version__,
        "limits": HELLO_LIMITS,
    }


def author(a: Account) -> dict[str, Any]:
    return {"username": a.name, "display_name": a.name}


def guest(name: str) -> dict[str, Any]:
    return {"username": None, "display_name": name}


def message_out(
    channel: str,
    seq: int,
    by: dict[str, Any],
    text: str,
    client_id: str | None,
    created_at: Any = MS,
) -> dict[str, Any]:
    return {
        "channel": channel,
        "seq": seq,
        "author": by,
        "text": text,
        "client_id": client_id,
        "created_at": created_at,
    }


def event(m: dict[str, Any]) -> dict[str, Any]:
    """The `message` event of a MessageOut."""
    return {"type": "message", **m}


def error(fid: str | int | None, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "id": fid, "code": code, "message": message, **extra}


def subscribed(
    fid: str | int, channel: str, last_seq: int, replayed: int = 0, recovered: bool = True
) -> dict[str, Any]:
    return {
        "type": "subscribed",
        "id": fid,
        "channel": channel,
        "last_seq": last_seq,
        "replayed": replayed,
        "recovered": recovered,
    }


def pushed(*messages: tuple[str, str]) -> dict[str, Any]:
    """An S1 tutorial push (or getRecentMessages answer)."""
    return {"messages": [{"user_name": u, "content": c} for u, c in messages]}


# --- connections ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def signed_in(drv: Driver, a: Account) -> AsyncIterator[WS]:
    """A native connection past its `hello`. It signs in with an `auth` frame,
    the way that works on both (`?token=` gets no hello on aws)."""
    async with ws_connect(drv.ws_url) as ws:
        await ws.send({"action": "auth", "token": a.token})
        assert await ws.recv() == hello(a)
        yield ws


@contextlib.asynccontextmanager
async def in_room(drv: Driver, room: str) -> AsyncIterator[WS]:
    """An S1 tutorial guest in `room`, its room open: frames are handled in
    order, so once getRecentMessages answers, the room is followed."""
    async with ws_connect(f"{drv.ws_url}?room_name={room}") as ws:
        await ws.send({"action": "getRecentMessages"})
        frame = await ws.recv()
        assert set(frame) == {"messages"}, frame
        yield ws


async def take(ws: WS, n: int) -> list[dict[str, Any]]:
    """The next `n` frames, in the order they came (each wait bounded)."""
    return [await ws.recv() for _ in range(n)]


def same_frames(got: Iterable[dict[str, Any]], expected: Iterable[dict[str, Any]]) -> bool:
    """The same frames in any order (for an event and an answer to one connection)."""
    left = list(got)
    for want in expected:
        for i, frame in enumerate(left):
            if frame == want:
                del left[i]
                break
        else:
            return False
    return not left


_fences = itertools.count(1)


async def fence(ws: WS) -> None:
    """Nothing else was sent to `ws`: a ping's pong is the very next frame."""
    fid = f"fence-{next(_fences)}"
    await ws.send({"action": "ping", "id": fid})
    assert await ws.recv() == {"type": "pong", "id": fid, "time": MS}


async def quiet(ws: WS, seconds: float = QUIET) -> None:
    """Nothing arrives for `seconds`: only where no answer can fence it (a close)."""
    try:
        frame = await ws.recv(timeout=seconds)
    except TimeoutError:
        return
    raise AssertionError(f"expected no frame, got {frame}")


async def sent(
    ws: WS, by: Account, fid: int, channel: str, seq: int, text: str, client_id: str
) -> dict[str, Any]:
    """Send on a connection not subscribed to `channel`, so the ack is the only
    frame; it must be message `seq`. Returns the stored message (MessageOut)."""
    await ws.send(
        {"action": "send", "id": fid, "channel": channel, "text": text, "client_id": client_id}
    )
    ack = await ws.recv()
    assert ack == {
        "type": "ack",
        "id": fid,
        "channel": channel,
        "seq": seq,
        "client_id": client_id,
        "duplicate": False,
        "message": message_out(channel, seq, author(by), text, client_id),
    }
    return ack["message"]  # type: ignore[no-any-return]


async def until(ws: WS, answer: dict[str, Any], most: int = 10) -> list[dict[str, Any]]:
    """The frames that come before `answer` (at most `most` of them)."""
    before: list[dict[str, Any]] = []
    while (frame := await ws.recv()) != answer:
        before.append(frame)
        assert len(before) < most, f"no {answer} after {before}"
    return before


async def assert_outcome(ws: WS, outcome: Outcome) -> None:
    if outcome.error is not None:
        assert await ws.recv() == outcome.error
    if not outcome.closed:
        await fence(ws)  # still open, and nothing else came
        return
    with pytest.raises(websockets.ConnectionClosed) as info:
        frame = await ws.recv()
        raise AssertionError(f"expected the connection closed, got {frame}")
    if outcome.close_code is not None:
        assert info.value.rcvd is not None and info.value.rcvd.code == outcome.close_code


# --- the conversation ------------------------------------------------------------------------


async def test_auth_is_the_first_frame(drv: Driver) -> None:
    alice = await drv.account("alice")
    async with ws_connect(drv.ws_url) as ws:
        # Anything before `auth` is refused, and the connection stays open.
        await ws.send({"action": "ping", "id": 1})
        assert await ws.recv() == error(1, "not_authenticated", "send an auth frame first")
        await ws.send({"action": "subscribe", "id": 2, "channel": "general"})
        assert await ws.recv() == error(2, "not_authenticated", "send an auth frame first")

        await ws.send({"action": "auth", "id": 3, "token": alice.token})
        assert await ws.recv() == hello(alice)  # hello echoes no id
        await ws.send({"action": "auth", "id": 4, "token": alice.token})
        assert await ws.recv() == error(4, "invalid_input", "already authenticated", field="action")
        await fence(ws)


async def test_token_on_the_url(drv: Driver) -> None:
    alice = await drv.account("alice")
    async with ws_connect(f"{drv.ws_url}?token={alice.token}") as ws:
        if DIFFERENCES[drv.name].hello_on_token_url:
            assert await ws.recv() == hello(alice)
        # Signed in either way: a native action is answered, and nothing else came.
        await ws.send({"action": "watch_presence", "id": 1, "usernames": [alice.name]})
        assert await ws.recv() == {
            "type": "presence_state",
            "id": 1,
            "users": {alice.name: "online"},
        }
        await fence(ws)


async def test_a_bad_token_is_refused(drv: Driver) -> None:
    expect = DIFFERENCES[drv.name]
    url = f"{drv.ws_url}?token=forged"
    if expect.bad_token_url.http_status is not None:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with ws_connect(url):
                pass
        assert refused.value.response.status_code == expect.bad_token_url.http_status
    else:
        async with ws_connect(url) as ws:
            await assert_outcome(ws, expect.bad_token_url)

    async with ws_connect(drv.ws_url) as ws:
        await ws.send({"action": "auth", "id": "a1", "token": "forged"})
        await assert_outcome(ws, expect.bad_auth_frame)


async def test_send_ack_duplicate_and_the_message_event(drv: Driver) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    general = await drv.channel("general", alice, bob)
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as b:
        await a.send({"action": "subscribe", "id": 1, "channel": general})
        assert await a.recv() == subscribed(1, general, last_seq=0)
        await b.send({"action": "subscribe", "id": 2, "channel": general})
        assert await b.recv() == subscribed(2, general, last_seq=0)

        frame = {"action": "send", "id": 3, "channel": general, "text": "hello", "client_id": "k1"}
        await a.send(frame)
        got = await take(a, 2)  # the ack, and alice's own subscription's event
        first = message_out(general, 1, author(alice), "hello", "k1")
        ack = {
            "type": "ack",
            "id": 3,
            "channel": general,
            "seq": 1,
            "client_id": "k1",
            "duplicate": False,
            "message": first,
        }
        assert same_frames(got, [ack, event(first)]), got
        stored = next(f for f in got if f["type"] == "ack")["message"]
        assert event(stored) in got  # the event carries the very message acknowledged
        assert await b.recv() == event(stored)

        # A retry of k1 (even with other text) is the original, not a new message.
        await a.send({**frame, "id": 4, "text": "hello again"})
        assert await a.recv() == {**ack, "id": 4, "duplicate": True, "message": stored}
        await fence(a)
        await fence(b)  # bob saw no second message

        await a.send({**frame, "id": 5, "text": "second", "client_id": "k2"})
        second = message_out(general, 2, author(alice), "second", "k2")
        got = await take(a, 2)
        ack2 = {**ack, "id": 5, "seq": 2, "client_id": "k2", "message": second}
        assert same_frames(got, [ack2, event(second)]), got
        assert await b.recv() == event(next(f for f in got if f["type"] == "ack")["message"])
        await fence(b)


async def test_a_slash_command_answers_its_caller_and_posts_for_everyone(drv: Driver) -> None:
    """The built-ins run on the server, for every driver: an ephemeral answer
    reaches the caller's frame only; an in-channel one is a message."""
    alice, bob = await drv.account("alice"), await drv.account("bob")
    general = await drv.channel("general", alice, bob)
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as b:
        await b.send({"action": "subscribe", "id": 1, "channel": general})
        assert await b.recv() == subscribed(1, general, last_seq=0)
        await a.send({"action": "command", "id": 2, "channel": general, "text": "/topic"})
        answer = await a.recv()
        assert (answer["type"], answer["id"], answer["response_type"]) == (
            "command_result",
            2,
            "ephemeral",
        )
        assert answer["text"] == f"The topic of #{general}: (no topic)"
        await fence(b)  # nothing for bob

        frame = {"action": "command", "id": 3, "channel": general, "text": "/shrug done"}
        await a.send({**frame, "client_id": "sh1"})
        answer = await a.recv()
        assert answer["response_type"] == "in_channel" and answer["id"] == 3
        posted = answer["message"]
        assert (posted["seq"], posted["text"]) == (1, "done ¯\\_(ツ)_/¯")
        assert await b.recv() == event(posted)


async def test_history_pages(drv: Driver) -> None:
    alice = await drv.account("alice")
    general = await drv.channel("general", alice)
    async with signed_in(drv, alice) as a:
        m: dict[int, dict[str, Any]] = {}
        for seq in range(1, 6):
            m[seq] = await sent(a, alice, seq, general, seq, f"m{seq}", f"k{seq}")

        def page(fid: int, seqs: list[int], has_more: bool) -> dict[str, Any]:
            return {
                "type": "history",
                "id": fid,
                "channel": general,
                "messages": [m[s] for s in seqs],
                "has_more": has_more,
            }

        for fid, query, answer in [
            # Newest first, older than `before` (default: the newest).
            (10, {}, page(10, [5, 4, 3, 2, 1], False)),
            (11, {"limit": 2}, page(11, [5, 4], True)),
            (12, {"before": 4, "limit": 2}, page(12, [3, 2], True)),
            (13, {"before": 3, "limit": 2}, page(13, [2, 1], False)),
            # With `after`: oldest first from after + 1.
            (14, {"after": 2, "limit": 2}, page(14, [3, 4], True)),
            (15, {"after": 3}, page(15, [4, 5], False)),
            (16, {"after": 5}, page(16, [], False)),
        ]:
            await a.send({"action": "history", "id": fid, "channel": general, **query})
            assert await a.recv() == answer, query


async def test_subscribe_since_resumes_after_missed_messages(drv: Driver) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    general = await drv.channel("general", alice, bob)
    async with signed_in(drv, alice) as a:
        m: dict[int, dict[str, Any]] = {}
        async with signed_in(drv, bob) as b1:
            await b1.send({"action": "subscribe", "id": 1, "channel": general})
            assert await b1.recv() == subscribed(1, general, last_seq=0)
            for seq in (1, 2):
                m[seq] = await sent(a, alice, seq, general, seq, f"m{seq}", f"k{seq}")
                assert await b1.recv() == event(m[seq])
        # bob is away while 3, 4, 5 are posted.
        for seq in (3, 4, 5):
            m[seq] = await sent(a, alice, seq, general, seq, f"m{seq}", f"k{seq}")

        async with signed_in(drv, bob) as b2:
            # The missed messages, oldest first, then `subscribed`.
            await b2.send({"action": "subscribe", "id": 10, "channel": general, "since": 2})
            assert await take(b2, 4) == [
                event(m[3]),
                event(m[4]),
                event(m[5]),
                subscribed(10, general, last_seq=5, replayed=3),
            ]
            await b2.send({"action": "unsubscribe", "id": 11, "channel": general})
            assert await b2.recv() == {"type": "unsubscribed", "id": 11, "channel": general}

            # Up to date: nothing to replay.
            await b2.send({"action": "subscribe", "id": 12, "channel": general, "since": 5})
            assert await b2.recv() == subscribed(12, general, last_seq=5)
            await b2.send({"action": "unsubscribe", "id": 13, "channel": general})
            assert await b2.recv() == {"type": "unsubscribed", "id": 13, "channel": general}

            # `since` beyond the channel's last seq: the server does not have
            # what the client saw, so nothing is replayed and recovered is false.
            await b2.send({"action": "subscribe", "id": 14, "channel": general, "since": 9})
            assert await b2.recv() == subscribed(14, general, last_seq=5, recovered=False)
            await b2.send({"action": "unsubscribe", "id": 15, "channel": general})
            assert await b2.recv() == {"type": "unsubscribed", "id": 15, "channel": general}

            # Without `since`: only new messages, which then arrive live.
            await b2.send({"action": "subscribe", "id": 16, "channel": general})
            assert await b2.recv() == subscribed(16, general, last_seq=5)
            m[6] = await sent(a, alice, 6, general, 6, "m6", "k6")
            assert await b2.recv() == event(m[6])
            await fence(b2)


async def test_unsubscribe_stops_the_events(drv: Driver) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    general = await drv.channel("general", alice, bob)
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as b:
        await b.send({"action": "subscribe", "id": 1, "channel": general})
        assert await b.recv() == subscribed(1, general, last_seq=0)
        first = await sent(a, alice, 2, general, 1, "seen", "k1")
        assert await b.recv() == event(first)

        await b.send({"action": "unsubscribe", "id": 3, "channel": general})
        assert await b.recv() == {"type": "unsubscribed", "id": 3, "channel": general}
        await sent(a, alice, 4, general, 2, "unseen", "k2")
        await fence(b)
        # Unsubscribing from a channel not followed is answered the same way.
        await b.send({"action": "unsubscribe", "id": 5, "channel": general})
        assert await b.recv() == {"type": "unsubscribed", "id": 5, "channel": general}


async def test_typing_is_relayed_at_most_once_per_two_seconds(drv: Driver) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    general = await drv.channel("general", alice, bob)
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as b:
        for ws in (a, b):
            await ws.send({"action": "subscribe", "id": 1, "channel": general})
            assert await ws.recv() == subscribed(1, general, last_seq=0)

        typing_alice = {"type": "typing", "channel": general, "user": alice.name}
        started = time.monotonic()
        await a.send({"action": "typing", "id": 2, "channel": general})
        got = await take(a, 2)  # `ok`, and the event on alice's own subscription
        assert same_frames(got, [{"type": "ok", "id": 2}, typing_alice]), got
        assert await b.recv() == typing_alice

        # Again at once: answered, but not relayed (TYPING_EVERY).
        await a.send({"action": "typing", "id": 3, "channel": general})
        before_ok = await until(a, {"type": "ok", "id": 3})
        # The event would have been published before the ok: it would be here.
        await fence(b)
        assert before_ok == [], "relayed to alice's own subscription"
        # Without an id there is no answer; still within the two seconds.
        await a.send({"action": "typing", "channel": general})
        await fence(a)
        await fence(b)
        assert time.monotonic() - started < TYPING_EVERY, "too slow to test the throttle"

        # The throttle is per connection: bob's first is relayed.
        typing_bob = {"type": "typing", "channel": general, "user": bob.name}
        await b.send({"action": "typing", "id": 4, "channel": general})
        got = await take(b, 2)
        assert same_frames(got, [{"type": "ok", "id": 4}, typing_bob]), got
        assert await a.recv() == typing_bob
        await fence(a)


async def test_read_reaches_all_of_the_users_connections(drv: Driver) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    general = await drv.channel("general", alice, bob)
    async with (
        signed_in(drv, alice) as a1,
        signed_in(drv, alice) as a2,
        signed_in(drv, bob) as b,
    ):
        await sent(a1, alice, 1, general, 1, "read me", "k1")
        await a1.send({"action": "read", "id": 2, "channel": general, "seq": 1})
        read = {"type": "read", "channel": general, "seq": 1}
        got = await take(a1, 2)  # `ok`, and the event to all of alice's connections
        assert same_frames(got, [{"type": "ok", "id": 2}, read]), got
        assert await a2.recv() == read
        await fence(a2)
        await fence(b)  # bob's cursor is his own


async def test_watch_presence(drv: Driver) -> None:
    carol, dave = await drv.account("carol"), await drv.account("dave")
    async with signed_in(drv, carol) as c:
        await c.send({"action": "watch_presence", "id": 1, "usernames": [dave.name]})
        assert await c.recv() == {
            "type": "presence_state",
            "id": 1,
            "users": {dave.name: "offline"},
        }

        online = {"type": "presence", "user": dave.name, "status": "online"}
        async with signed_in(drv, dave) as d1:
            assert await c.recv() == online
            await c.send(
                {"action": "watch_presence", "id": 2, "usernames": [dave.name, carol.name]}
            )
            assert await c.recv() == {
                "type": "presence_state",
                "id": 2,
                "users": {dave.name: "online", carol.name: "online"},
            }

            # A second connection changes nothing anyone sees, opening or closing.
            async with signed_in(drv, dave):
                await fence(c)  # its `online` would have been sent before its hello
            await quiet(c)  # a close has no answer to fence it with
            await c.send({"action": "watch_presence", "id": 3, "usernames": [dave.name]})
            assert await c.recv() == {
                "type": "presence_state",
                "id": 3,
                "users": {dave.name: "online"},
            }
            await d1.close()
            # The last connection closed: offline.
            assert await c.recv() == {"type": "presence", "user": dave.name, "status": "offline"}
        await c.send({"action": "watch_presence", "id": 4, "usernames": [dave.name]})
        assert await c.recv() == {
            "type": "presence_state",
            "id": 4,
            "users": {dave.name: "offline"},
        }
        await fence(c)


async def test_ping_pong(drv: Driver) -> None:
    alice = await drv.account("alice")
    async with signed_in(drv, alice) as a:
        for fid in (7, "p-1"):
            await a.send({"action": "ping", "id": fid})
            assert await a.recv() == {"type": "pong", "id": fid, "time": MS}
        await a.send({"action": "ping"})
        assert await a.recv() == {"type": "pong", "id": None, "time": MS}


async def test_the_s1_tutorial(drv: Driver) -> None:
    alice = await drv.account("alice")
    room = await drv.channel("room", alice)  # a room is the public channel of its name
    async with signed_in(drv, alice) as nat:
        await nat.send({"action": "subscribe", "id": 1, "channel": room})
        assert await nat.recv() == subscribed(1, room, last_seq=0)
        async with in_room(drv, room) as g1, in_room(drv, room) as g2:
            await g1.send({"action": "sendMessage", "user_name": "ann", "content": "hello"})
            for ws in (g1, g2):
                assert await ws.recv() == pushed(("ann", "hello"))
            assert await nat.recv() == event(message_out(room, 1, guest("ann"), "hello", None))

            # `username`: the key some versions of the tutorial send.
            await g2.send({"action": "sendMessage", "username": "ben", "content": "hi ann"})
            for ws in (g1, g2):
                assert await ws.recv() == pushed(("ben", "hi ann"))
            assert await nat.recv() == event(message_out(room, 2, guest("ben"), "hi ann", None))

            # A native connection posts to the room by name: no answer of its
            # own, the message on its subscription, a push to the guests.
            await nat.send(
                {"action": "sendMessage", "id": 2, "room_name": room, "content": "from native"}
            )
            for ws in (g1, g2):
                assert await ws.recv() == pushed((alice.name, "from native"))
            assert await nat.recv() == event(
                message_out(room, 3, author(alice), "from native", None)
            )
            await fence(nat)

            # The original tutorial's token in the frame posts as that user.
            await g2.send({"action": "sendMessage", "token": alice.token, "content": "signed"})
            for ws in (g1, g2):
                assert await ws.recv() == pushed((alice.name, "signed"))
            assert await nat.recv() == event(message_out(room, 4, author(alice), "signed", None))

            # The last ten, oldest first; no id echoed.
            await g1.send({"action": "getRecentMessages", "id": 3})
            assert await g1.recv() == pushed(
                ("ann", "hello"),
                ("ben", "hi ann"),
                (alice.name, "from native"),
                (alice.name, "signed"),
            )
            await g1.send({"action": "getRecentMessages", "room_name": room})
            assert (await g1.recv())["messages"][0] == {"user_name": "ann", "content": "hello"}

            # Guests may ping; other native actions are forbidden.
            await g1.send({"action": "ping", "id": 4})
            assert await g1.recv() == {"type": "pong", "id": 4, "time": MS}
            await g1.send({"action": "subscribe", "id": 5, "channel": room})
            assert await g1.recv() == error(
                5, "forbidden", "guests may only use sendMessage and getRecentMessages"
            )
            await g1.send({"action": "sendMessage", "id": 6, "user_name": "ann"})
            assert await g1.recv() == error(
                6, "invalid_input", "content not in message dict", field="content"
            )
            await g2.send({"action": "sendMessage", "id": 7, "content": "who am I"})
            assert await g2.recv() == error(
                7, "invalid_input", "user_name not in message dict", field="user_name"
            )
            for ws in (g1, g2, nat):
                await fence(ws)  # the refused ones were not posted


async def test_error_frames(drv: Driver) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    bobs = await drv.channel("bobs", bob)  # public, alice is not in it
    async with signed_in(drv, alice) as a:
        known = (
            "auth, channel_notifications, command, delete, edit, file_uploaded, file_url, "
            "getRecentMessages, history, notifications, pin, ping, pins, react, read, "
            "read_thread, search, send, sendMessage, set_channel_notifications, "
            "set_notifications, subscribe, thread, threads, typing, unpin, unreact, "
            "unsubscribe, upload, watch_presence"
        )
        cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
            (
                {"action": "fly", "id": 1},
                error(1, "unknown_action", f"unknown action 'fly'; known: {known}", field="action"),
            ),
            (
                {"id": 2},
                error(2, "unknown_action", f"unknown action None; known: {known}", field="action"),
            ),
            (  # strict types: "5" is not an integer
                {"action": "subscribe", "id": 8, "channel": bobs, "since": "5"},
                error(8, "invalid_input", "since: Input should be a valid integer", field="since"),
            ),
            (
                {"action": "send", "id": 3, "channel": bobs, "text": "hi", "client_id": "k1"},
                error(3, "not_a_member", f"join #{bobs} first"),
            ),
            (
                {"action": "typing", "id": 4, "channel": bobs},
                error(4, "not_a_member", f"join #{bobs} first"),
            ),
            (
                {"action": "read", "id": 5, "channel": bobs, "seq": 1},
                error(5, "not_a_member", f"join #{bobs} first"),
            ),
            (
                {"action": "subscribe", "id": 6, "channel": "no-such-channel"},
                error(6, "not_found", "no channel 'no-such-channel'"),
            ),
            (
                {"action": "watch_presence", "id": 7, "usernames": ["nobody-here"]},
                error(7, "not_found", "no user 'nobody-here'", field="username"),
            ),
        ]
        for frame, answer in cases:
            await a.send(frame)
            assert await a.recv() == answer, frame

        await a.conn.send("not json at all")
        assert await a.recv() == error(
            None,
            "invalid_json",
            "invalid JSON: invalid literal, expected 'null': line 1 column 1 (char 0)",
        )
        await fence(a)  # the connection survived all of it


async def test_an_oversize_frame(drv: Driver) -> None:
    alice = await drv.account("alice")
    async with signed_in(drv, alice) as a:
        await a.conn.send(json.dumps({"action": "ping", "id": "big", "pad": "x" * 70_000}))
        await assert_outcome(a, DIFFERENCES[drv.name].oversize_frame)


async def refusal(url: str) -> tuple[str, int, str]:
    """How a connection to `url` is refused: ("http", status, body) when the
    upgrade is, ("close", code, reason) when the server closes it at once."""
    try:
        async with ws_connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed) as info:
                frame = await ws.recv()
                raise AssertionError(f"expected the connection refused, got {frame}")
    except websockets.InvalidStatus as refused:
        body = (refused.response.body or b"").decode().strip()
        return "http", refused.response.status_code, body
    rcvd = info.value.rcvd
    assert rcvd is not None, "the server must send a close frame"
    return "close", rcvd.code, rcvd.reason


async def test_a_guest_gets_one_answer_for_every_room_it_may_not_use(drv: Driver) -> None:
    # Issue #19, defect 1: by default (`--guest-rooms existing`) a private
    # channel, a DM, an unused name and an invalid one look the same to a guest,
    # on connect and in sendMessage / getRecentMessages, so no name leaks.
    alice, bob = await drv.account("alice"), await drv.account("bob")
    lobby = await drv.channel("lobby", alice)
    secret = await drv.private_channel("secret", alice)
    dm = await drv.dm(alice, bob)
    names = [secret, dm, unique("unused"), "Not A Room!"]
    expected = DIFFERENCES[drv.name].no_room
    for name in names:
        url = f"{drv.ws_url}?room_name={urllib.parse.quote(name, safe='')}"
        assert await refusal(url) == expected, name

    async with in_room(drv, lobby) as g:
        for i, name in enumerate(names):
            await g.send(
                {
                    "action": "sendMessage",
                    "id": i,
                    "room_name": name,
                    "user_name": "mallory",
                    "content": "in?",
                }
            )
            assert await g.recv() == error(i, "not_found", "no such room"), name
            await g.send({"action": "getRecentMessages", "room_name": name})
            assert await g.recv() == pushed(), name
        await fence(g)  # nothing was posted anywhere

    # ... and nothing was made: the unused name is still refused, and
    # alice's private channel holds no guest's message.
    assert await refusal(f"{drv.ws_url}?room_name={names[2]}") == expected
    async with signed_in(drv, alice) as a:
        await a.send({"action": "history", "id": 1, "channel": secret})
        frame = await a.recv()
        assert (frame["type"], frame["messages"]) == ("history", []), frame


async def test_a_guest_gets_a_message_sent_the_moment_it_connected(drv: Driver) -> None:
    # The S1 protocol has no resume: its room is joined before the handshake
    # completes, on both deployments (issue #19, defect 10).
    room = await drv.channel("at-once", await drv.account("alice"))
    async with in_room(drv, room) as a:
        for i in range(10):
            async with ws_connect(f"{drv.ws_url}?room_name={room}") as b:
                text = f"at once {i}"
                await a.send({"action": "sendMessage", "user_name": "ann", "content": text})
                assert await b.recv() == pushed(("ann", text))
                assert await a.recv() == pushed(("ann", text))
