"""The group commit on SQLite: one connection of its own, used by one thread,
so a whole batch (six statements in one transaction) costs one hop to that
thread instead of one per statement, and the statements' text never changes,
so the driver's statement cache prepares each once.

Lists travel as one JSON parameter, expanded by `json_each`; the joins are
written so SQLite looks each pair up through an index (tests/store check the
query plans: a scan of `messages` would make every commit slower as the table
grows).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
from collections.abc import Sequence

import orjson

from hubbub.core.models import NewMessage, StoredMessage
from hubbub.core.ports import StoreError
from hubbub.store import batch as b
from hubbub.store.sql_search import ANY_PENDING, INDEX_BATCH, INDEX_PENDING
from hubbub.store.sqlite_pragmas import PRAGMAS

log = logging.getLogger(__name__)

MEMBERS = """
SELECT m.channel_id, m.user_id, u.username, u.display_name, u.is_bot,
       c.archived_at IS NOT NULL
FROM json_each(?1) AS p
CROSS JOIN memberships AS m
  ON m.channel_id = json_extract(p.value, '$[0]') AND m.user_id = json_extract(p.value, '$[1]')
JOIN users AS u ON u.id = m.user_id
JOIN channels AS c ON c.id = m.channel_id
"""

SENT = """
SELECT m.channel_id, c.name, m.seq, u.username, u.display_name, u.is_bot, m.text,
       m.author_id, m.client_id, m.created_at, m.files, m.guest_name
FROM json_each(?1) AS k
CROSS JOIN messages AS m
  ON m.author_id = json_extract(k.value, '$[0]') AND m.client_id = json_extract(k.value, '$[1]')
JOIN channels AS c ON c.id = m.channel_id
JOIN users AS u ON u.id = m.author_id
"""

BUMP = """
UPDATE channels SET last_seq = channels.last_seq + json_extract(n.value, '$[1]')
FROM json_each(?1) AS n
WHERE channels.id = json_extract(n.value, '$[0]')
RETURNING id, last_seq, name
"""

# Each author's read cursor to their last message of the batch, forward only:
# one primary-key update per (channel, author) pair, by executemany (half the
# cost of expanding a JSON list of them with json_each, measured).
READ = """
UPDATE memberships SET last_read = ?3
WHERE channel_id = ?1 AND user_id = ?2 AND last_read < ?3
"""

INSERT = f"INSERT INTO messages ({', '.join(b.COLUMNS)}) VALUES ({', '.join('?' * len(b.COLUMNS))})"


PLANNED = {"members": MEMBERS, "sent": SENT, "bump": BUMP}  # for the query-plan test


def _json(items: object) -> str:
    # Text, not bytes: SQLite reads a BLOB as binary JSON (3.45+) or refuses it.
    return orjson.dumps(items).decode()


def connect(path: str) -> sqlite3.Connection:
    # isolation_level=None: transactions are ours (BEGIN IMMEDIATE below).
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def _logged(done: asyncio.Future[None]) -> None:
    # A failed pass loses nothing: the rows stay pending for the next one.
    if not done.cancelled() and done.exception() is not None:
        log.warning("indexing new messages for search failed: %s", done.exception())


def index_pending(conn: sqlite3.Connection) -> None:
    """Index, in one transaction, the messages stored since the last time
    (migration 0016)."""
    if not conn.execute(ANY_PENDING).fetchone()[0]:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in INDEX_PENDING:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def append(conn: sqlite3.Connection, batch: Sequence[NewMessage]) -> list[b.Result]:
    look = b.lookups(batch)
    conn.execute("BEGIN IMMEDIATE")  # the write lock first: no upgrade deadlock
    try:
        members: dict[b.Pair, b.Names] = {}
        archived: set[b.Pair] = set()
        for cid, uid, name, display, bot, read_only in conn.execute(MEMBERS, (_json(look.pairs),)):
            members[(cid, uid)] = (name, display, bool(bot))
            if read_only:
                archived.add((cid, uid))
        sent: dict[b.Key, StoredMessage] = {}
        if look.keys:
            for (
                cid,
                cname,
                seq,
                name,
                display,
                bot,
                text,
                aid,
                client_id,
                at,
                files,
                shown,
            ) in conn.execute(SENT, (_json(look.keys),)):
                names = (name, display, bool(bot))
                sent[(aid, client_id)] = b.sent_before(
                    cid, cname, seq, names, text, client_id, at, files, shown
                )
        p = b.plan(batch, members, sent, archived)
        bumped: dict[int, tuple[int, str]] = {}
        if p.per_channel:
            counts = _json(list(p.per_channel.items()))
            bumped = {cid: (last, name) for cid, last, name in conn.execute(BUMP, (counts,))}
        results, rows = b.finish(p, members, bumped)
        if rows:
            conn.executemany(INSERT, rows)
            conn.executemany(READ, b.cursors(rows))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return results


class SQLiteAppender:
    def __init__(self, path: str) -> None:
        self.path = path
        # One thread: the connection is only ever used from it.
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        # Sent since the last index pass (at most: some may have been refused).
        self._unindexed = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path)
        return self._conn

    def _append(self, batch: Sequence[NewMessage]) -> list[b.Result]:
        return append(self._connection(), batch)

    def _index(self) -> None:
        index_pending(self._connection())

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._thread is None:
            self._thread = concurrent.futures.ThreadPoolExecutor(1, "hubbub-sqlite-writer")
        return self._thread

    async def append(self, batch: Sequence[NewMessage]) -> list[b.Result]:
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._executor(), self._append, batch)
        except sqlite3.Error as exc:  # the write lock timed out, disk full, ...
            raise StoreError(str(exc)) from exc
        self._unindexed += len(batch)
        if self._unindexed >= INDEX_BATCH:
            # Queued behind the batch, which is answered first: its senders
            # do not wait for the pass (the next batch does, a little).
            self._unindexed = 0
            loop.run_in_executor(self._executor(), self._index).add_done_callback(_logged)
        return results

    async def index_pending(self) -> None:
        """Index every message stored so far (a search is about to run)."""
        self._unindexed = 0
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor(), self._index)
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def close(self) -> None:
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
            self._thread.shutdown()
            self._thread = None
