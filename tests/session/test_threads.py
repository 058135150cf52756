"""Threads (issue #14), on both deployments (and `hubbub serve` on
PostgreSQL): a reply takes its seq and its root's change the next, followers
get both, the channel's history and unread counts leave replies out unless
they were also sent to the channel, a thread pages like a channel, and a
client that was away catches up on all of it by its cursor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from aws_support import AwsLocal
from hubbub.protocol import frames
from support import Server

from . import conftest
from .drivers import Driver, ServerDriver
from .test_changes import apply, skipped, updated
from .test_conversation import (
    MS,
    author,
    error,
    event,
    fence,
    message_out,
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
    yield from conftest.run_deployment(request, tmp_path_factory)


def as_sent(m: dict[str, Any]) -> dict[str, Any]:
    """A REST message as the WebSocket sends it: without the optional fields
    at their defaults (REST writes them all out)."""

    def sent(model: type[BaseModel], body: dict[str, Any]) -> dict[str, Any]:
        fields = model.model_fields
        return {k: v for k, v in body.items() if fields[k].is_required() or v != fields[k].default}

    return {**sent(frames.MessageOut, m), "author": sent(frames.Author, m["author"])}


def summary(m: dict[str, Any], count: int, *users: str) -> dict[str, Any]:
    return {**m, "reply_count": count, "last_reply_at": MS, "reply_users": list(users)}


async def test_replies_their_roots_and_the_thread(drv: Driver) -> None:
    alice, bob, carol = [await drv.account(n) for n in ("alice", "bob", "carol")]
    general = await drv.channel("general", alice, bob)
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as b, signed_in(drv, carol) as c:
        await a.send({"action": "subscribe", "id": 1, "channel": general})
        assert await a.recv() == subscribed(1, general, last_seq=0)
        root = await sent(b, bob, 2, general, 1, "deploy today?", "k1")
        assert await a.recv() == event(root)

        await b.send(
            {
                "action": "send",
                "id": 3,
                "channel": general,
                "text": "after lunch",
                "client_id": "k2",
                "thread_root": 1,
            }
        )
        reply = {**message_out(general, 2, author(bob), "after lunch", "k2"), "thread_root": 1}
        ack = await b.recv()
        assert (ack["type"], ack["seq"], ack["message"]) == ("ack", 2, reply)
        root_now = summary(root, 1, bob.name)
        # Followers get the reply, then its root's change, one place later.
        assert await take(a, 2) == [event(reply), updated(3, root_now)]

        # A reply to a reply goes to the root; "also send to channel".
        await a.send(
            {
                "action": "send",
                "id": 4,
                "channel": general,
                "text": "ok",
                "client_id": "k3",
                "thread_root": 2,
                "broadcast": True,
            }
        )
        shared = {
            **message_out(general, 4, author(alice), "ok", "k3"),
            "thread_root": 1,
            "broadcast": True,
        }
        root_now = summary(root, 2, bob.name, alice.name)
        acked = {
            "type": "ack",
            "id": 4,
            "channel": general,
            "seq": 4,
            "client_id": "k3",
            "duplicate": False,
            "message": shared,
        }
        assert same_frames(await take(a, 3), [acked, event(shared), updated(5, root_now)])
        # A retry is the same reply, stored once.
        await b.send(
            {
                "action": "send",
                "id": 5,
                "channel": general,
                "text": "after lunch",
                "client_id": "k2",
                "thread_root": 1,
            }
        )
        again = await b.recv()
        assert (again["seq"], again["duplicate"]) == (2, True)

        # The thread pages like a channel; a reply's seq finds its thread.
        await b.send({"action": "thread", "id": 6, "channel": general, "seq": 2, "after": 0})
        page = await b.recv()
        assert page == {
            "type": "thread",
            "id": 6,
            "channel": general,
            "root": root_now,
            "messages": [reply, shared],
            "has_more": False,
        }
        await b.send({"action": "thread", "id": 7, "channel": general, "seq": 1, "limit": 1})
        newest = await b.recv()
        assert (newest["messages"], newest["has_more"]) == ([shared], True)
        # The channel's history leaves the reply kept in its thread out.
        await b.send({"action": "history", "id": 8, "channel": general})
        assert (await b.recv())["messages"] == [shared, root_now]

        # Bad input: no such message; not in the channel; a deleted root.
        for fid, frame in [
            (9, {"thread_root": 99}),
            (10, {"thread_root": 3}),  # seq 3 is a change, not a message
        ]:
            await b.send(
                {
                    "action": "send",
                    "id": fid,
                    "channel": general,
                    "text": "?",
                    "client_id": f"x{fid}",
                }
                | frame
            )
            answer = await b.recv()
            assert (answer["code"], answer.get("field")) == ("not_found", "thread_root"), answer
        await c.send(
            {
                "action": "send",
                "id": 11,
                "channel": general,
                "text": "hi",
                "client_id": "c1",
                "thread_root": 1,
            }
        )
        assert (await c.recv())["code"] == "not_a_member"
        await b.send({"action": "thread", "id": 12, "channel": general, "seq": 99})
        answer = await b.recv()
        assert (answer["code"], answer.get("field")) == ("not_found", "seq"), answer
        await b.send({"action": "delete", "id": 13, "channel": general, "seq": 1})
        assert (await b.recv())["seq"] == 6
        tombstone = {**root_now, "text": "", "deleted": True}  # the thread stays
        assert await a.recv() == updated(6, tombstone)
        await b.send(
            {
                "action": "send",
                "id": 14,
                "channel": general,
                "text": "late",
                "client_id": "k9",
                "thread_root": 1,
            }
        )
        assert await b.recv() == error(
            14,
            "message_deleted",
            "the thread's first message was deleted: it takes no new replies",
            field="thread_root",
        )
        # Its replies stay reachable.
        await b.send({"action": "thread", "id": 15, "channel": general, "seq": 1, "after": 0})
        kept = await b.recv()
        assert kept["root"]["deleted"] and kept["messages"] == [reply, shared]
        await fence(a)


async def test_a_client_that_was_away_catches_up_on_a_thread(drv: Driver) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    general = await drv.channel("general", alice, bob)
    online: dict[int, dict[str, Any]] = {}
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as stays:
        await stays.send({"action": "subscribe", "id": 1, "channel": general})
        assert await stays.recv() == subscribed(1, general, last_seq=0)
        await sent(a, alice, 2, general, 1, "root", "k1")
        assert apply(online, await take(stays, 1)) == 1
        away = {k: dict(v) for k, v in online.items()}
        # While bob's other client is away: three replies, an edit of the
        # first, a reaction to the root, and the third reply deleted.
        for fid, frame in enumerate(
            [
                {"action": "send", "text": "r1", "client_id": "k2", "thread_root": 1},
                {"action": "send", "text": "r2", "client_id": "k3", "thread_root": 1},
                {"action": "edit", "seq": 2, "text": "r1 v2"},
                {"action": "react", "seq": 1, "emoji": "👀"},
                {"action": "send", "text": "oops", "client_id": "k4", "thread_root": 1},
                {"action": "delete", "seq": 8},
            ],
            start=3,
        ):
            await a.send({**frame, "id": fid, "channel": general})
            assert (await a.recv())["type"] in ("ack", "changed")
        live = await take(stays, 9)
        assert [f["seq"] for f in live] == [2, 3, 4, 5, 6, 7, 8, 9, 10]
        assert apply(online, live) == 10

    async with signed_in(drv, bob) as back:
        await back.send({"action": "subscribe", "id": 20, "channel": general, "since": 1})
        replay = await take(back, 8)
        assert replay == [
            event(online[2]),  # the reply, whole and edited
            skipped(general, 3, 3),  # the root's first change: folded into 9
            event(online[4]),
            skipped(general, 5, 7),  # the root's second change; the edit; the reaction
            event(online[8]),  # the third reply, a tombstone already (its delete is 10)
            updated(9, online[1]),  # the root: three replies and a reaction
            skipped(general, 10, 10),  # the delete: in the tombstone already
            subscribed(20, general, last_seq=10, replayed=4),
        ]
        assert apply(away, replay) == 10
        assert away == online  # every message's state, as if it had never left
        assert online[1]["reply_count"] == 3 and online[2]["text"] == "r1 v2"
        assert online[8]["deleted"] and online[8]["text"] == ""
        assert online[1]["reactions"][0]["users"] == [alice.name]
        await back.send({"action": "thread", "id": 21, "channel": general, "seq": 1, "after": 0})
        page = await back.recv()
        assert page["root"] == online[1]
        assert page["messages"] == [online[2], online[4], online[8]]
    if isinstance(drv, ServerDriver):  # REST tells the same state
        headers = {"Authorization": f"Bearer {bob.token}"}
        r = await drv.http.get(
            f"/api/channels/{general}/messages/1/thread?after=0", headers=headers
        )
        body = r.json()
        assert as_sent(body["root"]) == online[1]
        assert [as_sent(m) for m in body["messages"]] == page["messages"]
        r = await drv.http.get(f"/api/channels/{general}/messages", headers=headers)
        assert [as_sent(m) for m in r.json()["messages"]] == [online[1]]


async def test_followed_threads_and_their_unread_replies(drv: Driver) -> None:
    alice, bob, carol = [await drv.account(n) for n in ("alice", "bob", "carol")]
    general = await drv.channel("general", alice, bob, carol)
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as b, signed_in(drv, carol) as c:
        await sent(a, alice, 1, general, 1, "who can review?", "k1")
        await b.send(
            {
                "action": "send",
                "id": 2,
                "channel": general,
                "text": f"me, and @{carol.name} too",
                "client_id": "k2",
                "thread_root": 1,
            }
        )
        assert (await b.recv())["seq"] == 2
        for ws, fid in ((a, 3), (b, 4), (c, 5)):
            await ws.send({"action": "threads", "id": fid})
        lists = [await ws.recv() for ws in (a, b, c)]
        # alice started it, bob replied, carol was mentioned: all follow it.
        assert [[(t["root"]["seq"], t["unread"]) for t in x["threads"]] for x in lists] == [
            [(1, 1)],
            [(1, 0)],
            [(1, 1)],
        ]
        assert lists[0]["threads"][0]["channel"] == general
        await a.send(
            {"action": "read_thread", "id": 6, "channel": general, "thread_root": 1, "seq": 2}
        )
        moved = {"type": "thread_read", "channel": general, "thread_root": 1, "seq": 2}
        assert same_frames(await take(a, 2), [{"type": "ok", "id": 6}, moved])
        await a.send({"action": "threads", "id": 7})
        assert [t["unread"] for t in (await a.recv())["threads"]] == [0]
        # A reply kept in its thread is not unread in the channel.
        await c.send({"action": "subscribe", "id": 8, "channel": general})
        assert (await c.recv())["type"] == "subscribed"
        await fence(c)
