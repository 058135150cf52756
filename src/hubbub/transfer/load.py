"""A hubbub JSON-lines export (transfer.export), read and checked whole into
a `Plan` before anything is stored.

Refused whole (`Refused`, nothing stored): no `workspace` header first, a
newer format version, a line that is not a JSON object, a record whose field
has the wrong type. Skipped one by one and reported: records that refer to
users or channels the file lacks, names hubbub's rules refuse, emoji it does
not know, records of a type this version does not know (a newer writer's).
Fields a record has beyond these are ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

import orjson

from hubbub.core.auth import RESERVED_USERNAMES, USERNAME_RE
from hubbub.core.models import ROLES, ChannelKind, Role, Status
from hubbub.protocol.limits import Limits
from hubbub.protocol.rules import CHANNEL_RE, MAX_DISPLAY_NAME, MAX_REACTIONS, MAX_TOPIC
from hubbub.transfer.names import normalized_emoji
from hubbub.transfer.records import (
    FORMAT,
    MAX_CLIENT_ID,
    VERSION,
    ChannelPlan,
    MessagePlan,
    Plan,
    UserPlan,
)
from hubbub.transfer.report import Refused, Report

KINDS: tuple[ChannelKind, ...] = ("public", "private", "dm")

R_UNKNOWN_TYPE = "records of a type this hubbub does not know (from a newer version?)"
R_BAD_USERNAME = "users whose username hubbub's rules refuse"
R_USER_TWICE = "users listed twice (the first kept)"
R_BAD_CHANNEL = "channels whose name hubbub's rules refuse"
R_CHANNEL_TWICE = "channels listed twice (the first kept)"
R_MEMBERSHIP = "memberships of a user or channel the file does not list"
R_MESSAGE_CHANNEL = "messages in a channel the file does not list"
R_MESSAGE_TWICE = "messages listed twice (the same channel and seq; the first kept)"
R_AUTHOR_UNKNOWN = "messages by a user the file does not list"
R_GUEST_DELETED = "deleted guest messages (nothing left to store)"
R_EMPTY = "messages with no text that are not deleted"
R_EMOJI = "reactions with an emoji hubbub does not know"
R_REACTOR_UNKNOWN = "reactions by a user the file does not list"
R_TOO_MANY_REACTIONS = f"reactions beyond {MAX_REACTIONS} different emoji on one message"
R_PINNER_UNKNOWN = "pins by a user the file does not list (message kept, unpinned)"
R_ORPHAN = "thread replies whose thread's first message is not in the file: stored in the channel"

T = TypeVar("T")


class _Line:
    """One record, its fields read with their types checked."""

    def __init__(self, number: int, record: Mapping[str, Any], label: str) -> None:
        self.number = number
        self.record = record
        self.label = label

    def refuse(self, field: str, expected: str) -> Refused:
        kind = self.record.get("type")
        return Refused(
            f"{self.label} line {self.number}: {kind} record: {field!r} must be {expected}; "
            "refused whole, nothing was stored"
        )

    def get(self, field: str, check: Callable[[object], bool], expected: str, default: T) -> T:
        value = self.record.get(field, default)
        if value is not default and not check(value):
            raise self.refuse(field, expected)
        return value  # type: ignore[no-any-return]

    def string(self, field: str, *, required: bool = True) -> str:
        if required and field not in self.record:
            raise self.refuse(field, "a string")
        return self.get(field, lambda v: isinstance(v, str), "a string", "")

    def opt_string(self, field: str) -> str | None:
        return self.get(field, lambda v: v is None or isinstance(v, str), "a string or null", None)

    def integer(self, field: str) -> int:
        if field not in self.record:
            raise self.refuse(field, "an integer")
        return self.get(field, _is_int, "an integer", 0)

    def opt_integer(self, field: str) -> int | None:
        return self.get(field, lambda v: v is None or _is_int(v), "an integer or null", None)

    def flag(self, field: str, default: bool = False) -> bool:
        return self.get(field, lambda v: isinstance(v, bool), "true or false", default)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _lines(data: bytes, label: str) -> Iterable[tuple[int, Mapping[str, Any]]]:
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Refused(
                f"{label} line {number} is not valid JSON ({exc}); refused whole, "
                "nothing was stored"
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("type"), str):
            raise Refused(
                f"{label} line {number} is not a record (a JSON object with a 'type'); "
                "refused whole, nothing was stored"
            )
        yield number, record


@dataclasses.dataclass
class _Channel:
    plan: ChannelPlan
    members: dict[str, bool]  # username -> channel admin
    messages: dict[int, tuple[_Line, MessagePlan]]


def read_jsonl(data: bytes, label: str, *, max_message_chars: int | None = None) -> Plan:
    """Read and check the whole file; raise Refused if it cannot be used."""
    limit = max_message_chars or Limits().max_message_chars
    report = Report(f"hubbub export {label}")
    lines = iter(_lines(data.removeprefix(b"\xef\xbb\xbf"), label))
    first = next(lines, None)
    if first is None or first[1].get("type") != "workspace" or first[1].get("format") != FORMAT:
        raise Refused(
            f"{label} is not a hubbub export: its first line is not a "
            f'{{"type": "workspace", "format": "{FORMAT}", ...}} header; nothing was stored'
        )
    version = first[1].get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise Refused(
            f"{label} is a hubbub export of format version {version!r}; this hubbub reads "
            f"version {VERSION} and older. Nothing was stored"
        )
    users: dict[str, UserPlan] = {}
    channels: dict[str, _Channel] = {}
    memberships: list[tuple[_Line, str, str, bool]] = []
    messages: list[_Line] = []
    for number, record in lines:
        line = _Line(number, record, label)
        kind = record["type"]
        if kind == "user":
            user = _user(line)
            if not USERNAME_RE.fullmatch(user.username) or user.username in RESERVED_USERNAMES:
                report.skip(R_BAD_USERNAME, f"line {number}: {user.username!r}")
            elif user.username in users:
                report.skip(R_USER_TWICE, f"line {number}: {user.username}")
            else:
                users[user.username] = user
        elif kind == "channel":
            channel = _channel(line)
            if channel.kind != "dm" and not CHANNEL_RE.fullmatch(channel.name):
                report.skip(R_BAD_CHANNEL, f"line {number}: {channel.name!r}")
            elif channel.name in channels:
                report.skip(R_CHANNEL_TWICE, f"line {number}: {channel.name}")
            else:
                channels[channel.name] = _Channel(channel, {}, {})
        elif kind == "membership":
            memberships.append(
                (line, line.string("channel"), line.string("user"), line.flag("admin"))
            )
        elif kind == "message":
            messages.append(line)
        elif kind == "workspace":
            raise Refused(f"{label} line {number}: a second workspace header; nothing was stored")
        else:
            report.skip(R_UNKNOWN_TYPE, f"line {number}: {kind!r}")
    for line, cname, username, admin in memberships:
        found = channels.get(cname)
        if found is None or username not in users:
            report.skip(R_MEMBERSHIP, f"line {line.number}: {username} in {cname}")
        else:
            found.members[username] = admin
    for line in messages:
        _message(line, channels, users, report, limit)
    plan = Plan(list(users.values()), [_finish(c, report) for c in channels.values()], report)
    plan.count()
    return plan


def _user(line: _Line) -> UserPlan:
    role = cast(Role, line.get("role", lambda v: v in ROLES, f"one of {', '.join(ROLES)}", ""))
    status = line.get("status", lambda v: v is None or isinstance(v, dict), "an object", None)
    parsed: Status | None = None
    if status:
        sub = _Line(line.number, {"type": "user status", **status}, line.label)
        parsed = Status(
            sub.string("emoji", required=False),
            sub.string("text", required=False),
            sub.opt_integer("until"),
        )
    username = line.string("username")
    return UserPlan(
        username,
        line.string("display_name", required=False)[:MAX_DISPLAY_NAME] or username,
        role=role or "member",
        active=line.flag("active", True),
        status=parsed if parsed is not None and (parsed.emoji or parsed.text) else None,
    )


def _channel(line: _Line) -> ChannelPlan:
    kind = cast(ChannelKind, line.get("kind", lambda v: v in KINDS, "public, private or dm", ""))
    if not kind:
        raise line.refuse("kind", "public, private or dm")
    return ChannelPlan(
        line.string("name"),
        kind,
        topic=line.string("topic", required=False)[:MAX_TOPIC],
        purpose=line.string("purpose", required=False)[:MAX_TOPIC],
        archived=line.flag("archived"),
        default=line.flag("default"),
    )


def _reactions(
    line: _Line, users: Mapping[str, UserPlan], report: Report | None
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The message's reactions (with `report` None: only checked)."""
    raw: list[Any] = line.get("reactions", lambda v: isinstance(v, list), "a list", [])
    out: dict[str, list[str]] = {}
    where = f"line {line.number}"
    for item in raw:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("emoji"), str)
            or not isinstance(item.get("users"), list)
            or not all(isinstance(u, str) for u in item["users"])
        ):
            raise line.refuse("reactions", 'a list of {"emoji": "...", "users": ["..."]}')
        if report is None:
            continue
        emoji = normalized_emoji(item["emoji"])
        if emoji is None:
            report.skip(R_EMOJI, f"{where}: {item['emoji'][:20]!r}", max(1, len(item["users"])))
            continue
        if emoji not in out and len(out) >= MAX_REACTIONS:
            report.skip(R_TOO_MANY_REACTIONS, where, len(item["users"]))
            continue
        who = out.setdefault(emoji, [])
        for username in item["users"]:
            if username not in users:
                report.skip(R_REACTOR_UNKNOWN, f"{where}: {username}")
            elif username not in who:
                who.append(username)
    return tuple((e, tuple(who)) for e, who in out.items() if who)


