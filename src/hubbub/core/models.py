"""Plain records passed between the core and the stores."""

from __future__ import annotations

import dataclasses
from typing import Literal

ChannelKind = Literal["public", "private", "dm"]


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    password_hash: str = dataclasses.field(repr=False, default="")


@dataclasses.dataclass(frozen=True, slots=True)
class Channel:
    id: int
    name: str
    kind: ChannelKind
    topic: str
    last_seq: int
    member_count: int = 0
    # Only DMs list their members in the channel's public description.
    members: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Membership:
    channel: Channel
    last_read: int


@dataclasses.dataclass(frozen=True, slots=True)
class NewMessage:
    channel_id: int
    author_id: int | None  # None for an S1 tutorial guest
    guest_name: str | None
    text: str
    client_id: str | None
    created_at: int  # ms since the epoch


@dataclasses.dataclass(frozen=True, slots=True)
class StoredMessage:
    channel_id: int
    channel: str
    seq: int
    author: str | None  # username; None for a guest
    author_name: str  # display name, or the guest's self-chosen name
    text: str
    client_id: str | None
    created_at: int
    duplicate: bool = False  # an earlier send with the same client_id
    # Its state: changed since it was sent (see `change_message`).
    edited_at: int | None = None
    deleted: bool = False  # a tombstone: its text is gone from storage
    # (emoji, usernames who reacted with it), by first reaction.
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class AppendRejected:
    """A message in a batch that could not be stored (the sender is not a member)."""

    reason: str


# --- changes to stored messages (the channel's log, see Store.change_message) ----------


@dataclasses.dataclass(frozen=True, slots=True)
class Edit:
    text: str
    at: int  # ms since the epoch


@dataclasses.dataclass(frozen=True, slots=True)
class Delete:
    at: int


@dataclasses.dataclass(frozen=True, slots=True)
class React:
    """Add (or, with `add` false, take back) the actor's reaction `emoji`
    (Unicode, as core.reactions normalises it)."""

    emoji: str
    add: bool
    at: int


MessageChange = Edit | Delete | React


@dataclasses.dataclass(frozen=True, slots=True)
class Changed:
    """A message after a change: `seq` is the change's place in the channel's
    log, or None when the change changed nothing (the same text again, a
    second delete): nothing new in the log, nothing to publish."""

    message: StoredMessage
    seq: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class ChangeRefused:
    reason: Literal["not_found", "forbidden", "deleted", "too_many_reactions"]


@dataclasses.dataclass(frozen=True, slots=True)
class LogEntry:
    """One place in a channel's log: a message sent there (`seq` is the
    message's), or a change to `message` (`seq` is the change's). Either way
    with the message's state now."""

    seq: int
    message: StoredMessage

    @property
    def is_change(self) -> bool:
        return self.seq != self.message.seq
