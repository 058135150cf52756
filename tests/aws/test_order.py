"""A channel's order on the Lambda deployment (issue #19, defect 11), end to
end through `hubbub aws-local`: concurrent senders' messages reach every
connection in seq order, and a seq that was taken but never stored reaches
clients as a `skipped` frame in its place, live and in a replay."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aws_support import AwsLocal, start_aws_local
from hubbub.store.dynamo import DynamoStore, N, S
from session.drivers import Account, AwsDriver
from support import WAIT, WS, ws_connect

SENDERS = 6
EACH = 10


@pytest.fixture(scope="module")
def aws_local(dynamodb: str) -> Iterator[AwsLocal]:
    server = start_aws_local(dynamodb)
    yield server
    server.stop()


@pytest.fixture
async def world(aws_local: AwsLocal) -> AsyncIterator[AwsDriver]:
    store = DynamoStore(aws_local.url)
    try:
        yield AwsDriver(aws_local, store)
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def signed_in(aws: AwsLocal, who: Account) -> AsyncIterator[WS]:
    async with ws_connect(aws.ws_url) as ws:
        await ws.send({"action": "auth", "token": who.token})
        await ws.expect("hello")
        yield ws


async def events_until(ws: WS, channel: str, last: int) -> list[dict[str, Any]]:
    """The channel's `message` and `skipped` frames, in arrival order, until
    one reaches seq `last`."""
    out: list[dict[str, Any]] = []
    top = 0
    while top < last:
        f = await ws.recv()
        if f.get("channel") != channel or f["type"] not in ("message", "skipped"):
            continue
        out.append(f)
        top = max(top, f["seq"] if f["type"] == "message" else f["last"])
    return out


def seqs_covered(frames: list[dict[str, Any]]) -> list[int]:
    """The seqs the frames account for, in order: a message its seq, a
    `skipped` each seq of its range."""
    out: list[int] = []
    for f in frames:
        if f["type"] == "message":
            out.append(f["seq"])
        else:
            out.extend(range(f["first"], f["last"] + 1))
    return out


async def test_concurrent_senders_reach_every_connection_in_seq_order(
    aws_local: AwsLocal, world: AwsDriver
) -> None:
    senders = [await world.account(f"s{i}") for i in range(SENDERS)]
    readers = [await world.account(f"r{i}") for i in range(2)]
    channel = await world.channel("order", *senders, *readers)
    async with contextlib.AsyncExitStack() as stack:
        rs = [await stack.enter_async_context(signed_in(aws_local, r)) for r in readers]
        for ws in rs:
            sub = await ws.request({"action": "subscribe", "channel": channel})
            assert sub["type"] == "subscribed", sub
        ss = [await stack.enter_async_context(signed_in(aws_local, s)) for s in senders]
        ids = itertools.count()

        async def burst(ws: WS, i: int) -> list[int]:
            # Frames sent without waiting: aws-local's workers run them as
            # concurrent invocations, each pushing what it committed.
            for k in range(EACH):
                frame = {"action": "send", "channel": channel, "text": f"{i}.{k}"}
                await ws.send({**frame, "client_id": f"c{i}-{k}", "id": next(ids)})
            acks = [await ws.expect("ack", timeout=WAIT * 3) for _ in range(EACH)]
            return [a["seq"] for a in acks]

        acked = sorted(
            s for seqs in await asyncio.gather(*map(burst, ss, range(SENDERS))) for s in seqs
        )
        assert len(set(acked)) == SENDERS * EACH
        for ws in rs:
            got = await events_until(ws, channel, acked[-1])
            covered = seqs_covered(got)
            assert covered == list(range(1, acked[-1] + 1)), covered  # in order, no hole
            messages = [f["seq"] for f in got if f["type"] == "message"]
            assert messages == acked  # every message once


async def test_a_seq_taken_and_never_stored_is_skipped_live_and_in_replays(
    aws_local: AwsLocal, world: AwsDriver
) -> None:
    ann, bob = await world.account("ann"), await world.account("bob")
    channel = await world.channel("holes", ann, bob)
    async with signed_in(aws_local, ann) as a, signed_in(aws_local, bob) as b:
        await b.request({"action": "subscribe", "channel": channel})
        first = await a.request(
            {"action": "send", "channel": channel, "text": "one", "client_id": "1"}
        )
        assert first["seq"] == 1
        await b.expect("message", seq=1)

        # An invocation takes seq 2 from the counter and dies before storing it.
        stored = await world.store.get_channel(channel)
        assert stored is not None
        tables = world.store.tables
        await asyncio.to_thread(
            tables.client.update_item,
            TableName=tables.names["channels"],
            Key={"pk": S(f"channel#{stored.id}")},
            UpdateExpression="ADD last_seq :n",
            ExpressionAttributeValues={":n": N(1)},
        )

        third = await a.request(
            {"action": "send", "channel": channel, "text": "three", "client_id": "3"}
        )
        assert third["seq"] == 3
        live = await events_until(b, channel, 3)
        assert [(f["type"], f.get("seq", f.get("first"))) for f in live] == [
            ("skipped", 2),
            ("message", 3),
        ]
        assert live[0]["last"] == 2

    async with signed_in(aws_local, bob) as late:
        await late.send({"action": "subscribe", "channel": channel, "since": 1, "id": "r"})
        replay = await events_until(late, channel, 3)
        assert [f["type"] for f in replay] == ["skipped", "message"]
        assert (replay[0]["first"], replay[0]["last"], replay[1]["seq"]) == (2, 2, 3)
        done = await late.expect("subscribed")
        assert (done["replayed"], done["last_seq"], done["recovered"]) == (1, 3, True)
