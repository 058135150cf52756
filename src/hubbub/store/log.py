"""A channel's log as every backend reads it: the messages sent after a seq,
and the changes made after it (each naming the message it changed), merged in
seq order, each entry with its message's state now."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hubbub.core.models import LogEntry, StoredMessage


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
