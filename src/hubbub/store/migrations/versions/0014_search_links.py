"""Search (PostgreSQL): a link marker in the message's vector.

`has:link` was a LIKE on the text beside the full-text condition, which
PostgreSQL's planner cannot estimate with it: for a page of a word's linked
messages it could walk `ix_messages_created` through most of the table (the
LIMIT trap, docs/benchmarks.md). As a term of the vector (`has:link`, which
no word can be: a word has no `:`), the GIN index finds a word's linked
messages, and the planner estimates them from the column's statistics. It
marks a text with `http://` or `https://` anywhere, in any case, as the
SQLite search's LIKE finds it.

Re-adding the generated column rewrites the table and rebuilds its index:
on a large database, expect it to take a while (about three minutes for
1,000,000 messages on a small machine).

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# Keep in step with store.sql_search.LINK_TERM.
LINK_TERM = "has:link"

DOCUMENT_FUNCTION = (
    "CREATE FUNCTION hubbub_search_document(body text) RETURNS tsvector"
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $fn$"
    " SELECT hubbub_search_vector(body) || CASE WHEN body ~* 'https?://'"
    f"  THEN '''{LINK_TERM}'''::tsvector ELSE ''::tsvector END"
    " $fn$"
)


def _vector_column(function: str) -> None:
    run = op.get_bind().exec_driver_sql
    # Dropping the column drops its GIN index; adding it back rewrites the table.
    run("ALTER TABLE messages DROP COLUMN search")
    run(
        "ALTER TABLE messages ADD COLUMN search tsvector"
        f" GENERATED ALWAYS AS ({function}(text)) STORED"
    )
    run("CREATE INDEX ix_messages_search ON messages USING gin (search)")
    # The new column has no statistics until autovacuum's next ANALYZE, and
    # without them every search would be planned on a guess.
    run("ANALYZE messages")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.get_bind().exec_driver_sql(DOCUMENT_FUNCTION)
    _vector_column("hubbub_search_document")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    _vector_column("hubbub_search_vector")
    op.get_bind().exec_driver_sql("DROP FUNCTION hubbub_search_document(text)")
