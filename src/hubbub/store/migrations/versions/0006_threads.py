"""Threads: a reply names its root (and whether it was also sent to the
channel); a root holds its reply count and last reply's time; and who follows
which thread, with their read cursor in it.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("thread_root", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("broadcast", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("reply_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_reply_at", sa.BigInteger(), nullable=True))
    # Partial: plain messages, most of them, are not in it (no cost on a send).
    op.create_index(
        "ix_messages_thread",
        "messages",
        ["channel_id", "thread_root", "seq"],
        sqlite_where=sa.text("thread_root IS NOT NULL"),
        postgresql_where=sa.text("thread_root IS NOT NULL"),
    )
    op.create_table(
        "thread_follows",
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id"), primary_key=True),
        sa.Column("root_seq", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("last_read", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_thread_follows_user", "thread_follows", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_thread_follows_user", "thread_follows")
    op.drop_table("thread_follows")
    op.drop_index("ix_messages_thread", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("last_reply_at")
        batch.drop_column("reply_count")
        batch.drop_column("broadcast")
        batch.drop_column("thread_root")
