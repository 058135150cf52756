"""hubbub's JSON lines: export a workspace, import it into a fresh database,
and get the same workspace (users without password hashes, channels,
memberships, messages with their state); import it again, or into the
database it came from, and nothing changes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from hubbub.core.models import (
    Delete,
    Edit,
    NewMessage,
    NewReply,
    Pin,
    React,
    Replied,
    Status,
    StoredMessage,
)
from hubbub.store import Store
from hubbub.transfer import load
from hubbub.transfer.apply import _Applier
from hubbub.transfer.records import PENDING_TEXT
from hubbub.transfer.report import Refused
from hubbub.transfer.run import export_database, import_plan, read_input
from transfer.conftest import MakeUrl
from transfer.helpers import jsonl_without_seqs, opened, snapshot, without_seqs

T = 1_700_000_000_000
THUMBS, TADA = "\U0001f44d", "\U0001f389"


async def _send(store: Store, *messages: NewMessage) -> list[StoredMessage]:
    out = []
    for r in await store.append_messages(messages):
        assert isinstance(r, StoredMessage), r
        out.append(r)
    return out


async def _reply(store: Store, reply: NewReply) -> StoredMessage:
    r = await store.append_reply(reply)
    assert isinstance(r, Replied), r
    return r.reply


async def build_workspace(store: Store) -> None:
    """A bit of everything an export carries."""
    ann = await store.create_user("ann", "Ann A", "$argon2id$source-hash-ann", role="owner")
    bob = await store.create_user("bob", "Bob B", "$argon2id$source-hash-bob", role="admin")
    carol = await store.create_user("carol", "Carol", "$argon2id$source-hash-carol")
    dave = await store.create_user("dave", "Dave", "$argon2id$source-hash-dave")
    eve = await store.create_user("eve", "Eve", "$argon2id$source-hash-eve", role="guest")
    await store.update_profile(carol.id, status=Status("\U0001f334", "on leave", T + 10**9))
    general = await store.create_channel(
        "general",
        "public",
        "hello all",
        [ann.id, bob.id, carol.id, dave.id],
        admin_ids=[ann.id],
        purpose="everything",
        default=True,
    )
    secret = await store.create_channel(
        "secret", "private", "", [ann.id, bob.id], admin_ids=[bob.id]
    )
    old = await store.create_channel("old", "public", "the past", [ann.id, eve.id])
    dm = await store.create_channel("dm:ann,bob", "dm", "", [ann.id, bob.id])

    g = general.id
    root, hi, guest, oops, gone, bare = await _send(
        store,
        NewMessage(g, ann.id, None, "hello @bob", "web-1", T),
        NewMessage(g, bob.id, None, "hi ann", "web-2", T + 1000),
        NewMessage(g, None, "visitor", "a guest says hi", None, T + 2000),
        NewMessage(g, carol.id, None, "oops", "term-1", T + 3000),
        NewMessage(g, ann.id, None, "this thread will go", "web-3", T + 4000),
        NewMessage(g, ann.id, None, "sent without a client id", None, T + 5000),
    )
    await _reply(store, NewReply(g, root.seq, bob.id, "a reply, @carol", "web-4", T + 6000))
    await _reply(
        store,
        NewReply(g, root.seq, carol.id, "also in the channel", "web-5", T + 7000, broadcast=True),
    )
    await _reply(store, NewReply(g, gone.seq, bob.id, "reply to a goner", "web-6", T + 8000))
    for who, emoji in ((bob, THUMBS), (ann, THUMBS), (carol, TADA)):
        await store.change_message(g, root.seq, who.id, React(emoji, True, T + 9000))
    await store.change_message(g, guest.seq, ann.id, React(TADA, True, T + 9100))
    await store.change_message(g, hi.seq, bob.id, Edit("hi ann (edited)", T + 10_000))
    await store.change_message(g, oops.seq, carol.id, Edit("oops, fixed", T + 10_500))
    await store.change_message(g, oops.seq, carol.id, Delete(T + 11_000))
    await store.change_message(g, gone.seq, ann.id, Delete(T + 12_000))
    await store.change_message(g, root.seq, carol.id, Pin(True, T + 13_000))
    await _send(store, NewMessage(g, dave.id, None, "before I left", "term-2", T + 14_000))
    await store.set_active(dave.id, False)
    await store.add_member(secret.id, carol.id)  # carol wrote there, then left
    await _send(
        store,
        NewMessage(secret.id, bob.id, None, "secret plans", "web-7", T + 15_000),
        NewMessage(secret.id, carol.id, None, "I was here", "web-8", T + 16_000),
    )
    await store.remove_member(secret.id, carol.id)
    await _send(store, NewMessage(dm.id, ann.id, None, "just us", "web-9", T + 17_000))
    await _send(store, NewMessage(old.id, eve.id, None, "long ago", "web-10", T + 18_000))
    await store.update_channel(old.id, archived=True)
    assert bare.client_id is None


def _texts(snap: dict[str, Any]) -> list[str]:
    return [m["text"] for c in snap["channels"].values() for m in c["messages"]]


async def _export(url: str) -> bytes:
    chunks: list[bytes] = []
    await export_database(url, chunks.append)
    return b"".join(chunks)


async def test_export_then_import_round_trips(new_database: MakeUrl, tmp_path: Path) -> None:
    source = await new_database()
    async with opened(source) as store:
        await build_workspace(store)
        before = await snapshot(store)
    exported = await _export(source)
    text = exported.decode()
    assert "source-hash" not in text and "password" not in text  # no password hashes
    records = [json.loads(line) for line in exported.splitlines()]
    assert records[0]["type"] == "workspace" and records[0]["version"] == 1
    kinds = [r["type"] for r in records]
    assert kinds.count("user") == 5 and kinds.count("channel") == 4
    assert kinds.count("message") == sum(len(c["messages"]) for c in before["channels"].values())

    path = tmp_path / "workspace.jsonl"
    path.write_bytes(exported)
    target = await new_database()
    report = await import_plan(target, read_input(str(path)))
    assert report.skipped == {}, report.lines(stored=True)
    async with opened(target) as store:
        after = await snapshot(store)
        for name in ("ann", "dave"):
            user = await store.get_user_by_name(name)
            assert user is not None and user.password_hash.startswith("$argon2id$")
            assert "source-hash" not in user.password_hash
    # The same workspace, but for the seqs the new log gave it.
    assert without_seqs(after) == without_seqs(before)
    assert PENDING_TEXT not in _texts(after)
    assert jsonl_without_seqs(await _export(target)) == jsonl_without_seqs(exported)
    secret = after["channels"]["secret"]
    assert "carol" not in secret["members"]
    assert [m["author"] for m in secret["messages"]] == ["bob", "carol"]

    # Again, into the new database: nothing changes, not even a seq.
    again = await import_plan(target, read_input(str(path)))
    assert again.done["messages_stored"] == 0 and again.done["reactions_added"] == 0
    async with opened(target) as store:
        assert await snapshot(store) == after
    # And into the database it came from: nothing changes there either.
    home = await import_plan(source, read_input(str(path)))
    assert home.done["messages_stored"] == 0 and home.done["users_created"] == 0
    async with opened(source) as store:
        assert await snapshot(store) == before


async def test_an_unfinished_import_is_finished_by_the_next_run(
    new_database: MakeUrl, tmp_path: Path
) -> None:
    """An import cut short (the database went away) after storing an edited
    message's first text, before its edit: running it again finishes it."""
    source = await new_database()
    async with opened(source) as store:
        await build_workspace(store)
        before = await snapshot(store)
    path = tmp_path / "workspace.jsonl"
    path.write_bytes(await _export(source))
    plan = read_input(str(path))
    target = await new_database()
    async with opened(target) as store:  # what the run cut short did
        applier = _Applier(store, plan.report, 200)
        await applier.users(plan.users)
        general = next(c for c in plan.channels if c.name == "general")
        cut = next(i for i, m in enumerate(general.messages) if m.edited_at is not None)
        await applier.channel(dataclasses.replace(general, messages=general.messages[:cut]))
        edited = general.messages[cut]
        channel = await store.get_channel("general")
        assert channel is not None and edited.author is not None
        author = applier.ids[edited.author]
        await _send(
            store,
            NewMessage(channel.id, author, None, PENDING_TEXT, edited.client_id, edited.created_at),
        )
        partial = await snapshot(store)
    assert PENDING_TEXT in _texts(partial)
    await import_plan(target, read_input(str(path)))
    async with opened(target) as store:
        after = await snapshot(store)
    assert PENDING_TEXT not in _texts(after)
    assert without_seqs(after) == without_seqs(before)


