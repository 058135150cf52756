"""Channel names up to 320 characters: a group DM of nine 32-character
usernames is named `dm:` + 9 names + 8 commas = 299 characters.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.alter_column(
            "name", existing_type=sa.String(200), type_=sa.String(320), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.alter_column(
            "name", existing_type=sa.String(320), type_=sa.String(200), existing_nullable=False
        )
