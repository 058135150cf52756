"""The group commit on PostgreSQL: one asyncpg connection of its own, and
statements whose text never changes (lists travel as arrays and are expanded
by `unnest`), so each is prepared once per connection and a batch of any size
and shape is five round trips.

Several nodes write concurrently: the channels of a batch are locked in id
order before their `last_seq` is bumped, so two batches cannot deadlock, and
the row lock makes each channel's seqs contiguous.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from hubbub.core.models import NewMessage, StoredMessage
from hubbub.core.ports import StoreError
from hubbub.store import batch as b
from hubbub.store import files_json

# What the batch needs to know first, in one round trip: which (channel,
# author) pairs are memberships ('m'), and which (author, client_id) pairs
# were stored before ('s'). Each look-up is a LATERAL subquery with LIMIT 1, so
# it stays a unique-index probe per pair: as a plain join, the generic plan of
# this prepared statement hashes all of `users` and filters an author's every
# message by client_id, costs that grow with the tables.
LOOKUP = """
SELECT 'm', p.channel_id, p.user_id, u.username, u.display_name, u.is_bot,
       CASE WHEN c.archived_at IS NULL THEN NULL ELSE 'archived' END,
       NULL::bigint, NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::text
FROM unnest($1::int[], $2::int[]) AS p(channel_id, user_id)
CROSS JOIN LATERAL (
  SELECT 1 FROM memberships
  WHERE channel_id = p.channel_id AND user_id = p.user_id LIMIT 1
) AS m
CROSS JOIN LATERAL (
  SELECT username, display_name, is_bot FROM users WHERE id = p.user_id LIMIT 1
) AS u
CROSS JOIN LATERAL (
  SELECT archived_at FROM channels WHERE id = p.channel_id LIMIT 1
) AS c
UNION ALL
SELECT 's', m.channel_id, k.author_id, u.username, u.display_name, u.is_bot,
       c.name, m.seq, m.text, k.client_id, m.created_at, m.files, m.guest_name
FROM unnest($3::int[], $4::varchar[]) AS k(author_id, client_id)
CROSS JOIN LATERAL (
  SELECT channel_id, seq, text, created_at, files, guest_name FROM messages
  WHERE author_id = k.author_id AND client_id = k.client_id LIMIT 1
) AS m
CROSS JOIN LATERAL (
  SELECT username, display_name, is_bot FROM users WHERE id = k.author_id LIMIT 1
) AS u
CROSS JOIN LATERAL (SELECT name FROM channels WHERE id = m.channel_id LIMIT 1) AS c
"""

# Then one statement stores it, atomic by itself: lock the channels in id
# order, bump their `last_seq`, insert the messages at `base + ordinal` (the
# ordinal is the message's place among the batch's new messages of its
# channel, from 1), and move each author's read cursor forward to their last
# message of the batch (one (channel, author, ordinal) triple per pair). A CTE
# with FOR UPDATE is materialized in its ORDER BY order, and the UPDATEs only
# touch channels it already locked: a membership's cursor is only moved by the
# holder of its channel's lock, so two batches cannot deadlock on cursors.
STORE = f"""
WITH locked AS MATERIALIZED (
  SELECT id FROM channels WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE
), bumped AS (
  UPDATE channels AS c SET last_seq = c.last_seq + n.added
  FROM unnest($1::int[], $2::bigint[]) AS n(id, added)
  WHERE c.id = n.id AND c.id IN (SELECT id FROM locked)
  RETURNING c.id, c.last_seq, c.last_seq - n.added AS base, c.name
), inserted AS (
  INSERT INTO messages ({", ".join(b.COLUMNS)})
  SELECT v.channel_id, bumped.base + v.ordinal, v.author_id, v.guest_name, v.text,
         v.client_id, v.created_at, v.files
  FROM unnest($3::int[], $4::bigint[], $5::int[], $6::text[], $7::text[], $8::text[],
              $9::bigint[], $10::text[]) AS v(channel_id, ordinal, author_id, guest_name, text,
                                              client_id, created_at, files)
  JOIN bumped ON bumped.id = v.channel_id
), moved AS (
  UPDATE memberships AS m SET last_read = bumped.base + r.ordinal
  FROM unnest($11::int[], $12::int[], $13::bigint[]) AS r(channel_id, user_id, ordinal)
  JOIN bumped ON bumped.id = r.channel_id
  WHERE m.channel_id = r.channel_id AND m.user_id = r.user_id
    AND m.last_read < bumped.base + r.ordinal
)
SELECT id, last_seq, name FROM bumped
"""

ATTEMPTS = 3
CONNECT_TIMEOUT = 5.0  # seconds; sends waiting on a dead server fail with 503 instead


def dsn(url: str) -> str:
    """asyncpg takes the URL without SQLAlchemy's `+driver`."""
    scheme, sep, rest = url.partition("://")
    return scheme.partition("+")[0] + sep + rest


