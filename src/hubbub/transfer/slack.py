"""A Slack export ZIP, read and checked whole into a `Plan` before anything
is stored.

Slack's export: `users.json`, `channels.json` (public channels), optionally
`groups.json` (private ones), `mpims.json` (group DMs) and `dms.json` (DMs),
and one folder per conversation (a channel's name; a DM's id) of
`YYYY-MM-DD.json` files, each a list of that day's messages. Fields this
reader does not use are ignored: real exports have many, and more each year.

Refused whole (`Refused`, nothing stored): a ZIP that cannot be read (truncated,
a failing checksum), no `users.json` or no list of conversations, a file that
is not UTF-8 JSON or not a list. Skipped one by one, each counted in the
report with examples: what cannot be stored as hubbub data (system messages,
messages by users that `users.json` lacks, custom-emoji reactions...).
"""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from hubbub.core import mrkdwn
from hubbub.core.models import ChannelKind, Role
from hubbub.protocol.limits import Limits
from hubbub.protocol.rules import MAX_DISPLAY_NAME, MAX_DM_MEMBERS, MAX_REACTIONS, MAX_TOPIC
from hubbub.transfer.names import channel_name_for, dm_name, emoji_for, username_for
from hubbub.transfer.records import (
    ChannelPlan,
    MessagePlan,
    Plan,
    UserPlan,
    derived_client_id,
)
from hubbub.transfer.report import Refused, Report

MAX_FILE_BYTES = 512 * 1024 * 1024  # one JSON file of the archive, uncompressed
DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
TS = re.compile(r"^(\d{1,12})(?:\.(\d{1,6}))?$")
CONVERSATION_FILES: tuple[tuple[str, str], ...] = (
    ("channels.json", "public"),
    ("groups.json", "private"),
    ("mpims.json", "mpim"),
    ("dms.json", "dm"),
)
# Messages people wrote. Every other subtype is a record of something that
# happened (channel_join, channel_topic, pinned_item...): hubbub keeps those
# as state (members, topics, pins), not as messages.
CONTENT_SUBTYPES = frozenset(
    {"", "thread_broadcast", "reply_broadcast", "me_message", "file_share"}
)
BROADCAST_SUBTYPES = frozenset({"thread_broadcast", "reply_broadcast"})

# The report's reasons, one wording each (tests and docs quote them).
R_BAD_USER = "users.json entries without an id and a name"
R_USER_TWICE = "users listed twice in users.json (the first kept)"
R_BAD_CHANNEL = "conversations without an id (and a name) in their list"
R_CHANNEL_TWICE = "conversations listed twice (the first kept)"
R_MEMBER_UNKNOWN = "channel members not in users.json (left out)"
R_DM_UNKNOWN = "DMs and group DMs with a member not in users.json (with their messages)"
R_DM_TOO_BIG = f"group DMs of more than {MAX_DM_MEMBERS} people (with their messages)"
R_FOLDER = "folders that match no conversation in the export's lists (with their messages)"
R_NOT_MESSAGE = "entries of day files that are not messages"
R_BAD_TS = "messages without a valid ts"
R_TS_TWICE = "messages listed twice (the same ts in one conversation)"
R_BOT = "bot messages (bot_message: no user account to store them under)"
R_SYSTEM = "system messages ({subtype})"
R_NO_USER = "messages without a user"
R_USER_UNKNOWN = "messages by a user not in users.json"
R_EMPTY = "messages with no text (only attachments or blocks)"
R_TOO_LONG = "messages longer than {limit} characters: cut to that (hubbub's limit)"
R_FILES = "files attached to messages (an export links to them, not holds them): named in the text"
R_MENTION_UNKNOWN = "mentions of a user not in users.json: kept as written"
R_EMOJI = "reactions with an emoji hubbub does not know (custom emoji)"
R_REACTOR_UNKNOWN = "reactions by a user not in users.json"
R_REACTOR_UNLISTED = "reactions the export counts but names no user for"
R_TOO_MANY_REACTIONS = f"reactions beyond {MAX_REACTIONS} different emoji on one message"
R_ORPHAN = "thread replies whose thread's first message is not stored: stored in the channel"
R_PIN_MISSING = "pins of messages not in the export"
R_PINNER_UNKNOWN = "pins by a user not in users.json"


