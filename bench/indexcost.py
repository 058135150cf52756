"""What SQLite's search index costs a send, without a server (docs/benchmarks.md,
"Indexed in batches"):

    python -m bench.indexcost fts [--messages 30000] [--zipf]
        FTS5's cost per message by transaction size (1 to 500 messages a
        commit), in tables shaped as hubbub's (messages, their keys, a
        contentless FTS5 table with hubbub's tokenizer): mostly per commit.
    python -m bench.indexcost append [--batch 3] [--messages 20000] [--rooms 2000]
        CPU per message of the store's group commit (`SQLiteAppender`, both
        threads), on a database made by hubbub's migrations: run it with
        PYTHONPATH set to each tree to compare (with and without the index).

Pin it (`taskset -c 0`) and compare figures from one sitting: they are CPU
times, so a busy machine inflates them less than throughput, but still.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import resource
import sqlite3
import sys
import tempfile
from pathlib import Path

BATCHES = (1, 3, 10, 50, 500)
T0 = 1_700_000_000_000


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _texts(n: int, zipf: bool) -> list[str]:
    if zipf:  # the search bench's vocabulary: 3-25 words a message
        from bench.search import Corpus

        corpus = Corpus(1, 1)
        return [corpus.text() for _ in range(n)]
    # The rooms bench's text: "bench <time> <n> xxx..." (four words)
    return [f"bench {1000 + i * 0.001:.6f} {i % 7} " + "x" * 40 for i in range(n)]


def fts_cost(batch: int, texts: list[str], work: Path, *, keys: bool, fts: bool) -> float:
    """CPU µs per message stored `batch` a commit: the row, its key, its words."""
    tokenizer = importlib.import_module(
        "hubbub.store.migrations.versions.0009_search"
    ).sqlite_tokenizer()
    db = sqlite3.connect(work / f"fts-{batch}-{keys}-{fts}.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE m (channel_id INTEGER, seq INTEGER, text TEXT, PRIMARY KEY (channel_id, seq))"
    )
    db.execute("CREATE TABLE k (id INTEGER PRIMARY KEY, channel_id INTEGER, seq INTEGER)")
    db.execute("CREATE UNIQUE INDEX ux_k ON k (channel_id, seq)")
    db.execute(f"CREATE VIRTUAL TABLE f USING fts5(text, content='', tokenize=\"{tokenizer}\")")
    seqs: dict[int, int] = {}
    key = T0 << 18
    t0 = _cpu()
    for start in range(0, len(texts), batch):
        rows = []
        for i in range(start, min(len(texts), start + batch)):
            channel = i % 500
            seqs[channel] = seqs.get(channel, 0) + 1
            rows.append((channel, seqs[channel], texts[i]))
        db.execute("BEGIN")
        db.executemany("INSERT INTO m VALUES (?, ?, ?)", rows)
        if keys:
            db.executemany(
                "INSERT INTO k VALUES (?, ?, ?)",
                [(key + j, c, s) for j, (c, s, _) in enumerate(rows, 1)],
            )
            key += len(rows)
        if fts:
            db.executemany(
                "INSERT INTO f (rowid, text) VALUES"
                " ((SELECT id FROM k WHERE channel_id = ? AND seq = ?), ?)",
                rows,
            )
        db.execute("COMMIT")
    cost = (_cpu() - t0) / len(texts) * 1e6
    db.close()
    return cost


def run_fts(messages: int, zipf: bool) -> list[dict[str, float]]:
    texts = _texts(messages, zipf)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch in BATCHES:
            plain = fts_cost(batch, texts, Path(tmp), keys=False, fts=False)
            keyed = fts_cost(batch, texts, Path(tmp), keys=True, fts=False)
            full = fts_cost(batch, texts, Path(tmp), keys=True, fts=True)
            out.append({"batch": batch, "plain": plain, "keys": keyed, "fts": full})
            print(
                f"{batch:4} a commit: the row {plain:6.1f} µs, + its key {keyed:6.1f},"
                f" + its words {full:6.1f} (the words: {full - keyed:5.1f})",
                flush=True,
            )
    return out


async def append_cost(batch: int, messages: int, room_count: int) -> float:
    """CPU µs per message of `SQLStore.append_messages`, `batch` a call, in
    `room_count` rooms of five (each message to the next room, as the rooms
    bench's senders spread over its 2,000 rooms)."""
    from hubbub.core.models import NewMessage
    from hubbub.store.sql import SQLStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLStore(f"sqlite+aiosqlite:///{tmp}/append.db")
        await store.open()
        try:
            users = [
                (await store.create_user(f"u{i}", f"u{i}", "h")).id for i in range(5 * room_count)
            ]
            rooms = [
                (await store.create_channel(f"r{r}", "private", "", users[r * 5 : r * 5 + 5])).id
                for r in range(room_count)
            ]
            texts = _texts(messages, False)
            t0 = _cpu()
            for start in range(0, messages, batch):
                await store.append_messages(
                    [
                        NewMessage(
                            rooms[i % room_count],
                            users[(i % room_count) * 5 + i % 5],
                            None,
                            texts[i],
                            f"c{i}",
                            T0 + i,
                        )
                        for i in range(start, min(messages, start + batch))
                    ]
                )
            return (_cpu() - t0) / messages * 1e6
        finally:
            await store.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.indexcost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="what", required=True)
    f = sub.add_parser("fts", help="FTS5's cost per message by transaction size")
    f.add_argument("--messages", type=int, default=30_000)
    f.add_argument("--zipf", action="store_true", help="the search bench's texts")
    a = sub.add_parser("append", help="CPU per message of the store's group commit")
    a.add_argument("--batch", type=int, default=3)
    a.add_argument("--messages", type=int, default=20_000)
    a.add_argument("--rooms", type=int, default=2_000, help="rooms of five (default 2,000)")
    args = p.parse_args(argv)
    if args.what == "fts":
        run_fts(args.messages, args.zipf)
    else:
        import hubbub

        cost = asyncio.run(append_cost(args.batch, args.messages, args.rooms))
        print(f"{args.batch} a commit: {cost:.1f} µs a message (hubbub from {hubbub.__file__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
