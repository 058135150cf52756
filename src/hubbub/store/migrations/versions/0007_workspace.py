"""Running a workspace: roles, deactivation and custom statuses on users;
purpose, archiving and default channels on channels; channel admins on
memberships; and new tables for sessions, invites, the audit log and the
names channels had before a rename.

An upgraded database gets what a new one would have had: the first account
registered (the lowest id) is the owner, everyone else a member; the public
`general` channel, the one every workspace started with, is the default
channel new accounts join; no member becomes a channel admin (nobody was
one before).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


# Every change here is one SQLite's ALTER TABLE makes in place (ADD COLUMN
# with a constant default, DROP COLUMN of a plain column), so the batches
# never recreate a table: a copy-and-drop of `users` or `channels` fails
# under `PRAGMA foreign_keys=ON` (other tables reference them), and the
# migrations run in a transaction, where that pragma cannot be switched off.
# Hence the Booleans' default is the constant "0" (false on both databases):
# an expression such as sa.false() would make Alembic recreate the table.


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="member"))
        batch.add_column(sa.Column("deactivated_at", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("status_emoji", sa.String(64), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("status_text", sa.String(100), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("status_until", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("channels", recreate="never") as batch:
        batch.add_column(sa.Column("purpose", sa.String(250), nullable=False, server_default=""))
        batch.add_column(sa.Column("archived_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("is_default", sa.Boolean(), nullable=False, server_default="0"))
    with op.batch_alter_table("memberships", recreate="never") as batch:
        batch.add_column(sa.Column("is_admin", sa.Boolean(), nullable=False, server_default="0"))

    op.create_table(
        "channel_aliases",
        sa.Column("name", sa.String(320), primary_key=True),
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id"), nullable=False),
        sa.Column("renamed_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_channel_aliases_channel", "channel_aliases", ["channel_id"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=False),
        sa.Column("device", sa.String(200), nullable=False, server_default=""),
        sa.Column("address", sa.String(64), nullable=False, server_default=""),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_id"])
    op.create_table(
        "invites",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("role", sa.String(16), nullable=False, server_default="member"),
        sa.Column("channels", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("revoked", sa.Boolean(), nullable=False, server_default="0"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default="{}"),
    )

    # The backfill (every new column's default already made the rest right).
    op.execute("UPDATE users SET role = 'owner' WHERE id = (SELECT MIN(id) FROM users)")
    op.execute(
        sa.text(
            "UPDATE channels SET is_default = :yes WHERE name = 'general' AND kind = 'public'"
        ).bindparams(yes=True)
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("invites")
    op.drop_index("ix_sessions_user", "sessions")
    op.drop_table("sessions")
    op.drop_index("ix_channel_aliases_channel", "channel_aliases")
    op.drop_table("channel_aliases")
    with op.batch_alter_table("memberships", recreate="never") as batch:
        batch.drop_column("is_admin")
    with op.batch_alter_table("channels", recreate="never") as batch:
        batch.drop_column("is_default")
        batch.drop_column("archived_at")
        batch.drop_column("purpose")
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("status_until")
        batch.drop_column("status_text")
        batch.drop_column("status_emoji")
        batch.drop_column("deactivated_at")
        batch.drop_column("role")
