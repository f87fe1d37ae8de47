"""posts.draft: a local post saved but not yet published (issue 22)

A draft is stored hidden as well, so every page, feed, count and popular list
that leaves hidden posts out leaves drafts out too; publishing clears both.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch): SQLite keeps the table, and its search triggers.
    op.add_column(
        "posts", sa.Column("draft", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("draft")
