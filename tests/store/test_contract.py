"""The Store contract: every backend must pass every test here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from hubbub.core.models import (
    AppendRejected,
    Changed,
    ChangeRefused,
    Delete,
    Edit,
    FollowedThread,
    NewMessage,
    NewReply,
    Pin,
    React,
    Replied,
    StoredMessage,
)
from hubbub.protocol.rules import MAX_REACTIONS
from hubbub.store import NameTaken, Store


def msg(channel_id: int, author_id: int | None, text: str, client_id: str | None) -> NewMessage:
    return NewMessage(channel_id, author_id, None if author_id else "guest", text, client_id, 1)


async def test_open_twice_is_a_noop_upgrade(make_store: Callable[[], Store]) -> None:
    a = make_store()
    await a.open()
    await a.create_user("ann", "Ann", "h")
    b = make_store()
    await b.open()  # migrations already at head: nothing lost
    assert (await b.get_user_by_name("ann")) is not None
    await b.ping()


async def test_meta_first_value_wins(store: Store) -> None:
    assert await store.get_or_set_meta("k", "one") == "one"
    assert await store.get_or_set_meta("k", "two") == "one"


async def test_users(store: Store) -> None:
    u = await store.create_user("ann", "Ann A", "hash1")
    assert (await store.get_user(u.id)) == u
    assert (await store.get_user_by_name("ann")) == u
    assert await store.get_user_by_name("nobody") is None
    assert await store.get_user(u.id + 1000) is None
    with pytest.raises(NameTaken):
        await store.create_user("ann", "Other", "hash2")
    await store.update_password_hash(u.id, "hash3")
    found = await store.get_user(u.id)
    assert found is not None and found.password_hash == "hash3"


async def test_channels_and_membership(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    pub = await store.create_channel("general", "public", "hi", [ann.id])
    priv = await store.create_channel("secret", "private", "", [bob.id])
    dm = await store.create_channel("dm:ann,bob", "dm", "", [ann.id, bob.id])
    assert (pub.kind, pub.topic, pub.member_count, pub.last_seq) == ("public", "hi", 1, 0)
    assert dm.members == ("ann", "bob") and pub.members is None
    with pytest.raises(NameTaken):
        await store.create_channel("general", "private", "", [])

    assert [m.channel.name for m in await store.channels_for(ann.id)] == ["dm:ann,bob", "general"]
    assert [c.name for c in await store.public_channels()] == ["general"]
    assert await store.membership(priv.id, ann.id) is None
    assert await store.add_member(priv.id, ann.id) is True
    assert await store.add_member(priv.id, ann.id) is False
    assert await store.member_names(priv.id) == ["ann", "bob"]
    assert await store.remove_member(priv.id, ann.id) is True
    assert await store.remove_member(priv.id, ann.id) is False
    await store.update_channel(pub.id, topic="new topic")
    found = await store.get_channel("general")
    assert found is not None and found.topic == "new topic"
    assert await store.get_channel("nope") is None


async def test_seq_is_per_channel_and_contiguous(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    a = await store.create_channel("a", "public", "", [ann.id])
    b = await store.create_channel("b", "public", "", [ann.id])
    out = await store.append_messages(
        [msg(a.id, ann.id, f"m{i}", f"c{i}") for i in range(3)] + [msg(b.id, ann.id, "x", "cx")]
    )
    assert [(r.channel, r.seq) for r in out if isinstance(r, StoredMessage)] == [
        ("a", 1),
        ("a", 2),
        ("a", 3),
        ("b", 1),
    ]
    more = await store.append_messages([msg(a.id, ann.id, "m3", "c3")])
    assert isinstance(more[0], StoredMessage) and more[0].seq == 4
    found = await store.get_channel("a")
    assert found is not None and found.last_seq == 4


async def test_client_id_dedup(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    ch = await store.create_channel("a", "public", "", [ann.id, bob.id])
    first = await store.append_messages(
        [msg(ch.id, ann.id, "hello", "same"), msg(ch.id, ann.id, "hello again", "same")]
    )
    assert isinstance(first[0], StoredMessage) and not first[0].duplicate
    assert isinstance(first[1], StoredMessage) and first[1].duplicate
    assert (first[1].seq, first[1].text) == (1, "hello")
    retry = await store.append_messages([msg(ch.id, ann.id, "hello", "same")])
    assert isinstance(retry[0], StoredMessage) and retry[0].duplicate and retry[0].seq == 1
    other = await store.append_messages([msg(ch.id, bob.id, "bob's", "same")])
    assert isinstance(other[0], StoredMessage) and not other[0].duplicate and other[0].seq == 2
    guests = await store.append_messages([msg(ch.id, None, "g", None), msg(ch.id, None, "g", None)])
    assert [r.seq for r in guests if isinstance(r, StoredMessage)] == [3, 4]
    assert len(await store.messages(ch.id, after=0, limit=100)) == 4


async def test_non_member_is_rejected_without_using_a_seq(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    ch = await store.create_channel("a", "private", "", [ann.id])
    out = await store.append_messages(
        [msg(ch.id, bob.id, "intruder", "x"), msg(ch.id, ann.id, "mine", "y")]
    )
    assert isinstance(out[0], AppendRejected)
    assert isinstance(out[1], StoredMessage) and out[1].seq == 1


async def test_history_paging(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("a", "public", "", [ann.id])
    await store.append_messages([msg(ch.id, ann.id, f"m{i}", f"c{i}") for i in range(1, 11)])
    newest = await store.messages(ch.id, limit=3)
    assert [m.seq for m in newest] == [10, 9, 8]
    older = await store.messages(ch.id, before=8, limit=3)
    assert [m.seq for m in older] == [7, 6, 5]
    after = await store.messages(ch.id, after=7, limit=10)
    assert [m.seq for m in after] == [8, 9, 10]
    window = await store.messages(ch.id, after=2, before=5, limit=10)
    assert [m.seq for m in window] == [3, 4]
    assert newest[0].author == "ann" and newest[0].author_name == "Ann"


async def test_read_cursor_moves_forward_only(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("a", "public", "", [ann.id])
    assert await store.set_last_read(ch.id, ann.id, 5) == 5
    assert await store.set_last_read(ch.id, ann.id, 3) == 5
    m = await store.membership(ch.id, ann.id)
    assert m is not None and m.last_read == 5


async def test_concurrent_writers_never_share_a_seq(make_store: Callable[[], Store]) -> None:
    # Two store instances on one database stand in for two server processes.
    first, second = make_store(), make_store()
    await first.open()
    await second.open()
    users = [await first.create_user(f"u{i}", f"U{i}", "h") for i in range(4)]
    ch = await first.create_channel("busy", "public", "", [u.id for u in users])

    async def writer(store: Store, user_id: int) -> list[int]:
        seqs = []
        for i in range(25):
            batch = [msg(ch.id, user_id, f"{user_id}-{i}-{j}", f"{i}-{j}") for j in range(2)]
            seqs += [
                r.seq for r in await store.append_messages(batch) if isinstance(r, StoredMessage)
            ]
        return seqs

    results = await asyncio.gather(
        *(writer(first if i % 2 else second, u.id) for i, u in enumerate(users))
    )
    every = sorted(s for r in results for s in r)
    assert every == list(range(1, 201))
    for r in results:
        assert r == sorted(r)  # each writer's own messages keep their order


async def test_mentions_are_counted_after_the_cursor(store: Store) -> None:
    ann = await store.create_user("ann_b", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    ch = await store.create_channel("a", "public", "", [ann.id, bob.id])
    texts = ["hi @ann_b", "@annxb is someone else", "@ann_bob", "@ann_b again", "50% @ann_b."]
    await store.append_messages([msg(ch.id, bob.id, x, f"c{i}") for i, x in enumerate(texts)])
    assert await store.count_mentions(ch.id, 0, "ann_b") == 3  # `_` is no wildcard
    assert await store.count_mentions(ch.id, 1, "ann_b") == 2
    assert await store.count_mentions(ch.id, 5, "ann_b") == 0


async def test_here_channel_and_everyone_mention_all_but_the_author(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    texts = [
        "@here standup",  # 1
        "ping @channel.",  # 2
        "@everyone: release",  # 3
        "@hereafter, @channels, @everyone_else, @here.b",  # 4: longer names, not mentions
        "email here@channel.org",  # 5: `@channel` followed by more of a name
        "no at sign: here, channel, everyone",  # 6
    ]
    sent = await store.append_messages([msg(cid, ann, x, f"a{i}") for i, x in enumerate(texts)])
    assert [m.seq for m in sent if isinstance(m, StoredMessage)] == [1, 2, 3, 4, 5, 6]
    # The author's own messages never mention them, `@here` or `@ann` alike.
    [own] = await store.append_messages([msg(cid, ann, "note to self, @ann", "a9")])
    assert isinstance(own, StoredMessage)
    assert await store.count_mentions(cid, 0, "bob") == 3
    assert await store.count_mentions(cid, 0, "ann") == 0
    assert await store.count_mentions(cid, 1, "bob") == 2
    # A guest's message (no author id) mentions every member.
    [guest] = await store.append_messages([msg(cid, None, "hi @here", None)])
    assert isinstance(guest, StoredMessage)
    assert await store.count_mentions(cid, 0, "ann") == 1
    assert await store.count_mentions(cid, 0, "bob") == 4
    # A deleted message mentions no one; nor does one edited out of mentioning.
    assert isinstance(await store.change_message(cid, 1, ann, Delete(5)), Changed)
    assert isinstance(await store.change_message(cid, 2, ann, Edit("ping, all", 6)), Changed)
    assert await store.count_mentions(cid, 0, "bob") == 2
    assert await store.count_unread(cid, 0, bob) == 7  # 8 messages, 1 deleted
    # An edit into a mention counts; seqs of changes are no messages.
    assert isinstance(await store.change_message(cid, 6, ann, Edit("@everyone, no", 7)), Changed)
    assert await store.count_mentions(cid, 0, "bob") == 3
    assert await store.count_mentions(cid, own.seq, "bob") == 1  # the guest's


async def test_a_new_member_starts_with_nothing_unread(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    ch = await store.create_channel("a", "public", "", [ann.id])
    await store.append_messages([msg(ch.id, ann.id, f"m{i}", f"c{i}") for i in range(3)])
    assert await store.add_member(ch.id, bob.id)
    m = await store.membership(ch.id, bob.id)
    assert m is not None and m.last_read == 3


async def test_own_messages_move_the_authors_read_cursor(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    cat = await store.create_user("cat", "Cat", "h")
    dan = await store.create_user("dan", "Dan", "h")
    a = await store.create_channel("a", "public", "", [ann.id, bob.id, cat.id])
    b = await store.create_channel("b", "public", "", [ann.id, bob.id])

    async def cursor(channel_id: int, user_id: int) -> int | None:
        m = await store.membership(channel_id, user_id)
        return None if m is None else m.last_read

    # One batch: each author's cursor lands on their last message in each
    # channel; guests move no one, and non-members get no cursor.
    out = await store.append_messages(
        [
            msg(a.id, ann.id, "a1", "c1"),
            msg(a.id, bob.id, "a2", "c2"),
            msg(a.id, ann.id, "a3", "c3"),
            msg(b.id, ann.id, "b1", "c4"),
            msg(a.id, None, "a4", None),
            msg(a.id, dan.id, "intruder", "c5"),
        ]
    )
    assert [r.seq if isinstance(r, StoredMessage) else None for r in out] == [1, 2, 3, 1, 4, None]
    assert await cursor(a.id, ann.id) == 3
    assert await cursor(a.id, bob.id) == 2
    assert await cursor(a.id, cat.id) == 0  # another member's cursor does not move
    assert await cursor(b.id, ann.id) == 1
    assert await cursor(b.id, bob.id) == 0
    assert await cursor(a.id, dan.id) is None
    listed = {
        m.channel.name: (m.last_read, m.channel.last_seq) for m in await store.channels_for(ann.id)
    }
    assert listed == {"a": (3, 4), "b": (1, 1)}

    # A later batch moves it on, past what others wrote in between.
    await store.append_messages([msg(a.id, bob.id, "a5", "c6"), msg(a.id, ann.id, "a6", "c7")])
    assert (await cursor(a.id, ann.id), await cursor(a.id, bob.id)) == (6, 5)

    # A cursor already ahead (read on another device) is not moved back, and
    # the message is stored all the same.
    assert await store.set_last_read(a.id, cat.id, 50) == 50
    ahead = await store.append_messages(
        [msg(a.id, cat.id, "a7", "c8"), msg(a.id, ann.id, "a8", "c9")]
    )
    assert [r.seq for r in ahead if isinstance(r, StoredMessage)] == [7, 8]
    assert (await cursor(a.id, cat.id), await cursor(a.id, ann.id)) == (50, 8)

    # A retry of an old send (a duplicate) stores nothing and moves nothing.
    await store.set_last_read(a.id, bob.id, 7)
    again = await store.append_messages([msg(a.id, bob.id, "a2", "c2")])
    assert isinstance(again[0], StoredMessage) and again[0].duplicate and again[0].seq == 2
    assert await cursor(a.id, bob.id) == 7

    # A batch too big for one backend transaction: the cursor still ends on
    # the author's last message.
    big = await store.append_messages([msg(b.id, bob.id, f"x{i}", f"big{i}") for i in range(80)])
    assert [r.seq for r in big if isinstance(r, StoredMessage)] == list(range(2, 82))
    assert (await cursor(b.id, bob.id), await cursor(b.id, ann.id)) == (81, 1)


# --- the channel's log: changes to stored messages ------------------------------------


async def two_authors(store: Store) -> tuple[int, int, int]:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    ch = await store.create_channel("general", "public", "", [ann.id, bob.id])
    return ch.id, ann.id, bob.id


async def test_an_edit_takes_the_next_seq_and_the_message_keeps_its_own(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    [one] = await store.append_messages([msg(cid, ann, "helo @bob", "a")])
    assert isinstance(one, StoredMessage)
    changed = await store.change_message(cid, one.seq, ann, Edit("hello @bob", 5))
    assert isinstance(changed, Changed)
    assert changed.seq == one.seq + 1
    assert (changed.message.seq, changed.message.text) == (one.seq, "hello @bob")
    assert changed.message.edited_at == 5 and not changed.message.deleted
    [two] = await store.append_messages([msg(cid, bob, "next", "b")])
    assert isinstance(two, StoredMessage) and two.seq == changed.seq + 1  # one counter
    [now] = await store.messages(cid, before=two.seq, limit=1)
    assert (now.text, now.edited_at) == ("hello @bob", 5)  # history: the latest text
    channel = await store.get_channel("general")
    assert channel is not None and channel.last_seq == two.seq


async def test_the_log_after_a_seq_holds_messages_and_changes_in_order(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    sent = await store.append_messages(
        [msg(cid, ann, "one", "1"), msg(cid, bob, "two", "2"), msg(cid, ann, "three", "3")]
    )
    one, two, three = (m for m in sent if isinstance(m, StoredMessage))
    edit = await store.change_message(cid, one.seq, ann, Edit("one!", 9))
    gone = await store.change_message(cid, two.seq, bob, Delete(10))
    assert isinstance(edit, Changed) and isinstance(gone, Changed)
    assert edit.seq is not None and gone.seq is not None
    log = await store.log_after(cid, after=one.seq, limit=10)
    assert [(e.seq, e.message.seq, e.is_change) for e in log] == [
        (two.seq, two.seq, False),
        (three.seq, three.seq, False),
        (edit.seq, one.seq, True),
        (gone.seq, two.seq, True),
    ]
    assert log[0].message.deleted and log[0].message.text == ""  # the state now
    assert [e.seq for e in await store.log_after(cid, after=0, limit=2)] == [one.seq, two.seq]
    assert await store.log_after(cid, after=gone.seq, limit=10) == []


async def test_a_delete_removes_the_text_from_storage(store: Store) -> None:
    cid, ann, _ = await two_authors(store)
    [m] = await store.append_messages([msg(cid, ann, "secret @bob", "s")])
    assert isinstance(m, StoredMessage)
    await store.change_message(cid, m.seq, ann, Edit("secret, edited", 2))
    gone = await store.change_message(cid, m.seq, ann, Delete(3))
    assert isinstance(gone, Changed) and gone.message.deleted and gone.message.text == ""
    for e in await store.log_after(cid, after=0, limit=10):
        assert "secret" not in e.message.text
    [now] = await store.messages(cid, limit=1)
    assert now.deleted and now.text == ""
    assert await store.count_mentions(cid, 0, "bob") == 0


async def test_changes_refused_or_changing_nothing_take_no_seq(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    [m] = await store.append_messages([msg(cid, ann, "mine", "m")])
    assert isinstance(m, StoredMessage)
    assert await store.change_message(cid, m.seq, bob, Edit("theirs", 1)) == ChangeRefused(
        "forbidden"
    )
    assert await store.change_message(cid, m.seq, bob, Delete(1)) == ChangeRefused("forbidden")
    assert await store.change_message(cid, m.seq + 5, ann, Edit("x", 1)) == ChangeRefused(
        "not_found"
    )
    same = await store.change_message(cid, m.seq, ann, Edit("mine", 1))
    assert isinstance(same, Changed) and same.seq is None  # a retried edit: one change
    gone = await store.change_message(cid, m.seq, ann, Delete(2))
    assert isinstance(gone, Changed) and gone.seq == m.seq + 1
    again = await store.change_message(cid, m.seq, ann, Delete(3))
    assert isinstance(again, Changed) and again.seq is None
    assert await store.change_message(cid, m.seq, ann, Edit("back", 4)) == ChangeRefused("deleted")
    channel = await store.get_channel("general")
    assert channel is not None and channel.last_seq == m.seq + 1  # only the delete took one
    [now] = await store.messages(cid, limit=1)
    assert now.deleted and now.edited_at is None


async def test_a_guests_message_cannot_be_changed(store: Store) -> None:
    cid, ann, _ = await two_authors(store)
    [m] = await store.append_messages([msg(cid, None, "from a guest", None)])
    assert isinstance(m, StoredMessage)
    assert await store.change_message(cid, m.seq, ann, Delete(1)) == ChangeRefused("forbidden")


async def test_reactions_are_part_of_the_message_and_of_the_log(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    [m] = await store.append_messages([msg(cid, ann, "ship it?", "r")])
    assert isinstance(m, StoredMessage)
    first = await store.change_message(cid, m.seq, bob, React("👍", True, 1))
    assert isinstance(first, Changed) and first.seq == m.seq + 1
    assert first.message.reactions == (("👍", ("bob",)),)
    again = await store.change_message(cid, m.seq, bob, React("👍", True, 2))
    assert isinstance(again, Changed) and again.seq is None  # twice: one reaction
    await store.change_message(cid, m.seq, ann, React("🎉", True, 3))
    both = await store.change_message(cid, m.seq, ann, React("👍", True, 4))
    assert isinstance(both, Changed)
    assert both.message.reactions == (("👍", ("bob", "ann")), ("🎉", ("ann",)))
    back = await store.change_message(cid, m.seq, bob, React("👍", False, 5))
    assert isinstance(back, Changed) and back.seq is not None
    # Emoji are shown by their earliest reaction: ann's 👍 (4) came after her 🎉 (3).
    assert back.message.reactions == (("🎉", ("ann",)), ("👍", ("ann",)))
    never = await store.change_message(cid, m.seq, bob, React("🎉", False, 6))
    assert isinstance(never, Changed) and never.seq is None
    [now] = await store.messages(cid, limit=1)
    assert now.reactions == back.message.reactions  # history reads them
    log = await store.log_after(cid, after=m.seq, limit=10)
    assert [e.seq for e in log] == [m.seq + 1, m.seq + 2, m.seq + 3, m.seq + 4]
    assert all(e.message.reactions == back.message.reactions for e in log)


async def test_a_deleted_message_keeps_no_reactions_and_takes_none(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    [m] = await store.append_messages([msg(cid, ann, "oops", "d")])
    assert isinstance(m, StoredMessage)
    await store.change_message(cid, m.seq, bob, React("😂", True, 1))
    gone = await store.change_message(cid, m.seq, ann, Delete(2))
    assert isinstance(gone, Changed) and gone.message.reactions == ()
    assert await store.change_message(cid, m.seq, bob, React("😂", True, 3)) == ChangeRefused(
        "deleted"
    )
    [now] = await store.messages(cid, limit=1)
    assert now.deleted and now.reactions == ()


async def test_pins_are_changes_and_the_channel_lists_them(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    out = await store.append_messages([msg(cid, ann, f"m{i}", f"p{i}") for i in range(3)])
    m = [x for x in out if isinstance(x, StoredMessage)]
    assert await store.pinned(cid, 10) == []
    # Anyone may pin (membership is the caller's check); again changes nothing.
    first = await store.change_message(cid, m[0].seq, bob, Pin(True, 10))
    assert isinstance(first, Changed) and first.seq == 4
    assert (first.message.pinned_by, first.message.pinned_at) == ("bob", 10)
    again = await store.change_message(cid, m[0].seq, ann, Pin(True, 11))
    assert isinstance(again, Changed) and again.seq is None
    assert again.message.pinned_by == "bob"
    await store.change_message(cid, m[2].seq, ann, Pin(True, 20))
    await store.change_message(cid, m[1].seq, ann, Pin(True, 15))
    listed = await store.pinned(cid, 10)
    assert [(x.seq, x.pinned_by, x.pinned_at) for x in listed] == [
        (3, "ann", 20),
        (2, "ann", 15),
        (1, "bob", 10),
    ]
    assert [x.seq for x in await store.pinned(cid, 2)] == [3, 2]
    # Unpinned: out of the list; unpinning again changes nothing.
    off = await store.change_message(cid, m[1].seq, bob, Pin(False, 30))
    assert isinstance(off, Changed) and off.seq == 7 and off.message.pinned_at is None
    twice = await store.change_message(cid, m[1].seq, bob, Pin(False, 31))
    assert isinstance(twice, Changed) and twice.seq is None
    # Deleted: unpinned with it, and can't be pinned again.
    gone = await store.change_message(cid, m[2].seq, ann, Delete(40))
    assert isinstance(gone, Changed) and gone.message.pinned_by is None
    refused = await store.change_message(cid, m[2].seq, bob, Pin(True, 41))
    assert refused == ChangeRefused("deleted")
    assert [x.seq for x in await store.pinned(cid, 10)] == [1]
    history = {x.seq: x for x in await store.messages(cid, limit=10)}
    assert history[1].pinned_by == "bob" and history[2].pinned_by is None
    log = await store.log_after(cid, after=3, limit=10)
    assert [(e.seq, e.message.seq) for e in log] == [(4, 1), (5, 3), (6, 2), (7, 2), (8, 3)]


async def test_a_message_takes_at_most_max_reactions_emoji(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    [m] = await store.append_messages([msg(cid, ann, "vote", "v")])
    assert isinstance(m, StoredMessage)
    faces = [chr(0x1F600 + i) for i in range(MAX_REACTIONS + 1)]
    for i, face in enumerate(faces[:MAX_REACTIONS]):
        done = await store.change_message(cid, m.seq, bob, React(face, True, i))
        assert isinstance(done, Changed)
    over = await store.change_message(cid, m.seq, bob, React(faces[-1], True, 99))
    assert over == ChangeRefused("too_many_reactions")
    # An emoji already there can still be added to.
    plus = await store.change_message(cid, m.seq, ann, React(faces[0], True, 100))
    assert isinstance(plus, Changed) and plus.seq is not None
    [now] = await store.messages(cid, limit=1)
    assert len(now.reactions) == MAX_REACTIONS


async def test_unread_counts_messages_from_others_never_changes(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    sent = await store.append_messages(
        [msg(cid, bob, "one", "1"), msg(cid, bob, "two", "2"), msg(cid, None, "guest", None)]
    )
    one, two, _ = (m for m in sent if isinstance(m, StoredMessage))
    assert await store.count_unread(cid, 0, ann) == 3
    assert await store.count_unread(cid, 0, bob) == 1  # only the guest's: not his own
    await store.change_message(cid, one.seq, bob, Edit("one!", 1))
    await store.change_message(cid, one.seq, ann, React("👍", True, 2))
    assert await store.count_unread(cid, 0, ann) == 3  # changes are not messages
    await store.change_message(cid, two.seq, bob, Delete(3))
    assert await store.count_unread(cid, 0, ann) == 2  # a tombstone is not unread
    assert await store.count_unread(cid, one.seq, ann) == 1


async def test_search_users_in_any_case_by_username_in_pages(store: Store) -> None:
    for username, display in [
        ("ann", "Ann Lee"),
        ("joanna", "Jo"),
        ("bob", "Bobby ANNE"),
        ("carl", "Émile Zola"),
        ("d_x", "100%"),
        ("dax", "Dax"),
        ("eve", "back\\slash"),
    ]:
        await store.create_user(username, display, "h")

    async def names(query: str, after: str | None = None, limit: int = 10) -> list[str]:
        return [u.username for u in await store.search_users(query, after, limit)]

    assert await names("") == ["ann", "bob", "carl", "d_x", "dax", "eve", "joanna"]
    found = await store.search_users("ann", None, 10)
    assert [(u.username, u.display_name) for u in found] == [
        ("ann", "Ann Lee"),
        ("bob", "Bobby ANNE"),  # the display name, in any case
        ("joanna", "Jo"),  # inside the username
    ]
    assert found[0] == await store.get_user_by_name("ann")
    assert await names("ANN") == ["ann", "bob", "joanna"]
    assert await names("émile") == await names("ÉMILE") == ["carl"]  # not only ASCII
    # LIKE's wildcards (and its escape) are themselves.
    assert await names("d_") == ["d_x"]
    assert await names("0%") == ["d_x"]
    assert await names("%") == ["d_x"]
    assert await names("\\") == ["eve"]
    assert await names("zzz") == []
    # Pages: by username, after `after`, at most `limit`.
    assert await names("a", limit=2) == ["ann", "bob"]
    assert await names("a", after="bob", limit=2) == ["carl", "dax"]
    assert await names("a", after="dax", limit=2) == ["eve", "joanna"]
    assert await names("a", after="eve", limit=2) == ["joanna"]
    assert await names("", after="joanna") == []


# --- threads ----------------------------------------------------------------------------


def reply(cid: int, parent: int, author: int, text: str, client_id: str, **kw: Any) -> NewReply:
    return NewReply(cid, parent, author, text, client_id, 1000 + len(text), **kw)


async def test_a_reply_takes_two_places_and_the_root_keeps_the_summary(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    [root] = await store.append_messages([msg(cid, ann, "plan?", "t0")])
    assert isinstance(root, StoredMessage)
    first = await store.append_reply(reply(cid, root.seq, bob, "yes", "t1"))
    assert isinstance(first, Replied)
    assert (first.reply.seq, first.reply.thread_root, first.root_seq) == (2, 1, 3)
    assert not first.reply.broadcast and not first.reply.duplicate
    assert (first.root.seq, first.root.reply_count, first.root.reply_users) == (1, 1, ("bob",))
    assert first.root.last_reply_at == first.reply.created_at
    # A reply to a reply is one to the root; ann replies too, bob again.
    second = await store.append_reply(reply(cid, first.reply.seq, ann, "when?", "t2"))
    third = await store.append_reply(reply(cid, root.seq, bob, "now!", "t3", broadcast=True))
    assert isinstance(second, Replied) and isinstance(third, Replied)
    assert (second.reply.seq, second.reply.thread_root) == (4, 1)
    assert third.reply.broadcast and third.root_seq == 7
    assert (third.root.reply_count, third.root.reply_users) == (3, ("bob", "ann"))
    # A retry stores nothing and answers the first.
    again = await store.append_reply(reply(cid, root.seq, bob, "yes", "t1"))
    assert isinstance(again, Replied) and again.reply.duplicate and again.root_seq is None
    assert again.reply.seq == 2 and again.root.reply_count == 3
    assert await store.last_seq(cid) == 7

    # The channel's history has the root and the broadcast reply only; the
    # thread has every reply; the log has every place.
    assert [m.seq for m in await store.messages(cid, limit=10)] == [6, 1]
    assert [m.seq for m in await store.thread(cid, 1, after=0, limit=10)] == [2, 4, 6]
    assert [m.seq for m in await store.thread(cid, 1, limit=2)] == [6, 4]
    assert [m.seq for m in await store.thread(cid, 1, before=4, limit=10)] == [2]
    assert [m.seq for m in await store.thread(cid, 1, after=2, before=6, limit=10)] == [4]
    log = await store.log_after(cid, after=0, limit=10)
    assert [(e.seq, e.message.seq) for e in log] == [
        (1, 1), (2, 2), (3, 1), (4, 4), (5, 1), (6, 6), (7, 1)
    ]  # fmt: skip
    assert log[0].message.reply_count == 3  # each in its state now
    # Unread: only what shows in the channel (the broadcast reply, bob's).
    assert await store.count_unread(cid, 1, ann) == 1


async def test_replies_refused_store_nothing(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    [root] = await store.append_messages([msg(cid, ann, "x", "r0")])
    assert isinstance(root, StoredMessage)
    assert await store.append_reply(reply(cid, 99, bob, "?", "r1")) == ChangeRefused("not_found")
    other = await store.create_channel("other", "public", "", [ann, bob])
    assert await store.append_reply(reply(other.id, root.seq, bob, "?", "r2")) == ChangeRefused(
        "not_found"
    )  # its seq is another channel's message
    await store.change_message(cid, root.seq, ann, Delete(5))
    assert await store.append_reply(reply(cid, root.seq, bob, "?", "r3")) == ChangeRefused(
        "deleted"
    )
    assert await store.last_seq(cid) == 2  # the message and its delete
    assert await store.thread(cid, root.seq, limit=10) == []


async def test_replies_under_a_deleted_root_stay_reachable(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    [root] = await store.append_messages([msg(cid, ann, "x", "d0")])
    assert isinstance(root, StoredMessage)
    r = await store.append_reply(reply(cid, root.seq, bob, "reply", "d1"))
    assert isinstance(r, Replied)
    gone = await store.change_message(cid, root.seq, ann, Delete(9))
    assert isinstance(gone, Changed) and gone.message.reply_count == 1
    [kept] = await store.thread(cid, root.seq, after=0, limit=10)
    assert (kept.seq, kept.text) == (r.reply.seq, "reply")


async def test_followed_threads_and_their_unread_replies(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    cat = await store.create_user("cat", "Cat", "h")
    dan = await store.create_user("dan", "Dan", "h")
    await store.add_member(cid, cat.id)
    await store.add_member(cid, dan.id)
    [a, b] = await store.append_messages([msg(cid, ann, "a", "f0"), msg(cid, cat.id, "b", "f1")])
    assert isinstance(a, StoredMessage) and isinstance(b, StoredMessage)
    assert await store.followed_threads(ann, 10) == []
    # bob replies to ann's (ann follows: her root; bob: his reply), and
    # mentions dan, who follows from now on.
    r1 = await store.append_reply(reply(cid, a.seq, bob, "hi @dan", "f2", followers=(dan.id,)))
    assert isinstance(r1, Replied)
    r2 = await store.append_reply(reply(cid, b.seq, ann, "and this", "f3"))
    assert isinstance(r2, Replied)

    def view(threads: list[FollowedThread]) -> list[tuple[int, int]]:
        return [(t.root.seq, t.unread) for t in threads]

    # Latest reply first; your own replies are never unread.
    assert view(await store.followed_threads(ann, 10)) == [(b.seq, 0), (a.seq, 1)]
    assert view(await store.followed_threads(bob, 10)) == [(a.seq, 0)]
    assert view(await store.followed_threads(cat.id, 10)) == [(b.seq, 1)]
    assert view(await store.followed_threads(dan.id, 10)) == [(a.seq, 1)]
    assert view(await store.followed_threads(ann, 1)) == [(b.seq, 0)]
    # Reading moves the cursor forward only; a thread you don't follow has none.
    assert await store.read_thread(cid, a.seq, ann, r1.reply.seq) == r1.reply.seq
    assert await store.read_thread(cid, a.seq, ann, 1) == r1.reply.seq
    assert await store.read_thread(cid, b.seq, bob, 99) is None
    assert view(await store.followed_threads(ann, 10)) == [(b.seq, 0), (a.seq, 0)]


async def test_a_reply_kept_in_its_thread_is_neither_unread_nor_a_mention(store: Store) -> None:
    cid, ann, bob = await two_authors(store)
    [root] = await store.append_messages([msg(cid, ann, "plan", "u0")])
    assert isinstance(root, StoredMessage)
    await store.append_reply(reply(cid, root.seq, bob, "@ann in the thread", "u1"))
    assert await store.count_unread(cid, root.seq, ann) == 0
    assert await store.count_mentions(cid, root.seq, "ann") == 0
    await store.append_reply(reply(cid, root.seq, bob, "@ann everyone", "u2", broadcast=True))
    assert await store.count_unread(cid, root.seq, ann) == 1
    assert await store.count_mentions(cid, root.seq, "ann") == 1


async def test_racing_writers_of_a_meta_key_all_get_the_first_value(
    make_store: Callable[[], Store],
) -> None:
    """Concurrent first registrations claim the owner through a meta key, on
    several nodes at once: every writer must end up with one and the same
    value, none with an error (PostgreSQL let two read before either wrote)."""
    stores = [make_store() for _ in range(4)]
    for s in stores:
        await s.open()
    got = await asyncio.gather(
        *(stores[i % 4].get_or_set_meta("owner", f"user{i}") for i in range(20))
    )
    assert len(set(got)) == 1 and got[0].startswith("user"), got
