"""Outgoing webhooks' deliveries: an outbox row per hook (a cursor into its
channel's log, the next attempt, a lease) and the dead letters.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hook_outbox",
        sa.Column("integration_id", sa.String(32), primary_key=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("delivered", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("dead", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(64), nullable=False, server_default=""),
        sa.Column("lease_until", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_table(
        "hook_dead_letters",
        sa.Column("integration_id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hook_dead_letters")
    op.drop_table("hook_outbox")
