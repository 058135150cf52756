"""Search (SQLite): a new message's words are indexed by the statement that
stores it, not by its insert trigger.

An FTS5 insert made inside a trigger costs several times one made by its own
statement in the same transaction (measured on 40,000 messages, 20 a commit:
~65 us of CPU a message against ~20 us; docs/benchmarks.md, "Sending with the
search index"), and a send paid it. The trigger now gives a message its key
(`search_keys`) only; the store's two inserts of messages (a batch of sends,
a reply) add the FTS row themselves, in the same transaction (until
migration 0016, which indexes new messages in batches). Edits and deletes
keep their triggers: they are rare, and the old text they need is the
trigger's.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# As in migration 0009, whose trigger this replaces (keep in step: KEY_SHIFT).
KEY_SHIFT = 18
_LO, _HI = f"new.created_at << {KEY_SHIFT}", f"(new.created_at + 1) << {KEY_SHIFT}"
_KEY = (
    " INSERT INTO search_keys (id, channel_id, seq) VALUES ("
    f"  (SELECT coalesce(max(id) + 1, {_LO}) FROM search_keys"
    f"   WHERE id >= {_LO} AND id < {_HI}),"
    "  new.channel_id, new.seq);"
)
_INDEX = (
    " INSERT INTO messages_fts (rowid, text) VALUES ("
    "  (SELECT id FROM search_keys WHERE channel_id = new.channel_id AND seq = new.seq),"
    "  new.text);"
)


def _trigger(body: str) -> None:
    run = op.get_bind().exec_driver_sql
    run("DROP TRIGGER messages_search_insert")
    run(f"CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN{body} END")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _trigger(_KEY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _trigger(_KEY + _INDEX)
