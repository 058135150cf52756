"""The pragmas every SQLite connection runs first: SQLAlchemy's (sql.py) and
the group commit's own (append_sqlite.py) must agree on them."""

PRAGMAS = (
    "PRAGMA journal_mode=WAL",  # readers do not block the writer, nor it them
    "PRAGMA synchronous=NORMAL",  # safe with WAL; fsync at checkpoints only
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",  # wait up to 10 s for the write lock
)
