"""The records both importers read their input into (a `Plan`, validated
before anything is stored), and the hubbub JSON-lines format's names.

The JSON-lines format (docs/import-export.md): one JSON object per line, each
with a `type`: first a `workspace` header (`format`, `version`), then `user`,
`channel`, `membership` and `message` records. Readers ignore fields they do
not know, so later versions may add some.
"""

from __future__ import annotations

import dataclasses
import hashlib

from hubbub.core.models import ChannelKind, Role, Status
from hubbub.transfer.report import Report

FORMAT = "hubbub"
VERSION = 1
MAX_CLIENT_ID = 64  # the store's column

# What an imported message holds while its import is not finished: an
# edited or deleted message is stored with this text, then edited to its
# text (which sets its edit time) or deleted. A message still holding it is
# finished by the next run of the same import.
PENDING_TEXT = "\u29d7 import in progress: run the same `hubbub import` again to finish it"


@dataclasses.dataclass(frozen=True, slots=True)
class UserPlan:
    username: str
    display_name: str
    role: Role = "member"
    active: bool = True
    status: Status | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class MessagePlan:
    """One message to store. `key` names it within its channel in the input
    (a Slack `ts`, a hubbub seq); `thread_root` is the key of its thread's
    root, which comes before it in the channel's list."""

    key: str
    author: str | None  # a username; None: an S1 tutorial guest
    text: str
    created_at: int  # ms since the epoch
    client_id: str | None  # None for a guest
    guest_name: str | None = None
    edited_at: int | None = None
    deleted: bool = False
    # (emoji as core.reactions normalises it, usernames), by first reaction.
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    pinned_by: str | None = None
    pinned_at: int | None = None
    thread_root: str | None = None
    broadcast: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class ChannelPlan:
    name: str
    kind: ChannelKind
    topic: str = ""
    purpose: str = ""
    archived: bool = False
    default: bool = False
    members: tuple[str, ...] = ()  # usernames
    admins: tuple[str, ...] = ()  # among the members
    messages: tuple[MessagePlan, ...] = ()  # in order: each root before its replies


@dataclasses.dataclass(slots=True)
class Plan:
    users: list[UserPlan]
    channels: list[ChannelPlan]
    report: Report

    def count(self) -> None:
        """Fill in the report's `found` counts from the plan."""
        f = self.report.found
        f["users"] = len(self.users)
        f["channels"] = len(self.channels)
        for c in self.channels:
            f["messages"] += len(c.messages)
            for m in c.messages:
                f["replies"] += m.thread_root is not None
                f["reactions"] += sum(len(users) for _, users in m.reactions)
                f["pins"] += m.pinned_by is not None


def derived_client_id(prefix: str, *parts: str) -> str:
    """A deterministic client id (at most MAX_CLIENT_ID characters) naming
    a message of an input, so importing it again finds it stored."""
    plain = ":".join((prefix, *parts))
    if len(plain) <= MAX_CLIENT_ID:
        return plain
    return f"{prefix}:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]
