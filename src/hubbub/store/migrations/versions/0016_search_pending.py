"""Search (SQLite): new messages are indexed in batches, not by the commit
that stores them.

FTS5's cost is mostly per transaction (each commit writes a segment and
merges), not per word: indexing the bench's messages one commit at a time
costs ~56 us a message, 200 in one commit ~3-5 us (docs/benchmarks.md,
"Sending with the search index"). A send commits a few messages at a time,
so the insert trigger now gives a message its key and a row in
`search_pending`; the store indexes what is pending in one transaction every
`store.sql_search.INDEX_BATCH` messages, and before every search, so a search
still finds every message stored before it. A pending message that is edited
needs nothing (it is indexed with its text then); one that is deleted leaves
`search_pending` with it. The pending rows are in the database, so a crash
loses none.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# As in migrations 0009 and 0015, whose triggers these replace (keep in step).
KEY_SHIFT = 18
_LO, _HI = f"new.created_at << {KEY_SHIFT}", f"(new.created_at + 1) << {KEY_SHIFT}"
_KEY = (
    " INSERT INTO search_keys (id, channel_id, seq) VALUES ("
    f"  (SELECT coalesce(max(id) + 1, {_LO}) FROM search_keys"
    f"   WHERE id >= {_LO} AND id < {_HI}),"
    "  new.channel_id, new.seq);"
)


def _key_of(ref: str) -> str:
    return f"(SELECT id FROM search_keys WHERE channel_id = {ref}.channel_id AND seq = {ref}.seq)"


def _indexed(ref: str) -> str:
    return f"NOT EXISTS (SELECT 1 FROM search_pending WHERE id = {_key_of(ref)})"


# The index pass (store.sql_search.INDEX_PENDING) run once, for a downgrade.
_INDEX_ALL = (
    "INSERT INTO messages_fts (rowid, text)"
    " SELECT p.id, m.text FROM search_pending AS p"
    " CROSS JOIN search_keys AS k ON k.id = p.id"
    " CROSS JOIN messages AS m ON m.channel_id = k.channel_id AND m.seq = k.seq"
)


def _replace(name: str, sql: str) -> None:
    run = op.get_bind().exec_driver_sql
    run(f"DROP TRIGGER {name}")
    run(sql)


def _update_trigger(when: str) -> str:
    """The edit trigger: forget the old text, index the new, `when` it applies."""
    return (
        "CREATE TRIGGER messages_search_update AFTER UPDATE OF text ON messages"
        f" WHEN old.text IS NOT new.text{when} BEGIN"
        " INSERT INTO messages_fts (messages_fts, rowid, text)"
        f"  VALUES ('delete', {_key_of('old')}, old.text);"
        f" INSERT INTO messages_fts (rowid, text) VALUES ({_key_of('new')}, new.text);"
        " END"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.get_bind().exec_driver_sql("CREATE TABLE search_pending (id INTEGER PRIMARY KEY)")
    _replace(
        "messages_search_insert",
        "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN"
        f"{_KEY}"
        " INSERT INTO search_pending (id) VALUES (last_insert_rowid());"
        " END",
    )
    # A contentless FTS5 table must be told a row's old text to forget it,
    # and only a row it holds: a pending message is left to the index pass.
    _replace("messages_search_update", _update_trigger(f" AND {_indexed('old')}"))
    _replace(
        "messages_search_delete",
        "CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN"
        " INSERT INTO messages_fts (messages_fts, rowid, text)"
        f"  SELECT 'delete', {_key_of('old')}, old.text WHERE {_indexed('old')};"
        f" DELETE FROM search_pending WHERE id = {_key_of('old')};"
        " DELETE FROM search_keys WHERE channel_id = old.channel_id AND seq = old.seq;"
        " END",
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    run = op.get_bind().exec_driver_sql
    run(_INDEX_ALL)
    _replace(
        "messages_search_insert",
        f"CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN{_KEY} END",
    )
    _replace("messages_search_update", _update_trigger(""))
    _replace(
        "messages_search_delete",
        "CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN"
        " INSERT INTO messages_fts (messages_fts, rowid, text)"
        f"  VALUES ('delete', {_key_of('old')}, old.text);"
        " DELETE FROM search_keys WHERE channel_id = old.channel_id AND seq = old.seq;"
        " END",
    )
    run("DROP TABLE search_pending")