async def append(conn: Any, batch: Sequence[NewMessage]) -> list[b.Result]:
    """Two round trips, no explicit transaction: LOOKUP, then STORE, which is
    atomic by itself. A send stored by another node in between makes STORE
    fail on the (author, client_id) constraint, and the caller runs the batch
    again."""
    look = b.lookups(batch)
    members: dict[b.Pair, b.Names] = {}
    archived: set[b.Pair] = set()
    sent: dict[b.Key, StoredMessage] = {}
    if look.pairs or look.keys:
        pairs, keys = list(zip(*look.pairs, strict=True)), list(zip(*look.keys, strict=True))
        cids, uids = pairs or ((), ())
        aids, client_ids = keys or ((), ())
        found = await conn.fetch(LOOKUP, cids, uids, aids, client_ids)
        for row in found:
            kind, cid, uid, name, display, bot, cname, seq, text, client_id, at, files, shown = row
            if kind == "m":
                members[(cid, uid)] = (name, display, bot)
                if cname is not None:  # the channel is archived
                    archived.add((cid, uid))
            else:
                sent[(uid, client_id)] = b.sent_before(
                    cid, cname, seq, (name, display, bot), text, client_id, at, files, shown
                )
    p = b.plan(batch, members, sent, archived)
    if not p.fresh:
        results, _ = b.finish(p, members, {})
        return results
    ordinal: dict[int, int] = {}
    last_of: dict[b.Pair, int] = {}  # (channel, author) -> ordinal of their last message
    columns: list[list[Any]] = [[] for _ in range(8)]
    for x in p.fresh:
        ordinal[x.channel_id] = ordinal.get(x.channel_id, 0) + 1
        if x.author_id is not None:
            last_of[(x.channel_id, x.author_id)] = ordinal[x.channel_id]
        for column, value in zip(
            columns,
            (
                x.channel_id,
                ordinal[x.channel_id],
                x.author_id,
                x.shown_name,
                x.text,
                x.client_id,
                x.created_at,
                files_json.dumps(x.files),
            ),
            strict=True,
        ):
            column.append(value)
    ids = sorted(p.per_channel)
    reads = [[cid for cid, _ in last_of], [uid for _, uid in last_of], list(last_of.values())]
    rows = await conn.fetch(STORE, ids, [p.per_channel[i] for i in ids], *columns, *reads)
    bumped = {cid: (last, name) for cid, last, name in rows}
    results, _ = b.finish(p, members, bumped)
    return results


class PostgresAppender:
    def __init__(self, url: str) -> None:
        self.dsn = dsn(url)
        self._conn: Any = None
        # One connection: callers besides the hub's one writer take turns.
        self._lock = asyncio.Lock()

    async def append(self, batch: Sequence[NewMessage]) -> list[b.Result]:
        async with self._lock:
            return await self._append(batch)

    async def _append(self, batch: Sequence[NewMessage]) -> list[b.Result]:
        for attempt in range(ATTEMPTS):
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(
                        self.dsn,
                        timeout=CONNECT_TIMEOUT,
                        # Plan each statement once: the arrays' lengths change
                        # every batch, and re-planning these for every batch
                        # cost PostgreSQL more CPU than running them.
                        server_settings={"plan_cache_mode": "force_generic_plan"},
                    )
                return await append(self._conn, batch)
            except asyncpg.UniqueViolationError:
                # Another node stored one of these (author, client_id) pairs
                # between our look-up and our insert. Rolled back whole: run
                # again and it is found as a duplicate.
                if attempt == ATTEMPTS - 1:
                    raise StoreError("conflicting concurrent sends; try again") from None
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                await self._drop()
                raise StoreError(str(exc).splitlines()[0] if str(exc) else repr(exc)) from exc
        raise AssertionError("unreachable")

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close(timeout=2)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                conn.terminate()
