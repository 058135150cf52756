"""`Store.search` on SQLite (FTS5) and PostgreSQL (tsvector), the index
migration 0009 made and the database keeps current.

`SearchOps` is a part of `sql.SQLStore` (which inherits it). It finds the
keys (channel_id, seq) of a page of matches, then reads those messages as
every other read does (`_message_rows`).

Newest first never sorts every match. SQLite indexes a message under a rowid
that orders by created_at (migration 0009: `search_keys`), and FTS5 walks a
term's matches in rowid order, so it stops after the page. PostgreSQL walks
`ix_messages_created` backwards, checking the tsvector, where a word is
frequent, and sorts the GIN index's few matches where it is rare: its planner
picks by the column's statistics. Two things those cannot tell: whether a
text has a link, so the vector holds a link marker (migration 0014), and how
often a phrase's words are adjacent: the planner takes a phrase for its words
anywhere in the text, ten times too many, and walks the whole table for a
page of rare matches (the LIMIT trap). So a phrase search asks the planner
how many messages hold its words (EXPLAIN, no execution), and where they are
few enough to read, sorts the GIN index's candidates (`_pg_keys`). By
relevance, both rank the newest RELEVANCE_POOL matches (bm25, ts_rank):
ranking every match of a frequent word would read them all.

User input never reaches either engine's query syntax: every term is split
by core.search's rules (letters and digits only) and quoted, and passed as a
bound parameter.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    union,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from hubbub.core.models import SearchOrder, SearchPage, SearchQuery, StoredMessage
from hubbub.core.search import terms
from hubbub.store import schema as t
from hubbub.store.sql_keys import pairs_in

# How many of the newest matches a search by relevance ranks.
RELEVANCE_POOL = 1000
# Keep in step with migration 0009 (a message's FTS rowid).
KEY_SHIFT = 18

# SQLite indexes new messages in batches (migration 0016): a message's insert
# trigger gives it a key and a row in `search_pending`, and these statements,
# in one transaction, index what is pending. FTS5 costs mostly per commit, so
# the store runs them every INDEX_BATCH messages sent, and before a search.
INDEX_BATCH = 200
ANY_PENDING = "SELECT EXISTS (SELECT 1 FROM search_pending)"
# CROSS JOIN: SQLite then joins in the order written, from the few pending
# rows out by primary key (its planner, left alone, scanned search_keys).
INDEX_PENDING = (
    "INSERT INTO messages_fts (rowid, text)"
    " SELECT p.id, m.text FROM search_pending AS p"
    " CROSS JOIN search_keys AS k ON k.id = p.id"
    " CROSS JOIN messages AS m ON m.channel_id = k.channel_id AND m.seq = k.seq",
    "DELETE FROM search_pending",
)

# The index's own tables (SQLite) and column (PostgreSQL): made by migration
# 0009, not in schema.metadata, whose tables both backends share.
INDEX_TABLES = ("search_keys", "search_pending", "messages_fts")
INDEX_COLUMNS = ("search",)  # messages.search
INDEX_NAMES = ("ix_messages_search", "ix_messages_created")

_keys = table("search_keys", column("id"), column("channel_id"), column("seq"))
_fts = table("messages_fts", column("rowid"))
# FTS5's hidden column, named as its table, is what MATCH is applied to.
_FTS_MATCH: ColumnElement[Any] = literal_column("messages_fts")
_VECTOR: ColumnElement[Any] = literal_column("messages.search")


def is_index_object(name: str | None, type_: str) -> bool:
    """Whether a schema object is the search index's (migration 0009), for
    comparing a migrated database with schema.metadata."""
    if name is None:
        return False
    if type_ == "table":
        return name in INDEX_TABLES or name.startswith("messages_fts_")
    if type_ == "column":
        return name in INDEX_COLUMNS
    return name in INDEX_NAMES or name == "ux_search_keys_message"


# --- terms to query syntax ----------------------------------------------------------


def _phrases(q: SearchQuery) -> tuple[list[list[str]], list[list[str]]]:
    """The query's words and phrases, and its exclusions, as lists of index
    terms (a `*` ending a term: a prefix). Re-split by the index's rules:
    whoever built the query, a term holds only letters and digits."""

    def split(words: Sequence[str]) -> list[str]:
        out: list[str] = []
        for w in words:
            prefix = w.endswith("*")
            parts = terms(w)
            if parts and prefix:
                parts[-1] += "*"
            out.extend(parts)
        return out

    wanted = [p for p in (split([w]) for w in q.words) if p]
    wanted += [p for p in (split(ph) for ph in q.phrases) if p]
    unwanted = [p for p in (split(ph) for ph in q.exclude) if p]
    return wanted, unwanted


def fts5_query(wanted: list[list[str]], unwanted: list[list[str]]) -> str:
    """An FTS5 MATCH expression: every phrase, none of the exclusions."""

    def phrase(words: list[str]) -> str:
        # "a" + "b"* : a phrase whose words are each a quoted string.
        parts = []
        for w in words:
            prefix = w.endswith("*")
            body = w.removesuffix("*").replace('"', '""')
            parts.append(f'"{body}"' + (" *" if prefix else ""))
        return " + ".join(parts)

    expr = " AND ".join(f"({phrase(p)})" for p in wanted)
    for p in unwanted:
        expr = f"({expr}) NOT ({phrase(p)})"
    return expr


# Keep in step with migration 0014: the term that marks a text with a link.
LINK_TERM = "has:link"
# A phrase search whose words are in at most this many messages sorts the GIN
# index's candidates instead of walking ix_messages_created: on 1,000,000
# messages, reading a candidate costs ~10 us and a phrase matches ~1/8 of its
# candidates, so below this the index wins (docs/benchmarks.md, "Search").
PHRASE_CANDIDATES = 5000


def tsquery(wanted: list[list[str]], unwanted: list[list[str]], *, link: bool = False) -> str:
    """A tsquery's text, cast as it is (its terms are the index's already):
    every phrase (its words in a row), none of the exclusions, and the link
    marker with `link`."""

    def lexeme(term: str) -> str:
        return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"

    def phrase(words: list[str]) -> str:
        row = [lexeme(w.removesuffix("*")) + (":*" if w.endswith("*") else "") for w in words]
        return "(" + " <-> ".join(row) + ")"

    parts = [phrase(p) for p in wanted] + ([lexeme(LINK_TERM)] if link else [])
    return " & ".join(parts + [f"!{phrase(p)}" for p in unwanted])


# --- the search -------------------------------------------------------------------


class SearchOps:
    """The search half of SQLStore (see the module's docstring)."""

    is_sqlite: bool

    @abc.abstractmethod
    def _snapshot(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection whose reads see one moment (SQLStore's)."""

    @abc.abstractmethod
    async def _index_pending(self) -> None:
        """Index the messages still waiting for it (SQLite's batches; SQLStore's)."""

    @abc.abstractmethod
    async def _message_rows(
        self, conn: AsyncConnection, cond: Any, *, order: Any, limit: int
    ) -> list[StoredMessage]:
        """Messages as every read returns them (SQLStore's)."""

    async def search(
        self,
        user_id: int,
        query: SearchQuery,
        *,
        public: bool,
        order: SearchOrder,
        offset: int,
        limit: int,
    ) -> SearchPage:
        if limit <= 0:
            return SearchPage((), False)
        wanted, unwanted = _phrases(query)
        if unwanted and not wanted:
            raise ValueError("a search that only excludes needs a word or phrase")
        readable = _readable(user_id, public, query.channel_ids)
        if self.is_sqlite:  # every message stored before the search is found
            await self._index_pending()
        async with self._snapshot() as conn:
            if self.is_sqlite:
                # The channels as a subquery: SQLite reads them once, and the
                # statement stays the same however many there are.
                keys = await _sqlite_keys(
                    conn, query, readable, wanted, unwanted, order, offset, limit + 1
                )
            else:
                # As a list: PostgreSQL's planner weighs how many there are.
                channels = [int(r[0]) for r in await conn.execute(readable)]
                if not channels:
                    return SearchPage((), False)
                keys = await _pg_keys(
                    conn, query, channels, wanted, unwanted, order, offset, limit + 1
                )
            more = len(keys) > limit
            keys = keys[:limit]
            found = await self._message_rows(
                conn,
                pairs_in(t.messages.c.channel_id, t.messages.c.seq, keys),
                order=None,
                limit=len(keys) or 1,
            )
        by_key = {(m.channel_id, m.seq): m for m in found}
        return SearchPage(tuple(by_key[k] for k in keys if k in by_key), more)


def _readable(user_id: int, public: bool, named: Sequence[int]) -> Select[Any]:
    """The channels searched: the user's, and public ones with `public`;
    of those, only the `named` ones if any are."""
    ms, ch = t.memberships.c, t.channels.c
    mine: Select[Any] = select(ms.channel_id).where(ms.user_id == user_id)
    if named:
        mine = mine.where(ms.channel_id.in_(list(named)))
    if not public:
        return mine
    everyone = select(ch.id).where(ch.kind == "public")
    if named:
        everyone = everyone.where(ch.id.in_(list(named)))
    return select(union(mine, everyone).subquery().c[0])


def _filters(query: SearchQuery, *, link_indexed: bool = False) -> list[ColumnElement[bool]]:
    """The conditions on the message row besides its words (and, with
    `link_indexed`, the link marker)."""
    m = t.messages.c
    out: list[ColumnElement[bool]] = [m.deleted_at.is_(None)]
    if query.author_ids:
        out.append(m.author_id.in_(list(query.author_ids)))
    if query.after is not None:
        out.append(m.created_at >= query.after)
    if query.before is not None:
        out.append(m.created_at < query.before)
    if query.has_file:
        out.append(m.files.is_not(None))
    if query.has_link and not link_indexed:
        out.append(or_(m.text.icontains("http://"), m.text.icontains("https://")))
    if query.is_thread:
        out.append(or_(m.thread_root.is_not(None), m.reply_count > 0))
    return out


async def _sqlite_keys(
    conn: AsyncConnection,
    query: SearchQuery,
    channels: Select[Any],
    wanted: list[list[str]],
    unwanted: list[list[str]],
    order: SearchOrder,
    offset: int,
    limit: int,
) -> list[tuple[int, int]]:
    m = t.messages
    k = _keys.c
    where = _filters(query)
    # A message's key orders by its created_at: a date bound is a key bound.
    key_col = _fts.c.rowid if wanted else k.id
    if query.after is not None:
        where.append(key_col >= query.after << KEY_SHIFT)
    if query.before is not None:
        where.append(key_col < query.before << KEY_SHIFT)
    joined = _keys.join(m, and_(m.c.channel_id == k.channel_id, m.c.seq == k.seq))
    if wanted:
        # `+` keeps SQLite from driving the search by the channel index: the
        # full-text index drives it, newest first, and stops after the page.
        where.append(literal_column("+search_keys.channel_id").in_(channels))
        where.append(_FTS_MATCH.op("MATCH")(fts5_query(wanted, unwanted)))
        joined = _fts.join(joined, k.id == _fts.c.rowid)
    elif query.channel_ids:
        # Named channels (few): their messages by the channel index, sorted.
        where.append(k.channel_id.in_(channels))
    else:
        # Every channel the user reads: walk all keys, newest first.
        where.append(literal_column("+search_keys.channel_id").in_(channels))
    base = select(k.channel_id, k.seq).select_from(joined).where(*where)
    score = func.bm25(_FTS_MATCH) if wanted else None
    return await _page(conn, base, (key_col,), score, order, offset, limit)


async def _pg_keys(
    conn: AsyncConnection,
    query: SearchQuery,
    channels: list[int],
    wanted: list[list[str]],
    unwanted: list[list[str]],
    order: SearchOrder,
    offset: int,
    limit: int,
) -> list[tuple[int, int]]:
    m = t.messages.c
    # Planned for these very terms, never by a generic plan: which index is
    # right depends on how frequent the words are (prepared statements are
    # cached, and PostgreSQL may switch a cached one to a generic plan).
    await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    # One array parameter, not one per channel: the statement stays the same.
    readable = m.channel_id == any_(bindparam("channels", channels, type_=ARRAY(Integer)))
    where = [*_filters(query, link_indexed=True), readable]
    newest: tuple[ColumnElement[Any], ...] = (m.created_at, m.seq)
    ts: Any = None
    if wanted or query.has_link:
        ts = cast(bindparam("terms", tsquery(wanted, unwanted, link=query.has_link)), TSQUERY)
        where.append(_VECTOR.op("@@")(ts))
        words = tsquery([[w] for p in wanted for w in p], [], link=query.has_link)
        if any(len(p) > 1 for p in wanted) and await _few_candidates(conn, words, where[:-1]):
            # `+ 0`: not by the walk of ix_messages_created; and with no
            # sequential scan left (for the rest of this read, whose other
            # statements look rows up by key), by the GIN index.
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            newest = (m.created_at + 0, m.seq)
    base = select(m.channel_id, m.seq).where(*where)
    score = -func.ts_rank(_VECTOR, ts) if wanted else None
    return await _page(conn, base, newest, score, order, offset, limit)


async def _few_candidates(
    conn: AsyncConnection, words: str, where: list[ColumnElement[bool]]
) -> bool:
    """Whether the planner estimates at most PHRASE_CANDIDATES messages with
    these `words` (a tsquery: the phrases' words, adjacent or not) and the
    `where` conditions."""
    terms = cast(bindparam("words", words), TSQUERY)
    candidates: Select[Any] = select(literal_column("1")).where(*where, _VECTOR.op("@@")(terms))
    plan = (await conn.execute(Explain(candidates))).scalar_one()
    if isinstance(plan, str):
        plan = orjson.loads(plan)
    return bool(plan[0]["Plan"]["Plan Rows"] <= PHRASE_CANDIDATES)


class Explain(Executable, ClauseElement):
    """`EXPLAIN (FORMAT JSON) statement` (PostgreSQL): the planner's
    estimates, the statement not run."""

    # Compiled afresh each time: a cached form would need result columns.
    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + str(compiler.process(element.statement, **kw))


async def _page(
    conn: AsyncConnection,
    base: Select[Any],
    newest: tuple[ColumnElement[Any], ...],
    score: ColumnElement[Any] | None,
    order: SearchOrder,
    offset: int,
    limit: int,
) -> list[tuple[int, int]]:
    """The keys of a page of `base`'s matches: newest first (by `newest`,
    descending), or by `score` (lower is better) among the newest
    RELEVANCE_POOL, ties newest first."""
    latest = [c.desc() for c in newest]
    if order != "relevance" or score is None:
        q = base.order_by(*latest).offset(offset).limit(limit)
    elif offset >= RELEVANCE_POOL:
        return []
    else:
        pool = (
            base.add_columns(score.label("score"))
            .add_columns(*(c.label(f"at{i}") for i, c in enumerate(newest)))
            .order_by(*latest)
            .limit(RELEVANCE_POOL)
            .subquery()
        )
        q = (
            select(pool.c.channel_id, pool.c.seq)
            .order_by(pool.c.score, *(pool.c[f"at{i}"].desc() for i in range(len(newest))))
            .offset(offset)
            .limit(limit)
        )
    return [(int(c), int(s)) for c, s in await conn.execute(q)]
