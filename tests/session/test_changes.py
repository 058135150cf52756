"""Editing and deleting messages (issue #14), on both deployments, through the
conversation suite's helpers: the answers, the events subscribers get, the
errors, and a client that was away catching up on all of it by its cursor
and ending with the state of a client that never left."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aws_support import AwsLocal
from support import Server

from . import conftest
from .drivers import Driver
from .test_conversation import (
    MS,
    error,
    event,
    fence,
    same_frames,
    sent,
    signed_in,
    subscribed,
    take,
)


@pytest.fixture(scope="module", params=conftest.deployments("postgres"))
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server | AwsLocal]:
    """These also run on `hubbub serve` with PostgreSQL."""
    yield from conftest.run_deployment(request, tmp_path_factory)


def changed(fid: int, seq: int | None, message: dict[str, Any]) -> dict[str, Any]:
    channel = message["channel"]
    return {"type": "changed", "id": fid, "channel": channel, "seq": seq, "message": message}


def updated(seq: int, message: dict[str, Any]) -> dict[str, Any]:
    channel = message["channel"]
    return {"type": "message_updated", "channel": channel, "seq": seq, "message": message}


def skipped(channel: str, first: int, last: int) -> dict[str, Any]:
    return {"type": "skipped", "channel": channel, "first": first, "last": last}


def apply(state: dict[int, dict[str, Any]], frames: list[dict[str, Any]]) -> int:
    """A client's view: messages by seq after these frames; returns its cursor."""
    cursor = 0
    for f in frames:
        if f["type"] == "message":
            state[f["seq"]] = {k: v for k, v in f.items() if k != "type"}
            cursor = f["seq"]
        elif f["type"] == "message_updated":
            state[f["message"]["seq"]] = f["message"]
            cursor = f["seq"]
        elif f["type"] == "skipped":
            cursor = f["last"]
        else:
            continue
    return cursor


async def test_edit_and_delete_your_own_messages(drv: Driver) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    general = await drv.channel("general", alice, bob)
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as b:
        await b.send({"action": "subscribe", "id": 1, "channel": general})
        assert await b.recv() == subscribed(1, general, last_seq=0)
        m1 = await sent(a, alice, 2, general, 1, "helo", "k1")
        assert await b.recv() == event(m1)

        await a.send({"action": "edit", "id": 3, "channel": general, "seq": 1, "text": "hello"})
        edited = {**m1, "text": "hello", "edited_at": MS}
        answer = await a.recv()
        assert answer == changed(3, 2, edited)
        edited = answer["message"]
        assert await b.recv() == updated(2, edited)

        # The same edit again (a retry) changes nothing: no new seq, no event.
        await a.send({"action": "edit", "id": 4, "channel": general, "seq": 1, "text": "hello"})
        assert await a.recv() == changed(4, None, edited)
        await fence(b)

        # Only its author changes a message; a missing seq is not found.
        for fid, frame in [
            (5, {"action": "edit", "channel": general, "seq": 1, "text": "mine now"}),
            (6, {"action": "delete", "channel": general, "seq": 1}),
        ]:
            await b.send({**frame, "id": fid})
            assert await b.recv() == error(
                fid, "forbidden", "only its author can change a message", field="seq"
            )
        await a.send({"action": "edit", "id": 7, "channel": general, "seq": 9, "text": "x"})
        assert await a.recv() == error(7, "not_found", f"no message 9 in {general!r}", field="seq")
        await a.send({"action": "edit", "id": 8, "channel": general, "seq": 1, "text": " "})
        assert (await a.recv())["code"] == "message_too_long"

        await a.send({"action": "delete", "id": 9, "channel": general, "seq": 1})
        tombstone = {**edited, "text": "", "deleted": True}
        assert await a.recv() == changed(9, 3, tombstone)
        assert await b.recv() == updated(3, tombstone)
        await a.send({"action": "delete", "id": 10, "channel": general, "seq": 1})
        assert await a.recv() == changed(10, None, tombstone)
        await a.send({"action": "edit", "id": 11, "channel": general, "seq": 1, "text": "back"})
        assert await a.recv() == error(
            11, "message_deleted", f"message 1 in {general!r} was deleted", field="seq"
        )
        await fence(b)

        # History: the message in its state now; the next message's seq
        # follows the changes (one log).
        m4 = await sent(a, alice, 12, general, 4, "next", "k2")
        assert await b.recv() == event(m4)
        await a.send({"action": "history", "id": 13, "channel": general})
        assert await a.recv() == {
            "type": "history",
            "id": 13,
            "channel": general,
            "messages": [m4, tombstone],
            "has_more": False,
        }


