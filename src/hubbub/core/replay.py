"""A channel's log as clients receive it when they catch up: what a resume
replays, what a node fills a gap with, what a Lambda pushes for a pusher it
outwaited.

The log has a place per message sent and per change made (`LogEntry`), each
read with its message's state now. A client catching up needs each message
once: a message sent after its cursor comes whole, at its own seq, in its
state now (so its later changes have nothing to add); one it already has comes
as `message_updated`, at the place of its last change. The places left
empty are named as `skipped`, so that `seq` still rises by one from frame to
frame and a client can tell a real hole from a compacted one.
"""

from __future__ import annotations

from collections.abc import Sequence

from hubbub.core import events
from hubbub.core.envelope import Envelope, wrap
from hubbub.core.models import LogEntry, StoredMessage


def message_envelope(m: StoredMessage) -> Envelope:
    return wrap(events.message_event(m), seq=m.seq)


def update_envelope(seq: int, m: StoredMessage) -> Envelope:
    return wrap(events.message_updated(seq, m), seq=seq)


def compact(since: int, entries: Sequence[LogEntry]) -> list[Envelope]:
    """The events for `entries` (the log after `since`, in order), each
    message once, at the place described above."""
    last_place = {e.message.seq: e.seq for e in entries}
    out = []
    for e in entries:
        m = e.message
        if not e.is_change:
            out.append(message_envelope(m))
        elif m.seq > since or last_place[m.seq] != e.seq:
            continue
        else:
            out.append(update_envelope(e.seq, m))
    return out


def skipped(channel: str, first: int, last: int) -> Envelope:
    return wrap(events.skipped(channel, first, last), seq=last)


def fill(
    channel: str, since: int, envs: Sequence[Envelope], until: int | None = None
) -> list[Envelope]:
    """`envs` (events with ascending seqs after `since`) with the places
    between them named `skipped`, and those after the last up to `until`
    (places folded into earlier frames), so the frames end where the log does."""
    out: list[Envelope] = []
    expect = since + 1
    for e in envs:
        if e.seq > expect:
            out.append(skipped(channel, expect, e.seq - 1))
        out.append(e)
        expect = e.seq + 1
    if until is not None and until >= expect:
        out.append(skipped(channel, expect, until))
    return out


def catch_up(since: int, entries: Sequence[LogEntry]) -> list[Envelope]:
    """`compact`, then `fill`: what a client catching up from `since` gets."""
    if not entries:
        return []
    return fill(entries[0].message.channel, since, compact(since, entries), entries[-1].seq)
