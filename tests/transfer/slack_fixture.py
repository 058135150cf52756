"""Slack export ZIPs built in the tests, in Slack's export format, with what
an import of each must give (its `SlackExportSummary`).

`build_slack_export(path, channels=3, users=5, messages=1000)` writes one: a
`users.json` (the last user deactivated, as `deleted`), a `channels.json`
(the first channel `is_general`, with a topic, a purpose and a pin), one
folder per channel of `YYYY-MM-DD.json` day files holding `messages`
messages people wrote (thread roots, replies, some also sent to the
channel, reactions, edits, mentions, channel links, links and `&amp;`
escapes) plus each member's `channel_join` system message; and fields
hubbub does not read, everywhere, as real exports have.

The expected text of each message is written here from its parts, not by
the importer's converter, so a test comparing them checks the converter.
`slack_export_files` returns the files (name -> JSON value) for a test to
change before `write_zip`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import random
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

NAMES = ["ann", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
CHANNEL_NAMES = ["general", "random", "dev", "design", "ops"]
# Slack reaction names and the emoji hubbub stores for each.
REACTIONS = {
    "thumbsup": "\U0001f44d",
    "tada": "\U0001f389",
    "heart": "\u2764\ufe0f",
    "eyes": "\U0001f440",
    "rocket": "\U0001f680",
    "joy": "\U0001f602",
}
T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


@dataclasses.dataclass(frozen=True)
class ExpectedMessage:
    channel: str  # hubbub's channel name
    ts: str
    author: str  # hubbub username
    text: str  # as hubbub stores it
    created_at: int  # ms
    thread_ts: str | None = None  # a reply: its root's ts
    broadcast: bool = False
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (emoji, usernames)
    edited_at: int | None = None
    pinned_by: str | None = None


@dataclasses.dataclass(frozen=True)
class SlackExportSummary:
    path: Path | None
    users: dict[str, str]  # Slack id -> hubbub username
    display_names: dict[str, str]  # username -> display name
    deactivated: tuple[str, ...]  # usernames
    channels: dict[str, tuple[str, ...]]  # channel -> members listed (usernames)
    channel_ids: dict[str, str]  # channel -> Slack id
    topics: dict[str, str]
    messages: tuple[ExpectedMessage, ...]  # each channel's in ts order
    system_messages: int  # channel_join etc.: skipped by the import

    @property
    def usernames(self) -> list[str]:
        return sorted(self.users.values())

    def in_channel(self, channel: str) -> list[ExpectedMessage]:
        return [m for m in self.messages if m.channel == channel]

    @property
    def replies(self) -> int:
        return sum(m.thread_ts is not None for m in self.messages)

    @property
    def reactions(self) -> int:
        return sum(len(users) for m in self.messages for _, users in m.reactions)

    @property
    def pins(self) -> int:
        return sum(m.pinned_by is not None for m in self.messages)


def _ts(seconds: int, micro: int) -> str:
    return f"{seconds}.{micro:06d}"


def _day(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d")


def slack_export_files(
    channels: int = 3, users: int = 5, messages: int = 1000, seed: int = 1
) -> tuple[dict[str, Any], SlackExportSummary]:
    """The export's files (path in the ZIP -> JSON value) and its summary."""
    assert channels >= 1 and users >= 2 and messages >= 1
    rng = random.Random(seed)
    names = [NAMES[i] if i < len(NAMES) else f"user{i}" for i in range(users)]
    ids = [f"U{1000 + i}" for i in range(users)]
    username = dict(zip(ids, names, strict=True))
    deleted = ids[-1] if users >= 3 else None  # left the team: in no channel, wrote before
    display: dict[str, str] = {}
    users_json = []
    for i, (uid, name) in enumerate(zip(ids, names, strict=True)):
        real = f"{name.title()} Example"
        shown = name.title() if i % 2 == 0 else ""  # else Slack shows the real name
        display[name] = shown or real
        users_json.append(
            {
                "id": uid,
                "team_id": "T0001",
                "name": name,
                "deleted": uid == deleted,
                "color": "9f69e7",
                "real_name": real,
                "tz": "Europe/Paris",
                "is_admin": False,
                "is_bot": False,
                "updated": T0,
                "x_field_from_the_future": {"anything": [1, 2]},
                "profile": {
                    "real_name": real,
                    "display_name": shown,
                    "email": f"{name}@example.com",
                    "image_72": "https://example.com/a.png",
                    "team": "T0001",
                },
            }
        )
    chan_names = [
        CHANNEL_NAMES[i] if i < len(CHANNEL_NAMES) else f"channel-{i}" for i in range(channels)
    ]
    chan_ids = [f"C{100 + i}" for i in range(channels)]
    active = [u for u in ids if u != deleted]
    members: dict[str, list[str]] = {}
    for i, cname in enumerate(chan_names):
        if i == 0 or len(active) <= 2:
            members[cname] = list(active)
        else:  # everyone but one, who still wrote there before leaving (the deleted user)
            members[cname] = [u for j, u in enumerate(active) if j != i % len(active)] or active
    authors = {c: members[c] + ([deleted] if deleted else []) for c in chan_names}

    day_files: dict[str, list[dict[str, Any]]] = {}
    system = 0

    def put(cname: str, seconds: int, message: dict[str, Any]) -> None:
        day_files.setdefault(f"{cname}/{_day(seconds)}.json", []).append(message)

    for cname in chan_names:  # system messages, before the rest
        for k, uid in enumerate(members[cname]):
            seconds = T0 - 86_400 + k * 60
            put(
                cname,
                seconds,
                {
                    "type": "message",
                    "subtype": "channel_join",
                    "user": uid,
                    "text": f"<@{uid}> has joined the channel",
                    "ts": _ts(seconds, 0),
                },
            )
            system += 1
    put(
        chan_names[0],
        T0 - 3600,
        {
            "type": "message",
            "subtype": "channel_topic",
            "user": ids[0],
            "text": f"<@{ids[0]}> set the channel topic: Company-wide",
            "topic": "Company-wide",
            "ts": _ts(T0 - 3600, 0),
        },
    )
    system += 1

    expected: list[ExpectedMessage] = []
    raw_of: dict[tuple[str, str], dict[str, Any]] = {}
    roots: dict[str, list[str]] = {c: [] for c in chan_names}
    replies_of: dict[tuple[str, str], list[tuple[str, str]]] = {}
    seconds = T0
    for i in range(messages):
        seconds += rng.randint(30, 4000)
        micro = rng.randint(0, 999_999)
        ts = _ts(seconds, micro)
        created = seconds * 1000 + micro // 1000
        c = rng.randrange(channels)
        cname = chan_names[c]
        author = rng.choice(authors[cname])
        raw, text = _text(i, rng, ids, username, chan_ids, chan_names)
        message: dict[str, Any] = {
            "client_msg_id": f"{i:08d}-0000-4000-8000-000000000000",
            "type": "message",
            "text": raw,
            "user": author,
            "ts": ts,
            "team": "T0001",
            "user_team": "T0001",
            "source_team": "T0001",
            "blocks": [{"type": "rich_text", "block_id": f"b{i}", "elements": []}],
            "x_field_from_the_future": True,
        }
        if i % 7 == 0:
            message["user_profile"] = {"real_name": "whoever", "name": username[author]}
        thread_ts = None
        broadcast = False
        if roots[cname] and rng.random() < 0.3:
            thread_ts = rng.choice(roots[cname][-8:])
            message["thread_ts"] = thread_ts
            message["parent_user_id"] = raw_of[(cname, thread_ts)]["user"]
            if rng.random() < 0.15:
                message["subtype"] = "thread_broadcast"
                broadcast = True
            replies_of[(cname, thread_ts)].append((author, ts))
        elif rng.random() < 0.25:
            roots[cname].append(ts)
            replies_of[(cname, ts)] = []
        reactions: list[tuple[str, tuple[str, ...]]] = []
        if rng.random() < 0.25:
            slack_reactions = []
            for rname in rng.sample(sorted(REACTIONS), rng.randint(1, 3)):
                who = rng.sample(active, rng.randint(1, min(3, len(active))))
                slack_reactions.append({"name": rname, "users": who, "count": len(who)})
                reactions.append((REACTIONS[rname], tuple(username[u] for u in who)))
            message["reactions"] = slack_reactions
        edited_at = None
        if rng.random() < 0.05:
            message["edited"] = {"user": author, "ts": _ts(seconds + 60, 0)}
            edited_at = (seconds + 60) * 1000
        raw_of[(cname, ts)] = message
        put(cname, seconds, message)
        expected.append(
            ExpectedMessage(
                cname,
                ts,
                username[author],
                text,
                created,
                thread_ts,
                broadcast,
                tuple(reactions),
                edited_at,
            )
        )
    for (cname, root_ts), replies in replies_of.items():  # the roots' thread summaries
        if replies:
            root = raw_of[(cname, root_ts)]
            root["thread_ts"] = root_ts
            root["reply_count"] = len(replies)
            root["reply_users_count"] = len({a for a, _ in replies})
            root["reply_users"] = list(dict.fromkeys(a for a, _ in replies))
            root["latest_reply"] = replies[-1][1]
            root["replies"] = [{"user": a, "ts": t} for a, t in replies]
            root["is_locked"] = False
            root["subscribed"] = False

    # A pin in the first channel: its first message.
    pins = []
    first = next((m for m in expected if m.channel == chan_names[0]), None)
    if first is not None:
        pins.append(
            {"id": first.ts, "type": "C", "created": T0 + 10**6, "user": ids[0], "owner": ids[0]}
        )
        expected[expected.index(first)] = dataclasses.replace(first, pinned_by=names[0])

    channels_json = []
    topics = {}
    for i, (cid, cname) in enumerate(zip(chan_ids, chan_names, strict=True)):
        topic = "Company-wide announcements &amp; chat" if i == 0 else f"all about {cname}"
        topics[cname] = topic.replace("&amp;", "&")
        channels_json.append(
            {
                "id": cid,
                "name": cname,
                "created": T0 - 86_400 * 30,
                "creator": members[cname][0],
                "is_archived": False,
                "is_general": i == 0,
                "members": members[cname],
                "pins": pins if i == 0 else [],
                "topic": {"value": topic, "creator": ids[0], "last_set": T0},
                "purpose": {"value": f"the {cname} channel", "creator": ids[0], "last_set": 0},
                "x_field_from_the_future": "ignored",
            }
        )
    files: dict[str, Any] = {
        "users.json": users_json,
        "channels.json": channels_json,
        "integration_logs.json": [],
    }
    for name, day in sorted(day_files.items()):
        files[name] = sorted(day, key=lambda m: tuple(int(p) for p in m["ts"].split(".")))
    summary = SlackExportSummary(
        path=None,
        users=username,
        display_names=display,
        deactivated=(username[deleted],) if deleted else (),
        channels={c: tuple(username[u] for u in members[c]) for c in chan_names},
        channel_ids=dict(zip(chan_names, chan_ids, strict=True)),
        topics=topics,
        messages=tuple(sorted(expected, key=lambda m: (chan_names.index(m.channel), m.created_at))),
        system_messages=system,
    )
    return files, summary