async def test_a_client_that_was_away_catches_up_on_every_change(drv: Driver) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    general = await drv.channel("general", alice, bob)
    online: dict[int, dict[str, Any]] = {}
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as stays:
        await stays.send({"action": "subscribe", "id": 1, "channel": general})
        assert await stays.recv() == subscribed(1, general, last_seq=0)
        m = {s: await sent(a, alice, s, general, s, f"m{s}", f"k{s}") for s in (1, 2, 3)}
        seen = await take(stays, 3)
        assert seen == [event(m[1]), event(m[2]), event(m[3])]
        away = {k: dict(v) for k, v in online.items()}
        apply(online, seen)
        apply(away, seen)  # the client that leaves now had seen the same

        # While it is away: 4 edits m2, 5 is m5, 6 edits m5, 7 deletes m3, 8 edits
        # m2 again, 9 is a reaction to m1.
        steps: list[dict[str, Any]] = [
            {"action": "edit", "channel": general, "seq": 2, "text": "m2 v2"},
            {"action": "send", "channel": general, "text": "m5", "client_id": "k5"},
            {"action": "edit", "channel": general, "seq": 5, "text": "m5 v2"},
            {"action": "delete", "channel": general, "seq": 3},
            {"action": "edit", "channel": general, "seq": 2, "text": "m2 v3"},
            {"action": "react", "channel": general, "seq": 1, "emoji": "🎉"},
        ]
        for fid, step in enumerate(steps, start=10):
            await a.send({**step, "id": fid})
            answer = await a.recv()
            assert answer["type"] in ("ack", "changed") and answer["seq"] == fid - 6, answer
        live = await take(stays, len(steps))
        assert [f["seq"] for f in live] == [4, 5, 6, 7, 8, 9]
        apply(online, live)

    async with signed_in(drv, bob) as back:
        await back.send({"action": "subscribe", "id": 20, "channel": general, "since": 3})
        replay = await take(back, 7)
        assert replay[-1] == subscribed(20, general, last_seq=9, replayed=4)
        m5 = online[5]
        assert replay[:-1] == [
            skipped(general, 4, 4),  # m2's first edit: folded into 8
            event(m5),  # m5, new to this client, whole and edited
            skipped(general, 6, 6),  # m5's edit: already in it
            updated(7, online[3]),  # m3 deleted
            updated(8, online[2]),  # m2, edited twice
            updated(9, online[1]),  # m1, reacted to
        ]
        assert m5["text"] == "m5 v2" and online[3]["deleted"] and online[2]["text"] == "m2 v3"
        assert online[1]["reactions"] == [{"emoji": "🎉", "count": 1, "users": [alice.name]}]
        assert apply(away, replay) == 9
        assert away == online  # the state of every message, as if it had never left
        await back.send({"action": "history", "id": 21, "channel": general})
        page = await back.recv()
        assert {x["seq"]: x for x in page["messages"]} == online
        await fence(back)


async def test_reactions(drv: Driver) -> None:
    alice, bob, carol = [await drv.account(n) for n in ("alice", "bob", "carol")]
    general = await drv.channel("general", alice, bob)
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as b, signed_in(drv, carol) as c:
        await a.send({"action": "subscribe", "id": 1, "channel": general})
        assert await a.recv() == subscribed(1, general, last_seq=0)
        m1 = await sent(b, bob, 2, general, 1, "lunch?", "k1")
        assert await a.recv() == event(m1)

        await b.send({"action": "react", "id": 3, "channel": general, "seq": 1, "emoji": ":+1:"})
        liked = {**m1, "reactions": [{"emoji": "👍", "count": 1, "users": [bob.name]}]}
        assert await b.recv() == changed(3, 2, liked)
        assert await a.recv() == updated(2, liked)
        # The same reaction as the emoji itself: it is the one already there.
        await b.send({"action": "react", "id": 4, "channel": general, "seq": 1, "emoji": "👍"})
        assert await b.recv() == changed(4, None, liked)
        await fence(a)

        await a.send({"action": "react", "id": 5, "channel": general, "seq": 1, "emoji": "👍"})
        both = {**m1, "reactions": [{"emoji": "👍", "count": 2, "users": [bob.name, alice.name]}]}
        assert same_frames(await take(a, 2), [changed(5, 3, both), updated(3, both)])
        await b.send({"action": "unreact", "id": 6, "channel": general, "seq": 1, "emoji": "👍"})
        hers = {**m1, "reactions": [{"emoji": "👍", "count": 1, "users": [alice.name]}]}
        assert await b.recv() == changed(6, 4, hers)
        assert await a.recv() == updated(4, hers)
        await b.send({"action": "unreact", "id": 7, "channel": general, "seq": 1, "emoji": "👍"})
        assert await b.recv() == changed(7, None, hers)

        for fid, emoji in [(8, "not an emoji"), (9, ":no_such_shortcode:"), (10, "👍👍")]:
            frame = {"action": "react", "id": fid, "channel": general, "seq": 1, "emoji": emoji}
            await b.send(frame)
            answer = await b.recv()
            assert (answer["code"], answer["field"]) == ("invalid_input", "emoji"), answer
        await c.send({"action": "react", "id": 11, "channel": general, "seq": 1, "emoji": "👍"})
        assert await c.recv() == error(11, "not_a_member", f"join #{general} first")

        await b.send({"action": "delete", "id": 12, "channel": general, "seq": 1})
        tombstone = {**m1, "text": "", "deleted": True}
        assert await b.recv() == changed(12, 5, tombstone)  # its reactions went with it
        assert await a.recv() == updated(5, tombstone)
        await a.send({"action": "react", "id": 13, "channel": general, "seq": 1, "emoji": "👍"})
        assert await a.recv() == error(
            13, "message_deleted", f"message 1 in {general!r} was deleted", field="seq"
        )
        await fence(a)