def _archive_error(label: str, exc: BaseException | str) -> Refused:
    return Refused(
        f"{label} is not a readable ZIP archive (truncated or corrupt: {exc}); "
        "refused whole, nothing was stored"
    )


class _Archive:
    """The archive's files, relative to the folder holding users.json (an
    export zipped again sits one folder down)."""

    def __init__(self, source: str | Path | IO[bytes], label: str) -> None:
        self.label = label
        try:
            self.zf = zipfile.ZipFile(source)
        except FileNotFoundError as exc:
            raise Refused(f"cannot read {label}: {exc.strerror}") from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise _archive_error(label, exc) from None
        try:
            self._index()
        except BaseException:
            self.zf.close()
            raise

    def _index(self) -> None:
        label = self.label
        try:
            bad = self.zf.testzip()  # every member's checksum, before any is used
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError) as exc:
            raise _archive_error(label, exc) from None
        except (NotImplementedError, ValueError) as exc:  # a compression we can't read
            raise _archive_error(label, exc) from None
        if bad is not None:
            raise _archive_error(label, f"{bad} fails its checksum")
        names = [
            i.filename
            for i in self.zf.infolist()
            if not i.is_dir() and not i.filename.startswith("__MACOSX/")
        ]
        found = sorted(
            (n for n in names if n == "users.json" or n.endswith("/users.json")),
            key=lambda n: n.count("/"),
        )
        if not found:
            raise Refused(
                f"{label} is not a Slack export: it has no users.json; nothing was stored"
            )
        root = found[0][: -len("users.json")]
        self.files = {n[len(root) :]: n for n in names if n.startswith(root)}
        self.days: dict[str, list[str]] = {}  # folder -> its day files, by date
        for rel in sorted(self.files):
            folder, _, rest = rel.partition("/")
            if DAY_FILE.fullmatch(rest):
                self.days.setdefault(folder, []).append(rel)

    def close(self) -> None:
        self.zf.close()

    def json(self, rel: str) -> Any:
        info = self.zf.getinfo(self.files[rel])
        if info.file_size > MAX_FILE_BYTES:
            raise Refused(f"{rel} in {self.label} is larger than {MAX_FILE_BYTES} bytes")
        try:
            data = self.zf.read(info)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError) as exc:
            raise _archive_error(self.label, exc) from None
        try:
            return json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise Refused(
                f"{rel} in {self.label} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                "refused whole, nothing was stored"
            ) from None
        except json.JSONDecodeError as exc:
            raise Refused(
                f"invalid JSON in {rel} (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                f"{self.label} is refused whole, nothing was stored"
            ) from None

    def list(self, rel: str, what: str) -> list[Any]:
        data = self.json(rel)
        if not isinstance(data, list):
            raise Refused(
                f"{rel} in {self.label} is not a list of {what} (found a JSON "
                f"{type(data).__name__}); refused whole, nothing was stored"
            )
        return data


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _ts(value: object) -> tuple[int, int] | None:
    """A Slack ts (`"1700000000.000100"`) as (seconds, microseconds)."""
    if not isinstance(value, str):
        return None
    m = TS.fullmatch(value)
    if m is None:
        return None
    return int(m.group(1)), int((m.group(2) or "0").ljust(6, "0"))


def _ms(ts: tuple[int, int]) -> int:
    return ts[0] * 1000 + ts[1] // 1000


def _role(user: Mapping[str, Any]) -> Role:
    if user.get("is_primary_owner") is True or user.get("is_owner") is True:
        return "owner"
    if user.get("is_admin") is True:
        return "admin"
    if user.get("is_restricted") is True or user.get("is_ultra_restricted") is True:
        return "guest"
    return "member"


def _display_name(user: Mapping[str, Any]) -> str:
    profile = _dict(user.get("profile"))
    for value in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:MAX_DISPLAY_NAME]
    return ""


@dataclasses.dataclass
class _Conversation:
    slack_id: str
    folder: str
    name: str  # hubbub's
    kind: ChannelKind
    entry: Mapping[str, Any]
    members: list[str]  # usernames


@dataclasses.dataclass
class _Message:
    ts: tuple[int, int]
    plan: MessagePlan


