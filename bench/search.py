"""Full-text search: `Store.search` on 1,000,000 messages in 500 channels,
on SQLite and on PostgreSQL, against the same queries answered by a `LIKE`
scan in the same run (issue #16: p99 under 50 ms, at least 100x the scan).

The store is opened as hubbub opens it (migrations, so the index and its
triggers are in place), then seeded in bulk with SQL: SQLite through
`executemany` (the trigger keys each row and marks it pending, and the
store's index pass indexes them, as after sends), PostgreSQL by
COPY (the generated column and its GIN index), then ANALYZE. Text is drawn
from a Zipf vocabulary (s = 1.1, 30,000 made-up words), 3-25 words a
message, over one year; 2 % carry a file, 5 % a link, 5 % are thread
replies. 500 channels: 400 public, 80 private, 20 DMs; the searching user
is in 50 of them (public ones included), and searches with `public` (every
public channel too), as a member does.

Query classes (each timed once per query after one warm-up of the class):
one word (frequency ranks 20-2000), a rare word (ranks 5,000-30,000), two
words (of one stored message), a phrase (two adjacent words from a stored
message), filtered (a word and one of in:#channel, from:@user, has:link,
after:<date>), a frequent word (ranks 1-5), and one word by relevance.

The scan answers the same query by `LIKE '%word%'` for each word (a phrase
as one pattern), the same permission filter and filters, newest first, the
same page (20): fewer queries, as each takes long. Two scans on PostgreSQL:
"LIKE" is the statement as its planner runs it, which walks
`ix_messages_created` (made for search) newest first and stops after a page,
so a frequent word is found about as fast by it as by any index; "table
read" is the same statement with index scans off, what a scan costs without
search's indexes. SQLite has no index on created_at: its LIKE reads the
table. PostgreSQL runs in a database of its own on the test server, dropped
afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import log, workdir

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
MESSAGES, CHANNELS = 1_000_000, 500
QUICK_MESSAGES, QUICK_CHANNELS = 20_000, 50
VOCABULARY = 30_000
USERS = 200
YEAR_MS = 365 * 86_400_000
T0 = 1_700_000_000_000
PAGE = 20
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "an", "el", "or", "un", "is"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--messages", type=int, help=f"default {MESSAGES:,} ({QUICK_MESSAGES:,} quick)")
    p.add_argument("--channels", type=int, help=f"default {CHANNELS} ({QUICK_CHANNELS} quick)")
    p.add_argument("--queries", type=int, help="queries per class (default 200; 20 quick)")
    p.add_argument("--scans", type=int, help="LIKE scans per class (default 10; 3 quick)")
    p.add_argument(
        "--backends",
        default="sqlite,postgres",
        help="comma-separated: sqlite, postgres (default both)",
    )


def vocabulary(n: int, rng: random.Random) -> list[str]:
    """`n` distinct made-up words, two to four syllables each."""
    out: dict[str, None] = {}
    while len(out) < n:
        out["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4)))] = None
    return list(out)


class Corpus:
    def __init__(self, messages: int, channels: int, seed: int = 16) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(VOCABULARY, self.rng)
        self.cum = []
        total = 0.0
        for rank in range(1, VOCABULARY + 1):
            total += 1 / rank**1.1
            self.cum.append(total)
        self.messages, self.channels = messages, channels

    def text(self) -> str:
        return " ".join(
            self.rng.choices(self.words, cum_weights=self.cum, k=self.rng.randint(3, 25))
        )

    def rows(self) -> list[tuple[Any, ...]]:
        """(channel_id, seq, author_id, text, created_at, thread_root, files)."""
        seqs = [0] * (self.channels + 1)
        out = []
        for i in range(self.messages):
            c = self.rng.randint(1, self.channels)
            seqs[c] += 1
            text = self.text()
            roll = self.rng.random()
            if roll < 0.05:
                text += f" https://example.com/{self.rng.choice(self.words)}"
            files = '[{"id":"f","name":"a.txt","size":1,"type":"text/plain"}]'
            at = T0 + i * YEAR_MS // self.messages
            root = None
            if 0.05 <= roll < 0.10 and seqs[c] > 1:
                root = self.rng.randint(1, seqs[c] - 1)
            out.append(
                (
                    c,
                    seqs[c],
                    self.rng.randint(1, USERS),
                    text,
                    at,
                    root,
                    files if roll > 0.98 else None,
                )
            )
        return out


async def _setup(store: Any, corpus: Corpus) -> None:
    """Users, channels and memberships through the Store (user 1 searches)."""
    for u in range(1, USERS + 1):
        await store.create_user(f"u{u}", f"U {u}", "x")
    for c in range(1, corpus.channels + 1):
        kind = "public" if c <= corpus.channels * 4 // 5 else "private"
        if c > corpus.channels * 24 // 25:
            kind = "dm"
        members = [1] if c % (corpus.channels // 50 or 1) == 0 or c <= 3 else [2]
        await store.create_channel(f"c{c}" if kind != "dm" else f"dm:c{c}", kind, "", members)


def _seed_sqlite(path: Path, rows: list[tuple[Any, ...]]) -> None:
    from hubbub.store.sql_search import INDEX_PENDING

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO messages (channel_id, seq, author_id, text, created_at, thread_root, files)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    # As the store does after sends: the trigger keys each, this indexes them.
    for statement in INDEX_PENDING:
        db.execute(statement)
    _finish_seed_sql(db.execute)
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()


def _finish_seed_sql(run: Any) -> None:
    run(
        "UPDATE channels SET last_seq = (SELECT coalesce(max(seq), 0) FROM messages m"
        " WHERE m.channel_id = channels.id)"
    )
    run(
        "UPDATE messages SET reply_count = r.n FROM (SELECT channel_id, thread_root, count(*) n"
        " FROM messages WHERE thread_root IS NOT NULL GROUP BY channel_id, thread_root) r"
        " WHERE messages.channel_id = r.channel_id AND messages.seq = r.thread_root"
    )


async def _seed_postgres(url: str, rows: list[tuple[Any, ...]]) -> None:
    import asyncpg

    db = await asyncpg.connect(url)
    try:
        await db.copy_records_to_table(
            "messages",
            records=rows,
            columns=[
                "channel_id",
                "seq",
                "author_id",
                "text",
                "created_at",
                "thread_root",
                "files",
            ],
        )
        statements: list[str] = []
        _finish_seed_sql(statements.append)
        for sql in statements:
            await db.execute(sql)
        await db.execute("VACUUM ANALYZE")
    finally:
        await db.close()


def queries(corpus: Corpus, rows: list[tuple[Any, ...]], n: int) -> dict[str, list[dict[str, Any]]]:
    """Per class, `n` queries as SearchQuery keyword arguments (plus `scan`:
    the LIKE patterns)."""
    rng = random.Random(7)
    mid = corpus.words[20:2000]
    rare = corpus.words[5000:]
    top = corpus.words[:5]
    filters: list[dict[str, Any]] = [
        {"channel_ids": (corpus.channels // 50 or 1,)},
        {"author_ids": (rng.randint(1, USERS),)},
        {"has_link": True},
        {"after": T0 + YEAR_MS // 2},
    ]
    out: dict[str, list[dict[str, Any]]] = {
        k: []
        for k in (
            "one word",
            "rare word",
            "two words",
            "phrase",
            "filtered",
            "frequent word",
            "relevance",
        )
    }
    for i in range(n):
        w = rng.choice(mid)
        out["one word"].append({"words": (w,)})
        out["rare word"].append({"words": (rng.choice(rare),)})
        text = rng.choice(rows)[3].split()
        pair = rng.sample(text, 2)  # two words of one message, anywhere in it
        out["two words"].append({"words": tuple(dict.fromkeys(pair))})
        j = rng.randrange(len(text) - 1)
        out["phrase"].append({"phrases": ((text[j], text[j + 1]),)})
        out["filtered"].append({"words": (rng.choice(mid),), **filters[i % len(filters)]})
        out["frequent word"].append({"words": (rng.choice(top),)})
        out["relevance"].append({"words": (rng.choice(mid),), "order": "relevance"})
    return out


def _scan_sql(q: dict[str, Any], channels: list[int], dialect: str) -> tuple[str, list[Any]]:
    """The same search by LIKE: each word (a phrase: its words, one space
    apart) a substring, the same permission filter and filters."""
    ph = "?" if dialect == "sqlite" else None
    params: list[Any] = []

    def p(v: Any) -> str:
        params.append(v)
        return ph or f"${len(params)}"

    where = [f"channel_id IN ({', '.join(str(c) for c in channels)})", "deleted_at IS NULL"]
    for w in q.get("words", ()):
        where.append(f"text LIKE {p(f'%{w}%')}")
    for phrase in q.get("phrases", ()):
        where.append(f"text LIKE {p('%' + ' '.join(phrase) + '%')}")
    if q.get("channel_ids"):
        where.append(f"channel_id IN ({', '.join(str(c) for c in q['channel_ids'])})")
    if q.get("author_ids"):
        where.append(f"author_id IN ({', '.join(str(c) for c in q['author_ids'])})")
    if q.get("has_link"):
        where.append("(text LIKE '%http://%' OR text LIKE '%https://%')")
    if q.get("after") is not None:
        where.append(f"created_at >= {int(q['after'])}")
    sql = (
        f"SELECT channel_id, seq FROM messages WHERE {' AND '.join(where)}"
        f" ORDER BY created_at DESC, seq DESC LIMIT {PAGE}"
    )
    return sql, params


def _summary(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return {"n": len(ms), "p50_ms": statistics.median(ms), "p99_ms": p99, "max_ms": ms[-1]}


async def _measure(
    store: Any, url: str, qs: dict[str, list[dict[str, Any]]], scans: int
) -> dict[str, Any]:
    from hubbub.core.models import SearchQuery

    member = [m.channel.id for m in await store.channels_for(1)]
    public = [c.id for c in await store.public_channels()]
    readable = sorted(set(member) | set(public))
    dialect = "sqlite" if url.startswith("sqlite") else "postgres"
    out: dict[str, Any] = {}
    for name, items in qs.items():
        times, hits = [], 0
        slowest: tuple[float, dict[str, Any]] = (0.0, {})
        for k, q in enumerate([items[0], *items]):
            order = q.get("order", "newest")
            query = SearchQuery(**{k2: v for k2, v in q.items() if k2 != "order"})
            t = time.perf_counter()
            page = await store.search(1, query, public=True, order=order, offset=0, limit=PAGE)
            if k:  # the first is the warm-up
                times.append(time.perf_counter() - t)
                hits += len(page.messages)
                slowest = max(slowest, (times[-1], q), key=lambda x: x[0])
        s: dict[str, Any] = dict(_summary(times))
        # The slowest query itself, to look into with EXPLAIN (see --keep).
        s["slowest"] = {"ms": slowest[0] * 1000, "query": slowest[1]}
        out[name] = {"search": s, "mean_hits": hits / len(times)}
        line = f"  {name:14} search p50 {s['p50_ms']:7.2f} ms  p99 {s['p99_ms']:7.2f} ms"
        # SQLite's LIKE reads the table as planned; PostgreSQL's may walk an index.
        kinds = [("scan", False)] + ([("table_read", True)] if dialect == "postgres" else [])
        for kind, read_table in kinds:
            scan_times = []
            for q in items[:scans]:
                sql, params = _scan_sql(q, readable, dialect)
                t = time.perf_counter()
                await _run_scan(store, dialect, sql, params, read_table=read_table)
                scan_times.append(time.perf_counter() - t)
            scan = _summary(scan_times)
            out[name][kind] = scan
            out[name][f"{kind}_speedup_p50"] = scan["p50_ms"] / s["p50_ms"]
            line += f"   {kind} p50 {scan['p50_ms']:8.1f} ms ({scan['p50_ms'] / s['p50_ms']:,.0f}x)"
        log(line + f"  hits/page {hits / len(times):.1f}")
    return out


async def _run_scan(
    store: Any, dialect: str, sql: str, params: list[Any], *, read_table: bool
) -> None:
    async with store.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if dialect == "sqlite":
            cursor = await driver.execute(sql, params)
            await cursor.fetchall()
        else:
            # Planned for each call's own words, as the search is: asyncpg
            # prepares statements by text and PostgreSQL would soon reuse a
            # generic plan. The table read has its own text, so no plan made
            # with the indexes on is ever reused for it.
            async with driver.transaction():
                await driver.execute("SET LOCAL plan_cache_mode = force_custom_plan")
                if read_table:
                    await driver.execute("SET LOCAL enable_indexscan = off")
                    await driver.execute("SET LOCAL enable_bitmapscan = off")
                    sql += " /* table read */"
                await driver.fetch(sql, *params)


async def _one(
    backend: str,
    corpus: Corpus,
    rows: list[tuple[Any, ...]],
    qs: Any,
    scans: int,
    work: Path,
    keep: bool = False,
) -> dict[str, Any]:
    from hubbub.store import open_store

    pg_db = None
    if backend == "sqlite":
        path = work / "search.db"
        url = f"sqlite:///{path}"
    else:
        import asyncpg

        pg_db = f"hubbub_bench_search_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(POSTGRES_URL)
        await admin.execute(f'CREATE DATABASE "{pg_db}"')
        await admin.close()
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + pg_db
    store = open_store(url)
    try:
        await store.open()
        await _setup(store, corpus)
        t = time.monotonic()
        if backend == "sqlite":
            await asyncio.to_thread(_seed_sqlite, path, rows)
        else:
            await _seed_postgres(url, rows)
        seeded = time.monotonic() - t
        log(f"{backend}: {len(rows):,} messages seeded and indexed in {seeded:.0f} s")
        result = await _measure(store, url, qs, scans)
        return {"seed_s": seeded, "classes": result}
    finally:
        await store.close()
        if pg_db is not None and keep:
            log(f"postgres: kept database {pg_db} (--keep; drop it when done)")
        elif pg_db is not None:
            import asyncpg

            admin = await asyncpg.connect(POSTGRES_URL)
            await admin.execute(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
            await admin.close()


def run(args: Any) -> dict[str, Any]:
    messages = args.messages or (QUICK_MESSAGES if args.quick else MESSAGES)
    channels = args.channels or (QUICK_CHANNELS if args.quick else CHANNELS)
    n = args.queries or (20 if args.quick else 200)
    scans = args.scans or (3 if args.quick else 10)
    corpus = Corpus(messages, channels)
    t = time.monotonic()
    rows = corpus.rows()
    took = time.monotonic() - t
    log(f"search: {messages:,} messages in {channels} channels generated in {took:.0f} s")
    qs = queries(corpus, rows, n)
    out: dict[str, Any] = {"messages": messages, "channels": channels, "backends": {}}
    with workdir(args.keep) as work:
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            out["backends"][backend] = asyncio.run(
                _one(backend, corpus, rows, qs, scans, work, bool(args.keep))
            )
    return out


def check(result: dict[str, Any]) -> list[str]:
    """Wrong, not slow: every class found something (the queries are drawn
    from words that are there)."""
    problems = []
    for backend, r in result["backends"].items():
        for name, c in r["classes"].items():
            if c["mean_hits"] == 0:
                problems.append(f"{backend}: {name} found nothing")
    return problems