async def test_pins(drv: Driver) -> None:
    alice, bob, carol = [await drv.account(n) for n in ("alice", "bob", "carol")]
    general = await drv.channel("general", alice, bob)
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as b, signed_in(drv, carol) as c:
        await a.send({"action": "subscribe", "id": 1, "channel": general})
        assert await a.recv() == subscribed(1, general, last_seq=0)
        m1 = await sent(b, bob, 2, general, 1, "the plan", "k1")
        assert await a.recv() == event(m1)
        m2 = await sent(b, bob, 3, general, 2, "lunch", "k2")
        assert await a.recv() == event(m2)

        # Anyone in the channel may pin, not only the author (as in Slack).
        await a.send({"action": "pin", "id": 4, "channel": general, "seq": 1})
        pinned = {**m1, "pinned_by": alice.name, "pinned_at": MS}
        assert same_frames(await take(a, 2), [changed(4, 3, pinned), updated(3, pinned)])
        await a.send({"action": "pin", "id": 5, "channel": general, "seq": 1})
        assert await a.recv() == changed(5, None, pinned)  # again: nothing new
        await b.send({"action": "pin", "id": 6, "channel": general, "seq": 2})
        pinned2 = {**m2, "pinned_by": bob.name, "pinned_at": MS}
        assert await b.recv() == changed(6, 4, pinned2)
        assert await a.recv() == updated(4, pinned2)

        await b.send({"action": "pins", "id": 7, "channel": general})
        page = await b.recv()
        assert page["type"] == "pins" and page["id"] == 7 and page["channel"] == general
        # The most recently pinned first (same clock: the later seq first).
        assert page["messages"] == [pinned2, pinned]

        await b.send({"action": "unpin", "id": 8, "channel": general, "seq": 2})
        assert await b.recv() == changed(8, 5, m2)
        assert await a.recv() == updated(5, m2)
        await b.send({"action": "unpin", "id": 9, "channel": general, "seq": 2})
        assert await b.recv() == changed(9, None, m2)

        # Bad input: not in the channel; no such message; a deleted one.
        await c.send({"action": "pin", "id": 10, "channel": general, "seq": 1})
        assert await c.recv() == error(10, "not_a_member", f"join #{general} first")
        await b.send({"action": "pin", "id": 11, "channel": general, "seq": 99})
        answer = await b.recv()
        assert (answer["code"], answer.get("field")) == ("not_found", "seq"), answer
        await b.send({"action": "delete", "id": 12, "channel": general, "seq": 1})
        tombstone = {**m1, "text": "", "deleted": True}  # and no longer pinned
        assert await b.recv() == changed(12, 6, tombstone)
        assert await a.recv() == updated(6, tombstone)
        await b.send({"action": "pin", "id": 13, "channel": general, "seq": 1})
        assert await b.recv() == error(
            13, "message_deleted", f"message 1 in {general!r} was deleted", field="seq"
        )
        await b.send({"action": "pins", "id": 14, "channel": general})
        assert (await b.recv())["messages"] == []
        await fence(a)

    # Bob, back with his cursor at 2: every pin and unpin folded into the
    # message's state now, and the same state history shows.
    async with signed_in(drv, bob) as back:
        await back.send({"action": "subscribe", "id": 20, "channel": general, "since": 2})
        replay = await take(back, 4)
        assert replay == [
            skipped(general, 3, 4),
            updated(5, m2),
            updated(6, tombstone),
            subscribed(20, general, last_seq=6, replayed=2),
        ]
        await back.send({"action": "history", "id": 21, "channel": general})
        assert (await back.recv())["messages"] == [m2, tombstone]
