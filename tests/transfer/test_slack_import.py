"""A Slack export imported into SQLite and PostgreSQL: authors, times,
threads, reactions and mentions as the export has them; a second import
changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hubbub.core.auth import verify_password
from hubbub.transfer import slack
from hubbub.transfer.run import import_plan, read_input
from transfer.conftest import MakeUrl
from transfer.helpers import opened, snapshot
from transfer.slack_fixture import (
    SlackExportSummary,
    build_slack_export,
    slack_export_files,
    write_zip,
)


def _expected(summary: SlackExportSummary, channel: str) -> list[dict[str, Any]]:
    created = {m.ts: m.created_at for m in summary.in_channel(channel)}
    return [
        {
            "author": m.author,
            "text": m.text,
            "created_at": m.created_at,
            "root_created_at": created[m.thread_ts] if m.thread_ts else None,
            "broadcast": m.broadcast,
            "reactions": {e: sorted(who) for e, who in m.reactions},
            "edited_at": m.edited_at,
            "pinned_by": m.pinned_by,
        }
        for m in summary.in_channel(channel)
    ]


def _stored(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    created = {m["seq"]: m["created_at"] for m in messages}
    return [
        {
            "author": m["author"],
            "text": m["text"],
            "created_at": m["created_at"],
            "root_created_at": created[m["thread_root"]] if m["thread_root"] else None,
            "broadcast": m["broadcast"],
            "reactions": m["reactions"],
            "edited_at": m["edited_at"],
            "pinned_by": m["pinned_by"],
        }
        for m in messages
    ]


async def test_a_slack_export_imports_whole_and_once(new_database: MakeUrl, tmp_path: Path) -> None:
    summary = build_slack_export(tmp_path / "slack.zip", channels=3, users=5, messages=1000)
    assert summary.path is not None
    url = await new_database()
    report = await import_plan(url, read_input(str(summary.path)))
    d = report.done
    assert (d["users_created"], d["users_deactivated"], d["channels_created"]) == (5, 1, 3)
    assert (d["messages_stored"], d["replies_stored"]) == (1000, summary.replies)
    assert (d["reactions_added"], d["pins_added"]) == (summary.reactions, summary.pins)
    assert d["messages_existing"] == 0
    async with opened(url) as store:
        snap = await snapshot(store)
        hashes = {n: (await store.get_user_by_name(n)) for n in summary.usernames}
        # Users: mapped by name, no usable password, the deleted one deactivated.
        assert set(snap["users"]) == set(summary.usernames)
        for name, (display, role, active, _status) in snap["users"].items():
            assert display == summary.display_names[name]
            assert role == "member"
            assert active == (name not in summary.deactivated)
            user = hashes[name]
            assert user is not None and user.password_hash.startswith("$argon2id$")
            assert not verify_password(user.password_hash, "")
            assert not verify_password(user.password_hash, name)
        for name, members in summary.channels.items():
            c = snap["channels"][name]
            assert (c["kind"], c["topic"], c["archived"]) == ("public", summary.topics[name], False)
            # The deleted user wrote in every channel but is a member of none.
            assert c["members"] == sorted(members)
            assert set(summary.deactivated).isdisjoint(c["members"])
            assert _stored(c["messages"]) == _expected(summary, name)
            # The log's order is the export's time order, replies after roots.
            times = [m["created_at"] for m in c["messages"]]
            assert times == sorted(times)
            roots = [m for m in c["messages"] if m["reply_count"]]
            for root in roots:
                replies = [r for r in c["messages"] if r["thread_root"] == root["seq"]]
                assert root["reply_count"] == len(replies) > 0
                assert root["last_reply_at"] == replies[-1]["created_at"]
            # Imported history counts as read.
            for member in members:
                user = hashes[member]
                assert user is not None
                cursors = {m.channel.name: m.last_read for m in await store.channels_for(user.id)}
                assert cursors[name] == c["last_seq"]
        assert snap["channels"]["general"]["default"] is True
        texts = [m["text"] for c in snap["channels"].values() for m in c["messages"]]
        assert any(t.startswith("hey @") for t in texts)  # <@U..> as @username
        assert not any("<@U" in t or "&amp;" in t for t in texts)

    again = await import_plan(url, read_input(str(summary.path)))
    d = again.done
    assert (d["users_created"], d["users_existing"]) == (0, 5)
    assert (d["channels_created"], d["channels_existing"], d["members_added"]) == (0, 3, 0)
    assert (d["messages_stored"], d["messages_existing"]) == (0, 1000)
    assert (d["reactions_added"], d["reactions_existing"]) == (0, summary.reactions)
    assert (d["pins_added"], d["pins_existing"]) == (0, summary.pins)
    async with opened(url) as store:
        assert await snapshot(store) == snap  # the same messages, and no seq taken


async def test_a_message_by_a_missing_user_is_skipped_the_rest_imported(
    new_database: MakeUrl, tmp_path: Path
) -> None:
    files, summary = slack_export_files(messages=100)
    day = sorted(n for n in files if n.startswith("general/"))[1]
    files[day] = [
        *files[day],
        {"type": "message", "user": "U404", "text": "ghost", "ts": "1700000100.000000"},
    ]
    path = write_zip(tmp_path / "slack.zip", files)
    url = await new_database()
    report = await import_plan(url, read_input(str(path)))
    assert report.done["messages_stored"] == 100
    assert report.skipped[slack.R_USER_UNKNOWN].count == 1
    assert "U404" in "\n".join(report.lines(stored=True))
    async with opened(url) as store:
        snap = await snapshot(store)
    stored = [m["text"] for c in snap["channels"].values() for m in c["messages"]]
    assert len(stored) == 100 and "ghost" not in stored
    assert sorted(stored) == sorted(m.text for m in summary.messages)


async def test_into_a_database_in_use_users_and_channels_are_reused_by_name(
    new_database: MakeUrl, tmp_path: Path
) -> None:
    files, summary = slack_export_files(messages=60)
    path = write_zip(tmp_path / "slack.zip", files)
    url = await new_database()
    async with opened(url) as store:
        ann = await store.create_user("ann", "Ann Here First", "$argon2id$hers")
        zed = await store.create_user("zed", "Zed", "$argon2id$his")
        general = await store.create_channel("general", "public", "ours", [ann.id, zed.id])
    report = await import_plan(url, read_input(str(path)))
    assert (report.done["users_existing"], report.done["users_created"]) == (1, 4)
    assert report.done["channels_existing"] == 1
    async with opened(url) as store:
        kept = await store.get_user_by_name("ann")
        assert kept is not None and kept.id == ann.id
        assert (kept.display_name, kept.password_hash) == ("Ann Here First", "$argon2id$hers")
        channel = await store.get_channel("general")
        assert channel is not None and channel.id == general.id and channel.topic == "ours"
        assert set(await store.member_names(general.id)) == {"zed", *summary.channels["general"]}
        zed_cursor = await store.membership(general.id, zed.id)
        assert zed_cursor is not None and zed_cursor.last_read == 0  # not his import
        snap = await snapshot(store)
    got = [(m["author"], m["text"]) for m in snap["channels"]["general"]["messages"]]
    assert got == [(m.author, m.text) for m in summary.in_channel("general")]
