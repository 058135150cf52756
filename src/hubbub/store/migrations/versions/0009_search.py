"""Search: a full-text index of messages, kept by the database itself.

SQLite: `messages_fts`, a contentless FTS5 table, and `search_keys`, which
gives each message the FTS rowid it is indexed under; triggers on `messages`
keep both current on insert, edit and delete, so the send path writes nothing
more. PostgreSQL: a generated `tsvector` column with a GIN index, and an
index on `created_at` for newest-first searches. Both split and fold words by
the tables of core.search_tables (see store.sql_search).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from hubbub.core import search_tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# What the index was built from: a test compares it with the tables' digest
# now, so changing a table without a migration that rebuilds the index fails.
TABLES_DIGEST = "5be20e1d18815541"

# A message's FTS rowid: its created_at (ms) shifted left by KEY_SHIFT, plus
# the number of messages indexed before it in the same ms. Newest first is
# then rowid order, which FTS5 walks without sorting, and a date bound is a
# rowid bound. 2**18 messages a ms, created_at up to 2**45 ms (the year 3084)
# fit in a signed 64-bit rowid. Not the table's implicit rowid, which VACUUM
# may renumber: `search_keys` maps (channel_id, seq) to it and back.
KEY_SHIFT = 18


def _key_of(ref: str) -> str:
    return f"(SELECT id FROM search_keys WHERE channel_id = {ref}.channel_id AND seq = {ref}.seq)"


def _chars(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(chr(c) for lo, hi in ranges for c in range(lo, hi + 1))


def sqlite_tokenizer() -> str:
    separators = _chars(search_tables.SQLITE_SEPARATORS)
    tokenchars = search_tables.SQLITE_TOKENCHARS
    assert not {"'", '"'} & set(separators + tokenchars)  # no quoting needed
    return (
        "unicode61 remove_diacritics 2 categories 'L* Nd Nl'"
        f" separators '{separators}' tokenchars '{tokenchars}'"
    )


def _sqlite_upgrade() -> None:
    run = op.get_bind().exec_driver_sql
    run(
        "CREATE TABLE search_keys ("
        " id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL, seq INTEGER NOT NULL)"
    )
    run("CREATE UNIQUE INDEX ux_search_keys_message ON search_keys (channel_id, seq)")
    run(
        "CREATE VIRTUAL TABLE messages_fts USING fts5("
        f"text, content='', tokenize=\"{sqlite_tokenizer()}\")"
    )
    # Messages stored before: keys in created_at order, then the index.
    run(
        "INSERT INTO search_keys (id, channel_id, seq)"
        f" SELECT (created_at << {KEY_SHIFT})"
        "  + row_number() OVER (PARTITION BY created_at ORDER BY channel_id, seq) - 1,"
        "  channel_id, seq FROM messages"
    )
    run(
        "INSERT INTO messages_fts (rowid, text)"
        " SELECT k.id, m.text FROM search_keys k"
        " JOIN messages m ON m.channel_id = k.channel_id AND m.seq = k.seq"
    )
    # A contentless table forgets a row only when given the text it was
    # indexed with ('delete'): the old text, which the triggers have. A
    # message's key (channel_id, seq) never changes.
    lo, hi = f"new.created_at << {KEY_SHIFT}", f"(new.created_at + 1) << {KEY_SHIFT}"
    run(
        "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN"
        " INSERT INTO search_keys (id, channel_id, seq) VALUES ("
        f"  (SELECT coalesce(max(id) + 1, {lo}) FROM search_keys"
        f"   WHERE id >= {lo} AND id < {hi}),"
        "  new.channel_id, new.seq);"
        f" INSERT INTO messages_fts (rowid, text) VALUES ({_key_of('new')}, new.text);"
        " END"
    )
    run(
        "CREATE TRIGGER messages_search_update AFTER UPDATE OF text ON messages"
        " WHEN old.text IS NOT new.text BEGIN"
        " INSERT INTO messages_fts (messages_fts, rowid, text)"
        f"  VALUES ('delete', {_key_of('old')}, old.text);"
        f" INSERT INTO messages_fts (rowid, text) VALUES ({_key_of('new')}, new.text);"
        " END"
    )
    run(
        "CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN"
        " INSERT INTO messages_fts (messages_fts, rowid, text)"
        f"  VALUES ('delete', {_key_of('old')}, old.text);"
        " DELETE FROM search_keys WHERE channel_id = old.channel_id AND seq = old.seq;"
        " END"
    )


def _pg_class(ranges: tuple[tuple[int, int], ...]) -> str:
    def esc(cp: int) -> str:
        return f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"

    return "".join(esc(lo) if lo == hi else f"{esc(lo)}-{esc(hi)}" for lo, hi in ranges)


def pg_vector_function() -> str:
    """`hubbub_search_vector(text)`: the words of a text as core.search
    splits and folds them (Latin letters folded by the table, diacritics
    dropped, any run of non-word characters a space), then the `simple`
    configuration: no stemming, no stop words.

    `translate` scans its whole table for every character of the text, so
    the table is cut by 256-character block and each part applied only to a
    text with a character of its block: plain ASCII costs one regex test,
    French text one short table (a single table costs 0.5 ms a message)."""
    blocks: dict[int, list[tuple[str, str]]] = {}
    for a, b in zip(search_tables.FOLD_FROM, search_tables.FOLD_TO, strict=True):
        blocks.setdefault(ord(a) >> 8, []).append((a, b))
    steps = []
    for block, pairs in sorted(blocks.items()):
        source, target = "".join(a for a, _ in pairs), "".join(b for _, b in pairs)
        assert "'" not in source + target
        span = _pg_class(((max(block << 8, 0x80), (block << 8) + 255),))
        steps.append(f"IF s ~ '[{span}]' THEN s := translate(s, '{source}', '{target}'); END IF;")
    marks = search_tables.DIACRITICS
    steps.append(f"IF s ~ '[{marks}]' THEN s := translate(s, '{marks}', ''); END IF;")
    return (
        "CREATE FUNCTION hubbub_search_vector(body text) RETURNS tsvector"
        " LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT AS $fn$"
        " DECLARE s text := body; BEGIN"
        "  IF s ~ '[^\\u0001-\\u007f]' THEN " + " ".join(steps) + " END IF;"
        "  RETURN pg_catalog.to_tsvector('pg_catalog.simple'::pg_catalog.regconfig,"
        f"   pg_catalog.regexp_replace(s, '[^{_pg_class(search_tables.WORDS)}]+', ' ', 'g'));"
        " END $fn$"
    )


def _pg_upgrade() -> None:
    run = op.get_bind().exec_driver_sql
    run(pg_vector_function())
    # Adding a stored generated column rewrites the table: the backfill.
    run(
        "ALTER TABLE messages ADD COLUMN search tsvector"
        " GENERATED ALWAYS AS (hubbub_search_vector(text)) STORED"
    )
    run("CREATE INDEX ix_messages_search ON messages USING gin (search)")
    run("CREATE INDEX ix_messages_created ON messages (created_at)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _pg_upgrade()


def downgrade() -> None:
    run = op.get_bind().exec_driver_sql
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete"):
            run(f"DROP TRIGGER messages_search_{trigger}")
        run("DROP TABLE messages_fts")
        run("DROP TABLE search_keys")
    else:
        run("DROP INDEX ix_messages_created")
        run("DROP INDEX ix_messages_search")
        run("ALTER TABLE messages DROP COLUMN search")
        run("DROP FUNCTION hubbub_search_vector(text)")
