"""reader pages: one shared popular ranking per window, per-source category options

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "popular_rankings",
        sa.Column("window", sa.String(length=8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("post_ids", sa.JSON(), nullable=False),
        sa.Column("ranked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("window"),
    )
    with op.batch_alter_table("sources") as batch:
        batch.add_column(
            sa.Column("keep_categories", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("category_names", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("category_names")
        batch.drop_column("keep_categories")
    op.drop_table("popular_rankings")