def _jsonl(*records: dict[str, object]) -> bytes:
    header = {"type": "workspace", "format": "hubbub", "version": 1}
    return b"\n".join(json.dumps(r).encode() for r in (header, *records)) + b"\n"


def test_bad_json_lines_are_refused_whole() -> None:
    with pytest.raises(Refused, match="line 2 is not valid JSON"):
        load.read_jsonl(_jsonl()[:-1] + b'\n{"type": "user", "username": ', "x.jsonl")
    with pytest.raises(Refused, match="not a hubbub export"):
        load.read_jsonl(b'{"type": "user", "username": "ann"}\n', "x.jsonl")
    with pytest.raises(Refused, match="format version 2"):
        load.read_jsonl(b'{"type": "workspace", "format": "hubbub", "version": 2}\n', "x.jsonl")
    with pytest.raises(Refused, match="line 2: message record: 'created_at' must be an integer"):
        load.read_jsonl(
            _jsonl({"type": "message", "channel": "general", "seq": 1, "created_at": "now"}),
            "x.jsonl",
        )
    with pytest.raises(Refused, match="line 2 is not a record"):
        load.read_jsonl(_jsonl()[:-1] + b"\n[1, 2]\n", "x.jsonl")


def test_json_lines_that_refer_to_what_is_missing_are_skipped_and_reported() -> None:
    user = {"type": "user", "username": "ann", "display_name": "Ann", "new_field": 1}
    channel = {"type": "channel", "name": "general", "kind": "public", "topic": ""}
    message = {
        "type": "message",
        "channel": "general",
        "seq": 1,
        "author": "ann",
        "text": "hi",
        "client_id": "c1",
        "created_at": T,
        "reactions": [
            {"emoji": THUMBS, "users": ["ann", "nobody"]},
            {"emoji": "nope", "users": ["ann"]},
        ],
    }
    plan = load.read_jsonl(
        _jsonl(
            user,
            {"type": "user", "username": "Bad Name"},
            channel,
            {"type": "channel", "name": "Bad Name", "kind": "public"},
            {"type": "membership", "channel": "general", "user": "ann", "admin": True},
            {"type": "membership", "channel": "general", "user": "nobody"},
            message,
            {**message, "seq": 2, "author": "nobody"},
            {**message, "seq": 3, "channel": "elsewhere"},
            {**message, "seq": 4, "thread_root": 99, "client_id": "c4"},
            {"type": "bookmark", "url": "x"},
        ),
        "x.jsonl",
    )
    r = plan.report
    assert r.skipped_count(load.R_BAD_USERNAME) == 1
    assert r.skipped_count(load.R_BAD_CHANNEL) == 1
    assert r.skipped_count(load.R_MEMBERSHIP) == 1
    assert r.skipped_count(load.R_AUTHOR_UNKNOWN) == 1
    assert r.skipped_count(load.R_MESSAGE_CHANNEL) == 1
    assert r.skipped_count(load.R_REACTOR_UNKNOWN) == 2  # of the two messages kept
    assert r.skipped_count(load.R_EMOJI) == 2
    assert r.skipped_count(load.R_ORPHAN) == 1
    assert r.skipped_count(load.R_UNKNOWN_TYPE) == 1
    [general] = plan.channels
    assert (general.members, general.admins) == (("ann",), ("ann",))
    assert [(m.key, m.reactions, m.thread_root) for m in general.messages] == [
        ("1", ((THUMBS, ("ann",)),), None),
        ("4", ((THUMBS, ("ann",)),), None),
    ]


