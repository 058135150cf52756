"""Pins: who pinned a message to its channel and when, on the message (its
state, like edited_at), indexed for the channel's pinned list.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("pinned_at", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column(
                "pinned_by",
                sa.Integer(),
                sa.ForeignKey("users.id", name="fk_messages_pinned_by"),
                nullable=True,
            )
        )
    # Partial: plain messages, most of them, are not in it (no cost on a send).
    op.create_index(
        "ix_messages_pinned",
        "messages",
        ["channel_id", "pinned_at"],
        sqlite_where=sa.text("pinned_at IS NOT NULL"),
        postgresql_where=sa.text("pinned_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_pinned", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("pinned_by")
        batch.drop_column("pinned_at")
