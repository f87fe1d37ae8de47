"""full articles: sources that fetch each entry's page, and each post's article state

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(
            sa.Column("fetch_full", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("article_selector", sa.String(length=500), nullable=True))
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("article_state", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("article_error", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("article_tries", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("article_next_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_posts_article_due", ["article_state", "article_next_at"])


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_article_due")
        batch.drop_column("article_next_at")
        batch.drop_column("article_tries")
        batch.drop_column("article_error")
        batch.drop_column("article_state")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("article_selector")
        batch.drop_column("fetch_full")
