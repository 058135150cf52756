"""DynamoDB-specific behaviour of the workspace operations
(`store.dynamo.workspace`), beyond the shared contract
(test_workspace_contract.py): every message read carries its channel's
current name after a rename (the items keep the name they were written
under), tables written before roles existed are brought up to date on open,
and ids the channel counter gave to no channel are skipped by `all_channels`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from aws_support import store_url
from hubbub.core.models import (
    Changed,
    Edit,
    NewMessage,
    NewReply,
    Pin,
    Replied,
    StoredMessage,
)
from hubbub.store import NameTaken
from hubbub.store.dynamo import DynamoStore, N, S


@pytest.fixture
async def store(dynamodb: str) -> AsyncIterator[DynamoStore]:
    s = DynamoStore(store_url(dynamodb, f"w{uuid.uuid4().hex[:8]}-", create=True))
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def test_every_message_read_carries_the_current_name(store: DynamoStore) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("general", "public", "", [ann.id])
    [root] = await store.append_messages([NewMessage(ch.id, ann.id, None, "root", "c1", 1)])
    assert isinstance(root, StoredMessage) and root.channel == "general"
    await store.rename_channel(ch.id, "lobby")

    # Writes: a retry of a message sent before the rename, a change, a reply.
    [again] = await store.append_messages([NewMessage(ch.id, ann.id, None, "root", "c1", 1)])
    assert isinstance(again, StoredMessage) and again.duplicate and again.channel == "lobby"
    pinned = await store.change_message(ch.id, root.seq, ann.id, Pin(True, 2))
    assert isinstance(pinned, Changed) and pinned.message.channel == "lobby"
    same = await store.change_message(ch.id, root.seq, ann.id, Pin(True, 3))  # no change
    assert isinstance(same, Changed) and same.seq is None and same.message.channel == "lobby"
    replied = await store.append_reply(NewReply(ch.id, root.seq, ann.id, "re", "r1", 4))
    assert isinstance(replied, Replied)
    assert (replied.reply.channel, replied.root.channel) == ("lobby", "lobby")
    await store.rename_channel(ch.id, "hall")
    retried = await store.append_reply(NewReply(ch.id, root.seq, ann.id, "re", "r1", 4))
    assert isinstance(retried, Replied) and retried.reply.duplicate
    assert (retried.reply.channel, retried.root.channel) == ("hall", "hall")
    edited = await store.change_message(ch.id, root.seq, ann.id, Edit("root!", 5))
    assert isinstance(edited, Changed) and edited.message.channel == "hall"

    # Reads.
    assert {m.channel for m in await store.messages(ch.id, limit=10)} == {"hall"}
    assert {e.message.channel for e in await store.log_after(ch.id, 0, 10)} == {"hall"}
    assert [m.channel for m in await store.thread(ch.id, root.seq, limit=10)] == ["hall"]
    assert [m.channel for m in await store.pinned(ch.id, 10)] == ["hall"]
    assert [t.root.channel for t in await store.followed_threads(ann.id, 10)] == ["hall"]


async def test_opening_gives_older_users_their_role_entry(store: DynamoStore) -> None:
    # A user as an older hubbub wrote it: no role, no `active`, no entry.
    t = store.tables
    t.client.put_item(
        TableName=t.names["users"],
        Item={
            "pk": S("user#77"),
            "id": N(77),
            "username": S("old"),
            "display_name": S("Old"),
            "password_hash": S("h"),
            "created_at": N(1),
        },
    )
    t.client.put_item(TableName=t.names["users"], Item={"pk": S("username#old"), "id": N(77)})
    t.client.delete_item(TableName=t.names["meta"], Key={"pk": S("meta#schema")})
    old = await store.get_user(77)
    assert old is not None and (old.role, old.active) == ("member", True)
    assert await store.users_with_role("member") == []  # no entry yet

    await store.open()  # a node of the new version starts
    assert await store.users_with_role("member") == [old]
    await store.set_role(77, "admin")
    assert [u.username for u in await store.users_with_role("admin")] == ["old"]
    assert await store.users_with_role("member") == []


async def test_all_channels_skips_ids_no_channel_took(store: DynamoStore) -> None:
    a = await store.create_channel("a", "public", "", [])
    store.tables.next_id("channel")  # a creation that failed after taking its id
    store.tables.next_id("channel")
    b = await store.create_channel("b", "public", "", [])
    assert [c.name for c in await store.all_channels(0, 10)] == ["a", "b"]
    assert [c.name for c in await store.all_channels(a.id, 1)] == ["b"]
    assert await store.all_channels(b.id, 10) == []


async def test_concurrent_renames_to_one_name_one_wins(store: DynamoStore) -> None:
    chans = [await store.create_channel(f"c{i}", "public", "", []) for i in range(4)]
    results = await asyncio.gather(
        *(store.rename_channel(c.id, "same") for c in chans), return_exceptions=True
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1
    assert all(isinstance(r, NameTaken) for r in results if isinstance(r, BaseException))
    found = await store.get_channel("same")
    assert found is not None and found.id == won[0].id