def _text(
    i: int,
    rng: random.Random,
    ids: list[str],
    username: Mapping[str, str],
    chan_ids: list[str],
    chan_names: list[str],
) -> tuple[str, str]:
    """A message's Slack text and the text hubbub must store for it."""
    kind = i % 8
    if kind == 1:
        uid = rng.choice(ids)
        return f"hey <@{uid}> look at {i}", f"hey @{username[uid]} look at {i}"
    if kind == 2:
        c = rng.randrange(len(chan_ids))
        return (
            f"see <#{chan_ids[c]}|{chan_names[c]}> for {i}",
            f"see #{chan_names[c]} for {i}",
        )
    if kind == 3:
        return (
            f"docs <https://example.com/{i}?a=1&amp;b=2|the docs> &amp; more",
            f"docs [the docs](https://example.com/{i}?a=1&b=2) & more",
        )
    if kind == 4:
        return f"if a &lt; b &amp;&amp; b &gt; c ({i})", f"if a < b && b > c ({i})"
    if kind == 5:
        return f"*bold* _it_ ~gone~ `code` {i}", f"*bold* _it_ ~gone~ `code` {i}"
    if kind == 6:
        return (
            f"<!here> standup {i} <https://example.com/x>",
            f"@here standup {i} https://example.com/x",
        )
    if kind == 7:
        return f"line one {i}\n&gt; quoted\n• item", f"line one {i}\n> quoted\n• item"
    return f"message {i} about things", f"message {i} about things"


def write_zip(path: Path, files: Mapping[str, Any], *, root: str = "") -> Path:
    """Zip the files (JSON values, or bytes as they are) under `root`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, value in files.items():
            data = value if isinstance(value, bytes) else json.dumps(value, indent=1).encode()
            zf.writestr(root + name, data)
    return path


def build_slack_export(
    path: Path, channels: int = 3, users: int = 5, messages: int = 1000, seed: int = 1
) -> SlackExportSummary:
    """Write a Slack export ZIP at `path`; what importing it must give."""
    files, summary = slack_export_files(channels, users, messages, seed)
    write_zip(path, files)
    return dataclasses.replace(summary, path=path)
