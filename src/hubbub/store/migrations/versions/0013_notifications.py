"""Notification preferences: per member and channel (level, muted), and per
user (do-not-disturb, its daily schedule, e-mail digests).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_notify",
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("level", sa.String(16), nullable=False, server_default="mentions"),
        sa.Column("muted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_channel_notify_user", "channel_notify", ["user_id"])
    op.create_table(
        "user_notify",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("dnd_until", sa.BigInteger(), nullable=True),
        sa.Column("schedule", sa.Text(), nullable=True),
        sa.Column("email_digest", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("digest_marks", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("user_notify")
    op.drop_index("ix_channel_notify_user", "channel_notify")
    op.drop_table("channel_notify")
