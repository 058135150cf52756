"""A channel's log as every backend reads it: the messages sent after a seq,
and the changes made after it (each naming the message it changed), merged in
seq order, each entry with its message's state now."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TypeVar

from hubbub.core.models import (
    ChangeRefused,
    Delete,
    Edit,
    LogEntry,
    MessageChange,
    Pin,
    React,
    StoredMessage,
)
from hubbub.protocol.rules import MAX_REACTIONS

K = TypeVar("K")


def merge(
    sent: Sequence[StoredMessage],
    changes: Sequence[tuple[int, int]],
    states: Mapping[int, StoredMessage],
    limit: int,
) -> list[LogEntry]:
    """`sent`: messages after the seq, `changes`: (change seq, message seq)
    pairs after it, both the first `limit` by seq; `states`: the changed
    messages by seq."""
    entries = [LogEntry(m.seq, m) for m in sent]
    entries += [LogEntry(at, states[target]) for at, target in changes if target in states]
    entries.sort(key=lambda e: e.seq)
    return entries[:limit]


def judge(
    change: MessageChange,
    actor: K,
    author: K | None,
    deleted: bool,
    text: str,
    reactions: Mapping[str, Collection[K]],
    pinned: bool = False,
) -> ChangeRefused | bool:
    """Whether `actor` may make `change` to a message (by `author`, deleted or
    not, with this text, these reactions (emoji -> who), pinned or not). True:
    it changes the message; False: it changes nothing (a retry, a second
    delete); or the refusal. Every backend decides by this, inside its
    transaction. Reactions and pins are anyone's (the caller checks that the
    actor is in the channel), as in Slack; edits and deletes the author's
    (a delete also an admin's: `moderated`, the caller checked the role)."""
    if isinstance(change, Pin):
        if change.add and deleted:
            return ChangeRefused("deleted")
        return change.add != pinned
    if isinstance(change, React):
        if deleted:
            return ChangeRefused("deleted")
        users = reactions.get(change.emoji, ())
        if not change.add:
            return actor in users
        if actor in users:
            return False
        if not users and len(reactions) >= MAX_REACTIONS:
            return ChangeRefused("too_many_reactions")
        return True
    moderated = isinstance(change, Delete) and change.moderated
    if not moderated and (author is None or author != actor):
        return ChangeRefused("forbidden")
    if deleted:
        return ChangeRefused("deleted") if isinstance(change, Edit) else False
    return not (isinstance(change, Edit) and change.text == text)


def kind(change: MessageChange) -> str:
    """The change's kind, as the log records it."""
    if isinstance(change, React):
        return "react" if change.add else "unreact"
    if isinstance(change, Pin):
        return "pin" if change.add else "unpin"
    return "edit" if isinstance(change, Edit) else "delete"


def grouped(rows: Sequence[tuple[str, str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(emoji, username) pairs, oldest first, as a message's reactions: per
    emoji, by its first reaction, who reacted, in order."""
    out: dict[str, list[str]] = {}
    for e, user in rows:
        out.setdefault(e, []).append(user)
    return tuple((e, tuple(users)) for e, users in out.items())
