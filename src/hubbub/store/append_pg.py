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
from hubbub.store import batch as b
from hubbub.store.base import StoreError

MEMBERS = """
SELECT m.channel_id, m.user_id, u.username, u.display_name
FROM unnest($1::int[], $2::int[]) AS p(channel_id, user_id)
JOIN memberships AS m ON m.channel_id = p.channel_id AND m.user_id = p.user_id
JOIN users AS u ON u.id = m.user_id
"""

SENT = """
SELECT m.channel_id, c.name, m.seq, u.username, u.display_name, m.text,
       m.author_id, m.client_id, m.created_at
FROM unnest($1::int[], $2::text[]) AS k(author_id, client_id)
JOIN messages AS m ON m.author_id = k.author_id AND m.client_id = k.client_id
JOIN channels AS c ON c.id = m.channel_id
JOIN users AS u ON u.id = m.author_id
"""

LOCK = "SELECT id FROM channels WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE"

BUMP = """
UPDATE channels AS c SET last_seq = c.last_seq + n.added
FROM unnest($1::int[], $2::bigint[]) AS n(id, added)
WHERE c.id = n.id
RETURNING c.id, c.last_seq, c.name
"""

INSERT = f"""
INSERT INTO messages ({", ".join(b.COLUMNS)})
SELECT * FROM unnest($1::int[], $2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[],
                     $7::bigint[])
"""

ATTEMPTS = 3
CONNECT_TIMEOUT = 5.0  # seconds; sends waiting on a dead server fail with 503 instead


def dsn(url: str) -> str:
    """asyncpg takes the URL without SQLAlchemy's `+driver`."""
    scheme, sep, rest = url.partition("://")
    return scheme.partition("+")[0] + sep + rest


async def append(conn: Any, batch: Sequence[NewMessage]) -> list[b.Result]:
    look = b.lookups(batch)
    async with conn.transaction():
        members: dict[b.Pair, b.Names] = {}
        if look.pairs:
            cids, uids = zip(*look.pairs, strict=True)
            for r in await conn.fetch(MEMBERS, cids, uids):
                members[(r[0], r[1])] = (r[2], r[3])
        sent: dict[b.Key, StoredMessage] = {}
        if look.keys:
            aids, client_ids = zip(*look.keys, strict=True)
            for cid, cname, seq, name, display, text, aid, client_id, at in await conn.fetch(
                SENT, aids, client_ids
            ):
                sent[(aid, client_id)] = StoredMessage(
                    cid, cname, seq, name, display, text, client_id, at, duplicate=True
                )
        p = b.plan(batch, members, sent)
        bumped: dict[int, tuple[int, str]] = {}
        if p.per_channel:
            ids = sorted(p.per_channel)
            await conn.execute(LOCK, ids)
            for cid, last, name in await conn.fetch(BUMP, ids, [p.per_channel[i] for i in ids]):
                bumped[cid] = (last, name)
        results, rows = b.finish(p, members, bumped)
        if rows:
            await conn.execute(INSERT, *zip(*rows, strict=True))
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
                    self._conn = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT)
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
