"""Bots and API tokens: an account may be a bot (owned by a person), and a
session may be an API token (a name, scopes, the hash of its secret).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


# In place on SQLite (ADD COLUMN with constant defaults, no foreign key), as
# in 0007: recreating `users` fails while other tables reference it. The
# owner is therefore not a foreign key; the core checks it.


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("is_bot", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("sessions", recreate="never") as batch:
        batch.add_column(sa.Column("name", sa.String(80), nullable=False, server_default=""))
        batch.add_column(sa.Column("scopes", sa.String(32), nullable=True))
        batch.add_column(sa.Column("key_hash", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("sessions", recreate="never") as batch:
        batch.drop_column("key_hash")
        batch.drop_column("scopes")
        batch.drop_column("name")
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("owner_id")
        batch.drop_column("is_bot")
