"""comments: readers' comments under posts, per-post counts and closing, upstream discussions

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_url", sa.String(length=2048), nullable=True),
        sa.Column("author_key", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("by_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_comments_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["comments.id"],
            name=op.f("fk_comments_parent_id_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
        sa.UniqueConstraint("uid", name=op.f("uq_comments_uid")),
    )
    op.create_index("ix_comments_post_state", "comments", ["post_id", "state", "created_at"])
    op.create_index("ix_comments_state_created", "comments", ["state", "created_at"])
    op.create_index(op.f("ix_comments_parent_id"), "comments", ["parent_id"])
    op.create_index(op.f("ix_comments_author_key"), "comments", ["author_key"])
    with op.batch_alter_table("posts") as batch:
        batch.add_column(
            sa.Column("comment_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("comments_closed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("upstream_comments_url", sa.String(2048), nullable=True))
        batch.add_column(sa.Column("upstream_comments_feed", sa.String(2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("upstream_comments_feed")
        batch.drop_column("upstream_comments_url")
        batch.drop_column("comments_closed")
        batch.drop_column("comment_count")
    op.drop_index(op.f("ix_comments_author_key"), table_name="comments")
    op.drop_index(op.f("ix_comments_parent_id"), table_name="comments")
    op.drop_index("ix_comments_state_created", table_name="comments")
    op.drop_index("ix_comments_post_state", table_name="comments")
    op.drop_table("comments")
