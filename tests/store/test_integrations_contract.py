"""The Store contract for integrations (models.Integration: webhooks and
slash commands) and for a message's shown name (an incoming webhook's
`username` override). Every backend must pass every test here (the backends
are tests/store/conftest.py's)."""

from __future__ import annotations

import dataclasses

import pytest

from hubbub.core.models import (
    DeadLetter,
    Integration,
    NewMessage,
    NewReply,
    Outbox,
    Replied,
    StoredMessage,
)
from hubbub.store import NameTaken, Store


def hook(iid: str, key: str, channel_id: int | None, user_id: int, at: int) -> Integration:
    return Integration(
        iid, "incoming", key, f"hook {iid}", channel_id, user_id, user_id, at, {"n": 1}
    )


async def test_integrations_are_found_by_key_listed_newest_first_and_deleted(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("general", "public", "", [ann.id])
    old = hook("a1", "k-old", ch.id, ann.id, 1)
    new = hook("a2", "k-new", ch.id, ann.id, 2)
    command = Integration(
        "a3",
        "command",
        "/deploy",
        "deploys",
        None,
        ann.id,
        ann.id,
        3,
        {"url": "http://127.0.0.1:9/x", "words": ["a", "b"]},
    )
    for i in (old, new, command):
        await store.create_integration(i)

    assert await store.integration_by_key("k-old") == old
    found = await store.integration_by_key("/deploy")
    assert found == command and found is not None
    assert found.config == {"url": "http://127.0.0.1:9/x", "words": ["a", "b"]}
    assert found.channel_id is None
    assert await store.integration_by_key("nope") is None
    assert [i.id for i in await store.integrations()] == ["a3", "a2", "a1"]

    assert await store.delete_integration("a2") == new
    assert await store.delete_integration("a2") is None
    assert await store.integration_by_key("k-new") is None
    assert [i.id for i in await store.integrations()] == ["a3", "a1"]


async def test_an_integration_key_is_unique(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    await store.create_integration(hook("b1", "same", None, ann.id, 1))
    with pytest.raises(NameTaken):
        await store.create_integration(hook("b2", "same", None, ann.id, 2))
    assert [i.id for i in await store.integrations()] == ["b1"]  # nothing half-made


async def test_a_shown_name_is_kept_beside_the_authors_display_name_on_that_message_only(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("general", "public", "", [ann.id])
    out = await store.append_messages(
        [
            NewMessage(ch.id, ann.id, "Build bot", "green", "c1", 1),
            NewMessage(ch.id, ann.id, None, "mine", "c2", 2),
        ]
    )
    assert all(isinstance(m, StoredMessage) for m in out)
    assert [
        (m.author, m.author_name, m.shown_name) for m in out if isinstance(m, StoredMessage)
    ] == [("ann", "Ann", "Build bot"), ("ann", "Ann", None)]
    stored = await store.messages(ch.id, after=0, limit=10)
    assert [(m.author, m.author_name, m.shown_name, m.text) for m in stored] == [
        ("ann", "Ann", "Build bot", "green"),
        ("ann", "Ann", None, "mine"),
    ]
    # A retry (an incoming hook's Idempotency-Key again) answers the first, name and all.
    (again,) = await store.append_messages(
        [NewMessage(ch.id, ann.id, "Build bot", "green", "c1", 3)]
    )
    assert isinstance(again, StoredMessage) and again.duplicate
    assert (again.seq, again.shown_name) == (1, "Build bot")


async def test_a_bots_messages_say_so_wherever_they_are_read(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bot = await store.create_user("ci", "CI", "", bot_owner=ann.id)
    ch = await store.create_channel("general", "public", "", [ann.id, bot.id])
    sent = await store.append_messages(
        [
            NewMessage(ch.id, bot.id, None, "green", "b1", 1),
            NewMessage(ch.id, ann.id, None, "ok", "a1", 2),
        ]
    )
    assert [m.author_bot for m in sent if isinstance(m, StoredMessage)] == [True, False]
    again = await store.append_messages([NewMessage(ch.id, bot.id, None, "green", "b1", 3)])
    assert isinstance(again[0], StoredMessage) and again[0].duplicate and again[0].author_bot
    replied = await store.append_reply(NewReply(ch.id, 1, bot.id, "details", "b2", 4))
    assert isinstance(replied, Replied) and replied.reply.author_bot
    assert [(m.text, m.author_bot) for m in await store.messages(ch.id, after=0, limit=10)] == [
        ("green", True),
        ("ok", False),
    ]
    assert [(e.message.text, e.message.author_bot) for e in await store.log_after(ch.id, 0, 10)][
        :3
    ] == [
        ("green", True),
        ("ok", False),
        ("details", True),
    ]
    (thread,) = await store.thread(ch.id, 1, limit=10)
    assert thread.author_bot


# --- an outgoing hook's deliveries (models.Outbox) -------------------------------------


async def test_the_first_claim_makes_the_outbox_at_its_start_and_only_one_owner_holds_it(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    await store.create_integration(hook("o1", "outgoing:o1", None, ann.id, 1))
    assert await store.outbox("o1") is None

    mine = await store.claim_outbox("o1", "node-a", now=1000, until=2000, start=7)
    assert mine == Outbox("o1", 7, lease_owner="node-a", lease_until=2000)
    # Another node is refused while the lease runs, and changes nothing.
    assert await store.claim_outbox("o1", "node-b", now=1999, until=3000, start=0) is None
    # Its owner renews it; `start` only ever sets a new outbox's cursor.
    renewed = await store.claim_outbox("o1", "node-a", now=1500, until=2500, start=99)
    assert renewed == Outbox("o1", 7, lease_owner="node-a", lease_until=2500)
    # Once it runs out, another may take it, cursor and all.
    taken = await store.claim_outbox("o1", "node-b", now=2500, until=3500, start=0)
    assert taken == Outbox("o1", 7, lease_owner="node-b", lease_until=3500)
    assert await store.outbox("o1") == taken


async def test_only_the_lease_holder_saves_and_a_dead_letter_goes_with_its_save(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    await store.create_integration(hook("o2", "outgoing:o2", None, ann.id, 1))
    held = await store.claim_outbox("o2", "node-a", now=0, until=5000, start=0)
    assert held is not None

    failing = dataclasses.replace(held, attempts=3, next_at=4000, last_error="timed out")
    assert await store.save_outbox(failing)
    assert await store.outbox("o2") == failing

    # node-b's copy (it lost the lease) writes nothing, not even its dead letter.
    stale = dataclasses.replace(held, lease_owner="node-b", cursor=50)
    assert not await store.save_outbox(stale, DeadLetter("o2", 50, 9, "x", 1))
    assert await store.outbox("o2") == failing
    assert await store.dead_letters("o2", 10) == []

    for seq in (4, 9):
        gave_up = dataclasses.replace(failing, cursor=seq, attempts=0, dead=failing.dead + 1)
        assert await store.save_outbox(gave_up, DeadLetter("o2", seq, 15, f"500 at {seq}", seq))
        failing = gave_up
    assert await store.dead_letters("o2", 10) == [
        DeadLetter("o2", 9, 15, "500 at 9", 9),
        DeadLetter("o2", 4, 15, "500 at 4", 4),
    ]
    assert await store.dead_letters("o2", 1) == [DeadLetter("o2", 9, 15, "500 at 9", 9)]
    assert (await store.outbox("o2")) == failing

    # Deleting the hook deletes its deliveries: a new hook with its id starts afresh.
    await store.delete_integration("o2")
    assert await store.outbox("o2") is None
    assert await store.dead_letters("o2", 10) == []
