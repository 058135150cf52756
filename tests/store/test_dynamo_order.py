"""The push cursor and turn on DynamoDB (`store.dynamo.order`) and the fence
they put on commits: once a channel's pushes have passed a seq, nothing can
be stored there, so a writer that stalled after taking its seqs takes new ones
instead of filling a hole clients were already told about."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aws_support import store_url
from hubbub.core.models import NewMessage, StoredMessage
from hubbub.store.dynamo import DynamoStore, get_int, order


@pytest.fixture
async def store(dynamodb: str) -> AsyncIterator[DynamoStore]:
    s = DynamoStore(store_url(dynamodb, f"o{uuid.uuid4().hex[:8]}-", create=True))
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def channel_with(store: DynamoStore) -> tuple[int, int]:
    user = await store.create_user("ann", "Ann", "x")
    channel = await store.create_channel("general", "public", "", [user.id])
    return channel.id, user.id


def counter(store: DynamoStore, channel_id: int) -> int:
    item = store.tables.get("channels", {"pk": {"S": f"channel#{channel_id}"}})
    assert item is not None
    return get_int(item, "last_seq")


async def test_a_turn_is_one_holders_at_a_time(store: DynamoStore) -> None:
    cid, _ = await channel_with(store)
    mine = order.take_turn(store.tables, cid, "a")
    assert isinstance(mine, order.Turn) and mine.channel == "general"
    assert order.take_turn(store.tables, cid, "b") == order.Busy(pushed=0)
    order.end_turn(store.tables, mine)
    theirs = order.take_turn(store.tables, cid, "b")
    assert isinstance(theirs, order.Turn)
    assert not order.advance(store.tables, mine, 5)  # no longer ours: refused
    assert order.advance(store.tables, theirs, 5)
    order.end_turn(store.tables, mine)  # giving up a turn we lost leaves theirs
    # While it is held, a try for the turn says how far the pushes have come.
    assert order.take_turn(store.tables, cid, "c") == order.Busy(pushed=5)
    order.end_turn(store.tables, theirs)
    again = order.take_turn(store.tables, cid, "c")
    assert isinstance(again, order.Turn) and again.pushed == 5


async def test_a_turn_whose_holder_died_runs_out(
    store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, _ = await channel_with(store)
    monkeypatch.setattr(order, "TURN_MS", 1)
    assert isinstance(order.take_turn(store.tables, cid, "dead"), order.Turn)
    # The lease is 1 ms: within a bounded number of tries, another gets it.
    for _ in range(1000):
        if isinstance(order.take_turn(store.tables, cid, "next"), order.Turn):
            break
    else:
        pytest.fail("the lease never ran out")


async def test_a_commit_fenced_off_by_the_pushers_takes_new_seqs(store: DynamoStore) -> None:
    cid, uid = await channel_with(store)
    real = store.tables.transact
    fenced: list[int] = []

    def pushers_pass_first(actions: list[Any]) -> None:
        # Between taking its seq and committing, the writer stalls; a pusher
        # outwaits it and moves the cursor over the seq (what a later sender's
        # turn does after FENCE_AFTER).
        if not fenced:
            turn = order.take_turn(store.tables, cid, "pusher")
            assert isinstance(turn, order.Turn)
            fenced.append(counter(store, cid))
            assert order.advance(store.tables, turn, fenced[0])
            order.end_turn(store.tables, turn)
        real(actions)

    store.tables.transact = pushers_pass_first  # type: ignore[method-assign]
    new = NewMessage(cid, uid, None, "late", "c1", 0)
    [result] = await store.append_messages([new])
    assert isinstance(result, StoredMessage)
    assert fenced == [1]
    assert result.seq == 2  # not the seq the pushers declared a hole
    rows = await store.messages(cid, after=0, limit=10)
    assert [(m.seq, m.text) for m in rows] == [(2, "late")]
    # The same client_id again is the same message, not a third seq.
    [again] = await store.append_messages([new])
    assert isinstance(again, StoredMessage) and again.seq == 2
