"""The group commit's decisions, without I/O: which messages of a batch are
stored, which are duplicates and which are refused, the seqs and rows of the
stored ones, and the read cursors they move. Each SQL dialect (append_sqlite,
append_pg) only runs the queries: members and earlier sends in, `last_seq`
bumped, rows out, authors' cursors forward.

Your own message is never unread: in the transaction that stores it, its
author's read cursor in that channel moves forward to it (never back), one
update per (channel, author) pair per batch, whichever client sent it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from hubbub.core.models import ARCHIVED, NOT_A_MEMBER, AppendRejected, NewMessage, StoredMessage
from hubbub.store import files_json

Result = StoredMessage | AppendRejected
Pair = tuple[int, int]  # (channel_id, user_id)
Key = tuple[int, str]  # (author_id, client_id)
Names = tuple[str, str, bool]  # (username, display name, a bot)
Cursor = tuple[int, int, int]  # (channel_id, user_id, seq): last_read = max(last_read, seq)


@dataclasses.dataclass(slots=True)
class Lookups:
    """What a batch needs from the database before deciding."""

    pairs: list[Pair]  # (channel, author) pairs whose membership to check
    keys: list[Key]  # (author, client_id) pairs sent before, maybe


def lookups(batch: Sequence[NewMessage]) -> Lookups:
    pairs = {(x.channel_id, x.author_id) for x in batch if x.author_id is not None}
    keys = {
        (x.author_id, x.client_id)
        for x in batch
        if x.author_id is not None and x.client_id is not None
    }
    return Lookups(sorted(pairs), sorted(keys))


def sent_before(
    channel_id: int,
    channel: str,
    seq: int,
    names: Names,
    text: str,
    client_id: str,
    created_at: int,
    files: str | None,
    shown_name: str | None,
) -> StoredMessage:
    """A message found by its (author, client_id), as a duplicate send's
    answer; `files` as stored (JSON)."""
    return StoredMessage(
        channel_id,
        channel,
        seq,
        names[0],
        names[1],
        text,
        client_id,
        created_at,
        duplicate=True,
        author_bot=names[2],
        files=files_json.loads(files),
        shown_name=shown_name,
    )


@dataclasses.dataclass(slots=True)
class Plan:
    fresh: list[NewMessage]  # to store, in batch order
    per_channel: dict[int, int]  # channel id -> how many of `fresh`
    # Per batch position: a stored message (duplicate), a refusal, an index
    # into `fresh`, or -1 - index for a retry of fresh[index] in this batch.
    out: list[Result | int]


def plan(
    batch: Sequence[NewMessage],
    members: Mapping[Pair, Names],
    sent: Mapping[Key, StoredMessage],
    archived: Collection[Pair] = (),
) -> Plan:
    """Decide each message's fate, in order. `members` holds the checked pairs
    that are memberships (with the author's names), `archived` those of them
    in archived channels (read-only: refused); `sent` the earlier sends found
    by (author, client_id), marked duplicate (a retry of a message stored
    before the channel was archived still gets its ack)."""
    fresh: list[NewMessage] = []
    out: list[Result | int] = []
    per_channel: dict[int, int] = {}
    pending: dict[Key, int] = {}
    for x in batch:
        if x.author_id is not None:
            key = (x.author_id, x.client_id or "")
            if x.client_id is not None and key in sent:
                out.append(sent[key])
                continue
            if x.client_id is not None and key in pending:
                out.append(-1 - pending[key])
                continue
            if (x.channel_id, x.author_id) not in members:
                out.append(NOT_A_MEMBER)
                continue
            if (x.channel_id, x.author_id) in archived:
                out.append(ARCHIVED)
                continue
            if x.client_id is not None:
                pending[key] = len(fresh)
        per_channel[x.channel_id] = per_channel.get(x.channel_id, 0) + 1
        out.append(len(fresh))
        fresh.append(x)
    return Plan(fresh, per_channel, out)


COLUMNS = (
    "channel_id",
    "seq",
    "author_id",
    "guest_name",
    "text",
    "client_id",
    "created_at",
    "files",  # files_json: None (NULL) for a message without files
)


def finish(
    p: Plan,
    members: Mapping[Pair, Names],
    bumped: Mapping[int, tuple[int, str]],
) -> tuple[list[Result], list[tuple[Any, ...]]]:
    """Seqs from the bumped counters (channel id -> (last_seq after the bump,
    name)): the results in batch order, and the rows to insert (COLUMNS)."""
    next_seq = {cid: last - p.per_channel[cid] + 1 for cid, (last, _) in bumped.items()}
    stored: list[StoredMessage] = []
    rows: list[tuple[Any, ...]] = []
    for x in p.fresh:
        cid = x.channel_id
        seq = next_seq[cid]
        next_seq[cid] = seq + 1
        if x.author_id is None:
            author, author_name, bot = None, x.shown_name or "guest", False
        else:
            author, author_name, bot = members[(cid, x.author_id)]
        stored.append(
            StoredMessage(
                cid,
                bumped[cid][1],
                seq,
                author,
                author_name,
                x.text,
                x.client_id,
                x.created_at,
                files=x.files,
                shown_name=None if x.author_id is None else x.shown_name,
                author_bot=bot,
            )
        )
        files = files_json.dumps(x.files)
        rows.append((cid, seq, x.author_id, x.shown_name, x.text, x.client_id, x.created_at, files))
    return resolve(p, stored), rows


def cursors(rows: Sequence[tuple[Any, ...]]) -> list[Cursor]:
    """The read cursors a batch's rows (COLUMNS, in seq order per channel)
    move: each author's last message in each channel. Guests have none."""
    last: dict[Pair, int] = {}
    for cid, seq, author_id, *_ in rows:
        if author_id is not None:
            last[(cid, author_id)] = seq
    return [(cid, uid, seq) for (cid, uid), seq in last.items()]


def resolve(p: Plan, stored: Sequence[Result]) -> list[Result]:
    """The results in batch order, given what became of each of `p.fresh`."""
    results: list[Result] = []
    for item in p.out:
        if not isinstance(item, int):
            results.append(item)
            continue
        got = stored[item] if item >= 0 else stored[-1 - item]
        if item < 0 and isinstance(got, StoredMessage):
            got = dataclasses.replace(got, duplicate=True)  # a retry inside the batch
        results.append(got)
    return results