class _Reader:
    def __init__(self, archive: _Archive, max_chars: int) -> None:
        self.archive = archive
        self.max_chars = max_chars
        self.report = Report(f"Slack export {archive.label}")
        self.usernames: dict[str, str] = {}  # Slack id -> hubbub username
        self.channel_names: dict[str, str] = {}  # Slack id -> hubbub name
        self.skipped_folders: set[str] = set()  # of conversations skipped whole

    def read(self) -> Plan:
        users = self.users()
        conversations = self.conversations()
        channels = [self.channel(c) for c in conversations]
        self.unmatched_files({c.folder for c in conversations})
        plan = Plan(users, channels, self.report)
        plan.count()
        return plan

    # users ---------------------------------------------------------------

    def users(self) -> list[UserPlan]:
        by_id: dict[str, Mapping[str, Any]] = {}
        for i, u in enumerate(self.archive.list("users.json", "users"), 1):
            if not isinstance(u, dict) or not _str(u.get("id")) or not _str(u.get("name")):
                self.report.skip(R_BAD_USER, f"entry {i}")
                continue
            if u["id"] in by_id:
                self.report.skip(R_USER_TWICE, u["id"])
                continue
            by_id[u["id"]] = u
        taken: set[str] = set()
        renamed: list[str] = []
        out = []
        for uid in sorted(by_id):  # by id: the same names for the same export, always
            u = by_id[uid]
            name = username_for(u["name"], f"user-{uid}", taken)
            taken.add(name)
            self.usernames[uid] = name
            if name != u["name"]:
                renamed.append(f"{u['name']} -> {name}")
            out.append(
                UserPlan(
                    name,
                    _display_name(u) or name,
                    role=_role(u),
                    active=u.get("deleted") is not True,
                )
            )
        if renamed:
            shown = ", ".join(renamed[:5]) + (", ..." if len(renamed) > 5 else "")
            self.report.note(
                f"{len(renamed)} Slack usernames changed to fit hubbub's rules: {shown}"
            )
        return out

    # conversations -----------------------------------------------------------

    def conversations(self) -> list[_Conversation]:
        present = [(f, k) for f, k in CONVERSATION_FILES if f in self.archive.files]
        if not present:
            raise Refused(
                f"{self.archive.label} is not a Slack export: it has no channels.json "
                "(nor groups.json, mpims.json, dms.json); nothing was stored"
            )
        out: list[_Conversation] = []
        seen: set[str] = set()
        taken: set[str] = set()
        for rel, kind in present:
            for i, entry in enumerate(self.archive.list(rel, "conversations"), 1):
                conv = self.conversation(rel, kind, i, entry, seen, taken)
                if conv is not None:
                    out.append(conv)
        return out

    def conversation(
        self,
        rel: str,
        kind: str,
        index: int,
        entry: object,
        seen: set[str],
        taken: set[str],
    ) -> _Conversation | None:
        e = _dict(entry)
        cid, name = _str(e.get("id")), _str(e.get("name"))
        if cid is None or (kind != "dm" and name is None):
            self.report.skip(R_BAD_CHANNEL, f"{rel} entry {index}")
            return None
        if cid in seen:
            self.report.skip(R_CHANNEL_TWICE, f"{rel}: {cid}")
            return None
        seen.add(cid)
        raw = e.get("members")
        ids = [m for m in raw if isinstance(m, str)] if isinstance(raw, list) else []
        unknown = [m for m in ids if m not in self.usernames]
        members = list(dict.fromkeys(self.usernames[m] for m in ids if m in self.usernames))
        if kind in ("public", "private"):
            assert name is not None
            hname = channel_name_for(name, f"channel-{cid}", taken)
            taken.add(hname)
            self.channel_names[cid] = hname
            for m in unknown:
                self.report.skip(R_MEMBER_UNKNOWN, f"#{hname}: {m}")
            return _Conversation(
                cid, name, hname, "private" if kind == "private" else "public", e, members
            )
        folder = name if kind == "mpim" and name else cid
        reason = None
        if unknown or not members:
            reason = R_DM_UNKNOWN
        elif len(members) > MAX_DM_MEMBERS:
            reason = R_DM_TOO_BIG
        elif dm_name(members) in taken:
            reason = R_CHANNEL_TWICE
        if reason is not None:
            self.report.skip(reason, f"{rel}: {folder}")
            self.skipped_folders.add(folder)
            return None
        hname = dm_name(members)
        taken.add(hname)
        return _Conversation(cid, folder, hname, "dm", e, members)

    def unmatched_files(self, folders: set[str]) -> None:
        known = {f for f, _ in CONVERSATION_FILES} | {"users.json"}
        ignored: list[str] = []
        unmatched: set[str] = set()
        for rel in self.archive.files:
            folder, slash, rest = rel.partition("/")
            if not slash:
                if rel not in known:
                    ignored.append(rel)
            elif folder not in folders and folder not in self.skipped_folders and "/" not in rest:
                unmatched.add(folder)
        for folder in sorted(unmatched):
            self.report.skip(R_FOLDER, folder + "/")
        if ignored:
            self.report.note(
                f"files not read (hubbub has no use for them): {', '.join(sorted(ignored))}"
            )

    # one conversation's messages ----------------------------------------------

    def channel(self, conv: _Conversation) -> ChannelPlan:
        e = conv.entry
        found: dict[str, _Message] = {}
        for rel in self.archive.days.get(conv.folder, ()):
            for entry in self.archive.list(rel, "messages"):
                self.message(conv, rel, entry, found)
        messages = self.threaded(conv, sorted(found.values(), key=lambda m: m.ts))
        messages = self.pinned(conv, messages)
        creator = self.usernames.get(str(e.get("creator")))
        public = conv.kind != "dm"
        members = conv.members
        if public and not isinstance(e.get("members"), list):
            # Some exports list no members: those who wrote there are.
            members = list(dict.fromkeys(m.author for m in messages if m.author))
            self.report.note(
                f"#{conv.name} lists no members: its {len(members)} authors are made members"
            )
        return ChannelPlan(
            conv.name,
            conv.kind,
            topic=self.value(e.get("topic")) if public else "",
            purpose=self.value(e.get("purpose")) if public else "",
            archived=e.get("is_archived") is True,
            default=e.get("is_general") is True,
            members=tuple(members),
            admins=(creator,) if public and creator in members else (),
            messages=tuple(messages),
        )

    def value(self, field: object) -> str:
        """A channel's topic or purpose (`{"value": ...}`, Slack's text),
        cut to hubbub's limit."""
        value = _dict(field).get("value")
        if not isinstance(value, str):
            return ""
        text = mrkdwn.convert(value, self.usernames, self.channel_names).text
        return " ".join(text.split())[:MAX_TOPIC]

    def where(self, conv: _Conversation, rel: str, ts: object = None) -> str:
        place = ("#" + conv.name if conv.kind != "dm" else conv.name) + " " + rel.rsplit("/", 1)[1]
        return place if ts is None else f"{place} ts {ts}"

    def message(
        self, conv: _Conversation, rel: str, entry: object, found: dict[str, _Message]
    ) -> None:
        report = self.report
        if not isinstance(entry, dict) or entry.get("type", "message") != "message":
            report.skip(R_NOT_MESSAGE, self.where(conv, rel))
            return
        raw_ts = entry.get("ts")
        ts = _ts(raw_ts)
        if ts is None:
            report.skip(R_BAD_TS, self.where(conv, rel))
            return
        key = f"{ts[0]}.{ts[1]:06d}"
        where = self.where(conv, rel, key)
        subtype = entry.get("subtype") or ""
        if not isinstance(subtype, str) or subtype not in CONTENT_SUBTYPES:
            if subtype == "bot_message":
                report.skip(R_BOT, where)
            else:
                report.skip(R_SYSTEM.format(subtype=subtype), where)
            return
        uid = entry.get("user")
        if not _str(uid):
            report.skip(R_NO_USER, where)
            return
        assert isinstance(uid, str)
        author = self.usernames.get(uid)
        if author is None:
            report.skip(R_USER_UNKNOWN, f"{where} (user {uid})")
            return
        if key in found:
            report.skip(R_TS_TWICE, where)
            return
        text = self.text(entry, where)
        if text is None:
            return
        edited = _ts(_dict(entry.get("edited")).get("ts"))
        created = _ms(ts)
        thread_ts = _ts(entry.get("thread_ts"))
        root = f"{thread_ts[0]}.{thread_ts[1]:06d}" if thread_ts and thread_ts != ts else None
        found[key] = _Message(
            ts,
            MessagePlan(
                key=key,
                author=author,
                text=text,
                created_at=created,
                client_id=derived_client_id("slack", conv.slack_id, key),
                edited_at=max(_ms(edited), created) if edited else None,
                reactions=self.reactions(entry.get("reactions"), where),
                thread_root=root,
                broadcast=root is not None and subtype in BROADCAST_SUBTYPES,
            ),
        )

    def text(self, entry: Mapping[str, Any], where: str) -> str | None:
        raw = entry.get("text")
        converted = mrkdwn.convert(
            raw if isinstance(raw, str) else "", self.usernames, self.channel_names
        )
        for uid in converted.unknown_users:
            self.report.skip(R_MENTION_UNKNOWN, f"{where} (<@{uid}>)")
        text = converted.text.strip()
        files = entry.get("files")
        if isinstance(files, list):
            names = [
                _str(f.get("name")) or _str(f.get("title")) or "a file"
                for f in files
                if isinstance(f, dict)
            ]
            for name in names:
                self.report.skip(R_FILES, f"{where} ({name})")
            text = "\n".join([text, *(f"[file not imported: {n}]" for n in names)]).strip()
        if not text:
            self.report.skip(R_EMPTY, where)
            return None
        if len(text) > self.max_chars:
            self.report.skip(R_TOO_LONG.format(limit=self.max_chars), where)
            text = text[: self.max_chars - 1] + "\u2026"
        return text

    def reactions(self, raw: object, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if not isinstance(raw, list):
            return ()
        out: dict[str, list[str]] = {}
        for r in raw:
            r = _dict(r)
            name = _str(r.get("name"))
            users = [u for u in r.get("users") or () if isinstance(u, str)]
            count = r.get("count")
            if isinstance(count, int) and count > len(users):
                self.report.skip(R_REACTOR_UNLISTED, where, count - len(users))
            if name is None:
                continue
            emoji = emoji_for(name)
            if emoji is None:
                self.report.skip(R_EMOJI, f":{name}:", len(users))
                continue
            if emoji not in out and len(out) >= MAX_REACTIONS:
                self.report.skip(R_TOO_MANY_REACTIONS, where, len(users))
                continue
            who = out.setdefault(emoji, [])
            for uid in users:
                username = self.usernames.get(uid)
                if username is None:
                    self.report.skip(R_REACTOR_UNKNOWN, f"{where} (user {uid})")
                elif username not in who:
                    who.append(username)
        return tuple((e, tuple(who)) for e, who in out.items() if who)

    def threaded(self, conv: _Conversation, messages: list[_Message]) -> list[MessagePlan]:
        """Each reply after its root; a reply whose root is not stored goes
        in the channel (a reply to a reply: to that one's root)."""
        roots: dict[str, str] = {}  # key -> its thread's root key
        out = []
        for m in messages:
            p = m.plan
            if p.thread_root is not None:
                root = roots.get(p.thread_root)
                if root is None:
                    self.report.skip(
                        R_ORPHAN,
                        f"{conv.name if conv.kind == 'dm' else '#' + conv.name} ts {p.key}",
                    )
                    p = dataclasses.replace(p, thread_root=None, broadcast=False)
                else:
                    p = dataclasses.replace(p, thread_root=root)
            roots[p.key] = p.thread_root or p.key
            out.append(p)
        return out

    def pinned(self, conv: _Conversation, messages: list[MessagePlan]) -> list[MessagePlan]:
        pins = conv.entry.get("pins")
        if not isinstance(pins, list) or not pins:
            return messages
        index = {m.key: i for i, m in enumerate(messages)}
        for pin in pins:
            pin = _dict(pin)
            ts = _ts(pin.get("id"))
            key = f"{ts[0]}.{ts[1]:06d}" if ts else None
            if key is None or key not in index:
                self.report.skip(R_PIN_MISSING, f"#{conv.name}: {pin.get('id')}")
                continue
            by = self.usernames.get(str(pin.get("user")))
            if by is None:
                self.report.skip(R_PINNER_UNKNOWN, f"#{conv.name}: {pin.get('user')}")
                continue
            m = messages[index[key]]
            created = pin.get("created")
            at = created * 1000 if isinstance(created, int) and created > 0 else m.created_at
            messages[index[key]] = dataclasses.replace(m, pinned_by=by, pinned_at=at)
        return messages


def read_slack_export(
    source: str | Path | IO[bytes],
    label: str | None = None,
    *,
    max_message_chars: int = Limits().max_message_chars,
) -> Plan:
    """Read and check the whole export; raise Refused if it cannot be used."""
    archive = _Archive(source, label or str(source))
    try:
        return _Reader(archive, max_message_chars).read()
    finally:
        archive.close()
