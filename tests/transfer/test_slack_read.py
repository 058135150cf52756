"""Reading a Slack export into a plan, before anything is stored: the
mapping rules, what is skipped and reported, what is refused whole."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from hubbub.core.mrkdwn import convert
from hubbub.transfer import slack
from hubbub.transfer.names import channel_name_for, emoji_for, username_for
from hubbub.transfer.records import ChannelPlan, Plan
from hubbub.transfer.report import Refused
from hubbub.transfer.run import read_input
from hubbub.transfer.slack import read_slack_export
from transfer.slack_fixture import slack_export_files, write_zip

# --- the mapping rules ---------------------------------------------------------------


def test_text_references_and_escapes() -> None:
    users = {"U1": "ann", "U2": "bob.b"}
    channels = {"C1": "general"}
    cases = {
        "hi <@U1> and <@U2|bob>": "hi @ann and @bob.b",
        "see <#C1|general> and <#C1>": "see #general and #general",
        "<#C9|elsewhere>": "#elsewhere",
        "<!here> <!channel> <!everyone|everyone>": "@here @channel @everyone",
        "<https://x.io/a?b=1&amp;c=2|the &lt;docs&gt;>": "[the <docs>](https://x.io/a?b=1&c=2)",
        "<https://x.io>": "https://x.io",
        "<https://x.io|https://x.io>": "https://x.io",
        "<mailto:a@b.io|a@b.io>": "a@b.io",
        "<!subteam^S1|@devs> <!date^1700000000^{date}|Nov 14>": "@devs Nov 14",
        "a &lt;b&gt; &amp;amp; c": "a <b> &amp; c",
        "*bold* _it_ ~no~ `x` ```y```": "*bold* _it_ ~no~ `x` ```y```",
        "&gt; quote\n• item": "> quote\n• item",
    }
    for raw, want in cases.items():
        assert convert(raw, users, channels).text == want, raw


def test_text_mentions_of_unknown_users_are_kept_and_listed() -> None:
    out = convert("ping <@U9> and <@U8|carl>", {"U1": "ann"}, {})
    assert out.text == "ping @U9 and @carl"
    assert out.unknown_users == ["U9", "U8"]


def test_usernames() -> None:
    assert username_for("ann", "user-U1", set()) == "ann"
    assert username_for("Zoë Smith", "user-U1", set()) == "zoe_smith"
    assert username_for("ann.", "user-U1", set()) == "ann"  # `@ann.` must mention ann
    assert username_for("--x--y", "user-U1", set()) == "x--y"
    assert username_for("a", "user-U1", set()) == "user-u1"
    assert username_for("日本", "user-U7", set()) == "user-u7"
    assert username_for("here", "user-U1", set()) == "here-2"  # reserved: @here
    assert username_for("ann", "user-U1", {"ann", "ann-2"}) == "ann-3"
    long = username_for("x" * 40, "user-U1", set())
    assert long == "x" * 32
    assert username_for("x" * 40, "user-U1", {long}) == "x" * 30 + "-2"


def test_channel_names() -> None:
    assert channel_name_for("general", "channel-C1", set()) == "general"
    assert channel_name_for("Général Chat!", "channel-C1", set()) == "general-chat"
    assert channel_name_for("a.b", "channel-C1", set()) == "a-b"
    assert channel_name_for("日本", "channel-C1", set()) == "channel-c1"
    assert channel_name_for("dev", "channel-C1", {"dev"}) == "dev-2"


def test_reactions_map_as_rest_does() -> None:
    assert emoji_for("thumbsup") == "\U0001f44d"
    assert emoji_for("+1") == "\U0001f44d"
    assert emoji_for("heart") == "\u2764\ufe0f"
    assert emoji_for("+1::skin-tone-3") == "\U0001f44d\U0001f3fc"
    assert emoji_for("partyparrot") is None  # a workspace's custom emoji


# --- a whole export --------------------------------------------------------------------


def _read(tmp_path: Path, files: dict[str, Any], name: str = "export.zip") -> Plan:
    return read_slack_export(write_zip(tmp_path / name, files))


def _by_name(plan: Plan) -> dict[str, ChannelPlan]:
    return {c.name: c for c in plan.channels}


def test_the_fixture_reads_as_its_summary_says(tmp_path: Path) -> None:
    files, summary = slack_export_files(messages=1000)
    plan = _read(tmp_path, files)
    assert sorted(u.username for u in plan.users) == summary.usernames
    assert {u.username for u in plan.users if not u.active} == set(summary.deactivated)
    assert {u.username: u.display_name for u in plan.users} == summary.display_names
    channels = _by_name(plan)
    assert set(channels) == set(summary.channels)
    for name, members in summary.channels.items():
        c = channels[name]
        assert c.members == members
        assert c.topic == summary.topics[name]
        assert c.kind == "public"
        got = [
            (m.key, m.author, m.text, m.created_at, m.thread_root, m.broadcast, m.edited_at)
            for m in c.messages
        ]
        want = [
            (e.ts, e.author, e.text, e.created_at, e.thread_ts, e.broadcast, e.edited_at)
            for e in summary.in_channel(name)
        ]
        assert got == want
        assert [m.reactions for m in c.messages] == [e.reactions for e in summary.in_channel(name)]
        assert [m.pinned_by for m in c.messages] == [e.pinned_by for e in summary.in_channel(name)]
    assert channels["general"].default
    f = plan.report.found
    assert (f["messages"], f["replies"], f["reactions"]) == (
        1000,
        summary.replies,
        summary.reactions,
    )
    assert summary.replies > 100 and summary.reactions > 100  # threads and reactions, really
    assert sum(e.count for r, e in plan.report.skipped.items() if "system" in r) == (
        summary.system_messages
    )
    # Client ids: deterministic, at most 64 characters, unique.
    ids = [m.client_id for c in plan.channels for m in c.messages]
    assert all(i and len(i) <= 64 for i in ids) and len(set(ids)) == len(ids)
    assert ids[0] == f"slack:{summary.channel_ids['general']}:{channels['general'].messages[0].key}"


def test_unknown_fields_and_files_are_ignored(tmp_path: Path) -> None:
    files, _ = slack_export_files(messages=120)
    plain = _read(tmp_path, files, "plain.zip")
    more = copy.deepcopy(files)
    for entry in [*more["users.json"], *more["channels.json"]]:
        entry["x_another_new_field"] = {"nested": [None]}
    for name, day in more.items():
        if name.count("/") == 1:
            for m in day:
                m["x_another_new_field"] = 1
                m["attachments"] = [{"fallback": "an unfurl"}]
    more["canvases.json"] = [{"id": "F1"}]
    more["org_users.json"] = {"whatever": True}
    more["__uploads/F1/picture.png"] = b"\x89PNG"
    more["general/attachments/notes.txt"] = b"text"
    noisy = _read(tmp_path, more, "noisy.zip")
    assert noisy.users == plain.users and noisy.channels == plain.channels
    assert noisy.report.skipped.keys() == plain.report.skipped.keys()
    assert any("canvases.json" in n and "org_users.json" in n for n in noisy.report.notes)


def test_an_export_zipped_inside_a_folder_reads_the_same(tmp_path: Path) -> None:
    files, _ = slack_export_files(messages=50)
    flat = read_slack_export(write_zip(tmp_path / "a.zip", files))
    nested = read_slack_export(write_zip(tmp_path / "b.zip", files, root="My Workspace Export/"))
    assert nested.channels == flat.channels and nested.users == flat.users


def _add_message(files: dict[str, Any], channel: str, message: dict[str, Any]) -> None:
    day = sorted(n for n in files if n.startswith(channel + "/"))[0]
    files[day] = [*files[day], message]


def test_a_message_by_a_missing_user_is_skipped_and_reported(tmp_path: Path) -> None:
    files, _ = slack_export_files(messages=100)
    _add_message(
        files,
        "general",
        {"type": "message", "user": "U999", "text": "who am I", "ts": "1700000001.000200"},
    )
    plan = _read(tmp_path, files)
    assert plan.report.found["messages"] == 100  # the rest is all there
    assert all(m.text != "who am I" for c in plan.channels for m in c.messages)
    skip = plan.report.skipped[slack.R_USER_UNKNOWN]
    assert skip.count == 1
    assert "U999" in skip.examples[0] and "general" in skip.examples[0]
    assert "1700000001.000200" in skip.examples[0]
    lines = "\n".join(plan.report.lines(stored=False))
    assert "1 messages by a user not in users.json" in lines


def test_each_kind_of_skip_is_reported(tmp_path: Path) -> None:
    files, _ = slack_export_files(messages=60)
    ann, bob = "U1000", "U1001"
    extra = [
        {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B1",
            "text": "beep",
            "ts": "1700000002.000001",
        },
        {"type": "message", "text": "no user", "ts": "1700000003.000001"},
        {
            "type": "message",
            "user": ann,
            "text": "",
            "ts": "1700000004.000001",
            "attachments": [{"fallback": "x"}],
        },
        {"type": "message", "user": ann, "text": "bad ts", "ts": "yesterday"},
        {
            "type": "message",
            "user": ann,
            "text": "custom",
            "ts": "1700000005.000001",
            "reactions": [
                {"name": "partyparrot", "users": [bob], "count": 1},
                {"name": "tada", "users": [bob, "U999"], "count": 5},
            ],
        },
        {
            "type": "message",
            "user": ann,
            "text": "the report",
            "ts": "1700000006.000001",
            "files": [{"id": "F1", "name": "report.pdf", "url_private": "https://files/x"}],
        },
        {
            "type": "message",
            "user": ann,
            "text": "lost reply",
            "ts": "1700000007.000001",
            "thread_ts": "1600000000.000000",
        },
        {"type": "message", "user": ann, "text": "x" * 10_050, "ts": "1700000008.000001"},
        {"type": "message", "user": ann, "text": "hi <@U777>", "ts": "1700000009.000001"},
        "not even an object",
    ]
    for m in extra:
        _add_message(files, "general", m)  # type: ignore[arg-type]
    files["channels.json"][0]["members"].append("U888")
    files["channels.json"][0]["pins"].append({"id": "1500000000.000000", "user": ann})
    files["orphan-folder/2023-11-15.json"] = [
        {"type": "message", "user": ann, "text": "x", "ts": "1700000000.000000"}
    ]
    plan = _read(tmp_path, files)
    r = plan.report
    assert r.skipped_count(slack.R_BOT) == 1
    assert r.skipped_count(slack.R_NO_USER) == 1
    assert r.skipped_count(slack.R_EMPTY) == 1
    assert r.skipped_count(slack.R_BAD_TS) == 1
    assert r.skipped_count(slack.R_EMOJI) == 1
    assert r.skipped[slack.R_EMOJI].examples == [":partyparrot:"]
    assert r.skipped_count(slack.R_REACTOR_UNKNOWN) == 1
    assert r.skipped_count(slack.R_REACTOR_UNLISTED) == 3  # count 5, two listed
    assert (
        r.skipped_count(slack.R_FILES) == 1 and "report.pdf" in r.skipped[slack.R_FILES].examples[0]
    )
    assert r.skipped_count(slack.R_ORPHAN) == 1
    assert r.skipped_count(slack.R_TOO_LONG.format(limit=10_000)) == 1
    assert r.skipped_count(slack.R_MENTION_UNKNOWN) == 1
    assert r.skipped_count(slack.R_NOT_MESSAGE) == 1
    assert r.skipped_count(slack.R_MEMBER_UNKNOWN) == 1
    assert r.skipped_count(slack.R_PIN_MISSING) == 1
    assert r.skipped[slack.R_FOLDER].examples == ["orphan-folder/"]
    general = {m.key: m for m in _by_name(plan)["general"].messages}
    assert general["1700000005.000001"].reactions == (("\U0001f389", ("bob",)),)
    assert general["1700000006.000001"].text == "the report\n[file not imported: report.pdf]"
    lost = general["1700000007.000001"]
    assert lost.thread_root is None and lost.text == "lost reply"  # kept, in the channel
    assert len(general["1700000008.000001"].text) == 10_000
    assert general["1700000009.000001"].text == "hi @U777"
    assert "U888" not in " ".join(_by_name(plan)["general"].members)
    text = "\n".join(r.lines(stored=False))
    for reason in r.skipped:
        assert reason in text


def test_dms_and_group_dms_become_hubbub_dms(tmp_path: Path) -> None:
    files, _ = slack_export_files(messages=20)
    files["dms.json"] = [
        {"id": "D1", "created": 1, "members": ["U1000", "U1001"]},
        {"id": "D2", "created": 1, "members": ["U1000", "U404"]},
    ]
    files["mpims.json"] = [
        {
            "id": "G1",
            "name": "mpdm-ann--bob--carol-1",
            "members": ["U1002", "U1000", "U1001"],
            "topic": {"value": ""},
            "purpose": {"value": ""},
        },
    ]
    files["groups.json"] = [
        {
            "id": "G2",
            "name": "secret",
            "members": ["U1000"],
            "creator": "U1000",
            "topic": {"value": "shh"},
            "purpose": {"value": ""},
            "is_archived": True,
        },
    ]
    files["D1/2023-11-15.json"] = [
        {"type": "message", "user": "U1001", "text": "psst", "ts": "1700050000.000100"}
    ]
    files["D2/2023-11-15.json"] = [
        {"type": "message", "user": "U1000", "text": "hello?", "ts": "1700050000.000100"}
    ]
    files["mpdm-ann--bob--carol-1/2023-11-15.json"] = [
        {"type": "message", "user": "U1002", "text": "all three", "ts": "1700050001.000100"}
    ]
    files["secret/2023-11-15.json"] = [
        {"type": "message", "user": "U1000", "text": "hidden", "ts": "1700050002.000100"}
    ]
    channels = _by_name(plan := _read(tmp_path, files))
    assert channels["dm:ann,bob"].kind == "dm"
    assert [m.text for m in channels["dm:ann,bob"].messages] == ["psst"]
    assert channels["dm:ann,bob,carol"].members == ("carol", "ann", "bob")
    assert [m.text for m in channels["dm:ann,bob,carol"].messages] == ["all three"]
    secret = channels["secret"]
    assert (secret.kind, secret.topic, secret.archived, secret.admins) == (
        "private",
        "shh",
        True,
        ("ann",),
    )
    assert plan.report.skipped[slack.R_DM_UNKNOWN].examples == ["dms.json: D2"]
    assert slack.R_FOLDER not in plan.report.skipped  # D2's folder is part of that skip


# --- refused whole -----------------------------------------------------------------------


def test_a_truncated_zip_is_refused(tmp_path: Path) -> None:
    files, _ = slack_export_files(messages=100)
    data = write_zip(tmp_path / "ok.zip", files).read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        bad = tmp_path / f"cut{cut}.zip"
        bad.write_bytes(data[:cut])
        with pytest.raises(Refused, match="not a readable ZIP archive"):
            read_input(str(bad))


def test_a_corrupt_member_is_refused(tmp_path: Path) -> None:
    files, _ = slack_export_files(messages=100)
    path = write_zip(tmp_path / "ok.zip", files)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("channels.json")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + 5
    data[start : start + 8] = bytes(b ^ 0xFF for b in data[start : start + 8])
    path.write_bytes(bytes(data))
    with pytest.raises(Refused, match="not a readable ZIP archive"):
        read_slack_export(path)


def test_invalid_json_in_a_day_file_is_refused_naming_it(tmp_path: Path) -> None:
    files, _ = slack_export_files(messages=100)
    day = sorted(n for n in files if n.startswith("random/"))[-1]
    files[day] = json.dumps(files[day]).encode()[:-40]
    with pytest.raises(Refused) as err:
        _read(tmp_path, files)
    assert f"invalid JSON in {day} (line 1" in str(err.value)
    assert "nothing was stored" in str(err.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.pop("users.json"), "it has no users.json"),
        (lambda f: f.update({"users.json": {"users": []}}), "users.json .* is not a list of users"),
        (lambda f: [f.pop(n) for n in ("channels.json",)], "it has no channels.json"),
        (lambda f: f.update({"general/2023-11-15.json": {"a": 1}}), "is not a list of messages"),
        (lambda f: f.update({"users.json": b"\xff\xfe[]"}), "is not UTF-8"),
    ],
)
def test_exports_that_are_not_usable_are_refused(tmp_path: Path, change: Any, message: str) -> None:
    files, _ = slack_export_files(messages=30)
    change(files)
    with pytest.raises(Refused, match=message):
        _read(tmp_path, files)


def test_neither_a_zip_nor_json_lines_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(Refused, match="neither a ZIP archive"):
        read_input(str(path))
    with pytest.raises(Refused, match="cannot read"):
        read_input(str(tmp_path / "missing.zip"))


def test_a_channel_without_a_members_list_gets_its_authors(tmp_path: Path) -> None:
    files, summary = slack_export_files(messages=80)
    del files["channels.json"][1]["members"]
    plan = _read(tmp_path, files)
    random = _by_name(plan)["random"]
    authors = list(dict.fromkeys(e.author for e in summary.in_channel("random")))
    assert random.members == tuple(authors) and len(authors) > 1
    assert any("#random lists no members" in n for n in plan.report.notes)