def _message(
    line: _Line,
    channels: Mapping[str, _Channel],
    users: Mapping[str, UserPlan],
    report: Report,
    limit: int,
) -> None:
    cname, seq = line.string("channel"), line.integer("seq")
    author, guest = line.opt_string("author"), line.opt_string("guest_name")
    text, created = line.string("text", required=False), line.integer("created_at")
    client_id, edited = line.opt_string("client_id"), line.opt_integer("edited_at")
    deleted, root = line.flag("deleted"), line.opt_integer("thread_root")
    pinned_by, pinned_at = line.opt_string("pinned_by"), line.opt_integer("pinned_at")
    broadcast = line.flag("broadcast")
    _reactions(line, users, None)  # a bad one refuses the file, skipped message or not
    where = f"line {line.number}"
    channel = channels.get(cname)
    if channel is None:
        report.skip(R_MESSAGE_CHANNEL, f"{where}: {cname}")
        return
    if seq in channel.messages:
        report.skip(R_MESSAGE_TWICE, f"{where}: {cname} {seq}")
        return
    if author is None:
        if deleted:
            report.skip(R_GUEST_DELETED, where)
            return
        guest, client_id = (guest or "guest")[:MAX_DISPLAY_NAME], None
        root = None  # guests never reply in threads
    elif author not in users:
        report.skip(R_AUTHOR_UNKNOWN, f"{where}: {author}")
        return
    else:
        guest = None
        if not client_id or len(client_id) > MAX_CLIENT_ID:
            client_id = None  # found again by its author, time and text (transfer.apply)
    reactions = _reactions(line, users, report)
    if deleted:  # a tombstone: no text, reactions, pin or edit time are kept
        text, reactions, pinned_by, edited = "", (), None, None
    elif not text.strip():
        report.skip(R_EMPTY, where)
        return
    text = text[:limit]
    if pinned_by is not None and pinned_by not in users:
        report.skip(R_PINNER_UNKNOWN, f"{where}: {pinned_by}")
        pinned_by = None
    channel.messages[seq] = (
        line,
        MessagePlan(
            key=str(seq),
            author=author,
            text=text,
            created_at=created,
            client_id=client_id,
            guest_name=guest,
            edited_at=edited if author is not None else None,
            deleted=deleted,
            reactions=reactions,
            pinned_by=pinned_by,
            pinned_at=(pinned_at or created) if pinned_by else None,
            thread_root=None if root is None else str(root),
            broadcast=broadcast and root is not None,
        ),
    )


def _finish(channel: _Channel, report: Report) -> ChannelPlan:
    """The channel's messages by seq, each reply after its root."""
    roots: dict[str, str] = {}
    out = []
    for seq in sorted(channel.messages):
        line, m = channel.messages[seq]
        if m.thread_root is not None:
            root = roots.get(m.thread_root)
            if root is None:
                report.skip(R_ORPHAN, f"line {line.number}")
                m = dataclasses.replace(m, thread_root=None, broadcast=False)
            else:
                m = dataclasses.replace(m, thread_root=root)
        roots[m.key] = m.thread_root or m.key
        out.append(m)
    admins = tuple(u for u, admin in channel.members.items() if admin)
    return dataclasses.replace(
        channel.plan, members=tuple(channel.members), admins=admins, messages=tuple(out)
    )
