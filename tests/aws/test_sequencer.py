"""The Lambda deployment's pusher turns (`aws.sequencer`) against DynamoDB
from moto: a turn carries what others stored right after it, so a burst of
concurrent senders costs one turn, not one each, and what it pushes for
others is read back from the store in its state now."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest

from aws_support import store_url
from hubbub.aws import sequencer
from hubbub.aws.sequencer import Sequencer
from hubbub.core.envelope import Envelope
from hubbub.core.models import Changed, Edit, NewMessage, StoredMessage
from hubbub.core.replay import message_envelope
from hubbub.store.dynamo import DynamoStore, N, S, order


@pytest.fixture
async def store(dynamodb: str) -> AsyncIterator[DynamoStore]:
    s = DynamoStore(store_url(dynamodb, f"q{uuid.uuid4().hex[:8]}-", create=True))
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def sent(store: DynamoStore, texts: list[str]) -> tuple[int, list[StoredMessage]]:
    user = await store.create_user("ann", "Ann", "x")
    channel = await store.create_channel("general", "public", "", [user.id])
    new = [NewMessage(channel.id, user.id, None, t, f"c{i}", 0) for i, t in enumerate(texts)]
    stored = []
    for x in new:  # one commit each, as concurrent invocations make them
        [m] = await store.append_messages([x])
        assert isinstance(m, StoredMessage)
        stored.append(m)
    return channel.id, stored


class Pushes:
    def __init__(self) -> None:
        self.runs: list[list[Envelope]] = []

    async def __call__(self, run: list[Envelope]) -> None:
        self.runs.append(run)

    def frames(self) -> list[list[dict[str, object]]]:
        return [[orjson.loads(e.frame) for e in run] for run in self.runs]


async def test_one_turn_carries_what_others_stored_after_it(store: DynamoStore) -> None:
    cid, ms = await sent(store, ["one", "two", "three"])
    seq = Sequencer(store)
    push = Pushes()
    assert await seq.ordered(cid, [message_envelope(ms[0])], push)
    [run] = push.frames()
    assert [(f["seq"], f["text"]) for f in run] == [(1, "one"), (2, "two"), (3, "three")]
    # The others find their seqs pushed and push nothing.
    for m in ms[1:]:
        assert await seq.ordered(cid, [message_envelope(m)], push)
    assert len(push.runs) == 1


async def test_a_waiting_pusher_stops_once_the_holder_pushed_its_seqs(
    store: DynamoStore,
) -> None:
    cid, ms = await sent(store, ["one", "two"])
    held = order.take_turn(store.tables, cid, "holder")
    assert isinstance(held, order.Turn)
    assert order.advance(store.tables, held, 2)  # the holder is pushing 1 and 2
    push = Pushes()
    # While the holder still has the turn, the second sender is done.
    assert await Sequencer(store).ordered(cid, [message_envelope(ms[1])], push)
    assert push.runs == []
    order.end_turn(store.tables, held)


async def test_what_a_turn_pushes_for_others_is_in_its_state_now(store: DynamoStore) -> None:
    cid, ms = await sent(store, ["one", "two"])
    [ann] = await store.search_users("ann", None, 1)
    changed = await store.change_message(cid, 2, ann.id, Edit("two, edited", 5))
    assert isinstance(changed, Changed) and changed.seq == 3
    push = Pushes()
    assert await Sequencer(store).ordered(cid, [message_envelope(ms[0])], push)
    [run] = push.frames()
    # Message 2 comes once, edited; the edit's place is named, not left a hole.
    assert [(f["type"], f["seq"] if "seq" in f else f["first"]) for f in run] == [
        ("message", 1),
        ("message", 2),
        ("skipped", 3),
    ]
    assert run[1]["text"] == "two, edited" and run[1]["edited_at"] == 5


async def test_the_first_turn_of_a_channel_pushes_the_seqs_before_its_own(
    store: DynamoStore,
) -> None:
    # The race of test_local's fifty senders: the pusher of seq 2 takes the
    # channel's first turn (the cursor was never set) before the pusher of
    # seq 1 does; seq 1's pusher, finding the turn taken and the cursor past
    # its seq, stops. Seq 1 was then never pushed to anyone.
    cid, ms = await sent(store, ["one", "two"])
    seq = Sequencer(store)
    first_pusher = Pushes()
    second: list[bool] = []

    async def push_while_holding(run: list[Envelope]) -> None:
        await first_pusher(run)
        # Seq 1's pusher comes while seq 2's still holds the turn.
        second.append(await seq.ordered(cid, [message_envelope(ms[0])], Pushes()))

    assert await seq.ordered(cid, [message_envelope(ms[1])], push_while_holding)
    assert second == [True]  # it stopped: the cursor had passed its seq...
    [run] = first_pusher.frames()
    assert [(f["seq"], f["text"]) for f in run] == [(1, "one"), (2, "two")]  # ...with seq 1 in it


async def test_the_first_turn_of_a_channel_waits_for_a_seq_taken_before_its_own(
    store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sequencer, "FENCE_AFTER", 0.3)
    user = await store.create_user("ann", "Ann", "x")
    channel = await store.create_channel("general", "public", "", [user.id])
    # An invocation took seq 1 from the counter and is still committing it.
    store.tables.client.update_item(
        TableName=store.tables.names["channels"],
        Key={"pk": S(f"channel#{channel.id}")},
        UpdateExpression="ADD last_seq :n",
        ExpressionAttributeValues={":n": N(1)},
    )
    [m] = await store.append_messages([NewMessage(channel.id, user.id, None, "two", "c1", 0)])
    assert isinstance(m, StoredMessage) and m.seq == 2
    push = Pushes()
    started = time.monotonic()
    assert await Sequencer(store).ordered(channel.id, [message_envelope(m)], push)
    # Waited for seq 1, then named it rather than leaving a hole nobody names.
    assert time.monotonic() - started >= 0.3
    [run] = push.frames()
    assert [(f["type"], f["seq"] if "seq" in f else f["first"]) for f in run] == [
        ("skipped", 1),
        ("message", 2),
    ]
