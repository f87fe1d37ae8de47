"""stories: rewrite settings and retention per source, duplicates across sources

Revision ID: 0008
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(
            sa.Column("strip_selectors", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("retain_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("retain_per_source", sa.Integer(), nullable=True))
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("canonical_link", sa.String(length=2048), nullable=True))
        batch.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_posts_duplicate_of_id_posts"), "posts", ["duplicate_of_id"], ["id"],
            ondelete="CASCADE",
        )  # fmt: skip
        batch.create_index("ix_posts_canonical_link", ["canonical_link"])
        batch.create_index("ix_posts_duplicate_of_id", ["duplicate_of_id"])
    op.create_table(
        "story_bands",
        sa.Column("band", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_story_bands_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("band", "post_id", name=op.f("pk_story_bands")),
    )
    with op.batch_alter_table("story_bands") as batch:
        batch.create_index("ix_story_bands_post_id", ["post_id"])
        batch.create_index("ix_story_bands_created_at", ["created_at"])


def downgrade() -> None:
    op.drop_table("story_bands")
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_duplicate_of_id")
        batch.drop_index("ix_posts_canonical_link")
        batch.drop_constraint(op.f("fk_posts_duplicate_of_id_posts"), type_="foreignkey")
        batch.drop_column("duplicate_of_id")
        batch.drop_column("canonical_link")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("retain_per_source")
        batch.drop_column("retain_days")
        batch.drop_column("strip_selectors")