async def test_a_second_run_keeps_edits_made_since_and_restores_reactions(
    new_database: MakeUrl, tmp_path: Path
) -> None:
    """As docs/import-export.md says: running an import again never edits a
    message it finished, but puts back an imported reaction taken off."""
    source = await new_database()
    async with opened(source) as store:
        await build_workspace(store)
    path = tmp_path / "workspace.jsonl"
    path.write_bytes(await _export(source))
    target = await new_database()
    await import_plan(target, read_input(str(path)))
    async with opened(target) as store:
        general = await store.get_channel("general")
        bob = await store.get_user_by_name("bob")
        assert general is not None and bob is not None
        messages = {m.text: m for m in await store.messages(general.id, limit=100)}
        edited, root = messages["hi ann (edited)"], messages["hello @bob"]
        await store.change_message(general.id, edited.seq, bob.id, Edit("mine now", T + 99))
        await store.change_message(general.id, root.seq, bob.id, React(THUMBS, False, T + 99))
    again = await import_plan(target, read_input(str(path)))
    assert again.done["messages_stored"] == 0 and again.done["reactions_added"] == 1
    async with opened(target) as store:
        now = {m.seq: m for m in await store.messages(general.id, limit=100)}
    assert now[edited.seq].text == "mine now"
    assert dict(now[root.seq].reactions)[THUMBS] == ("ann", "bob")
