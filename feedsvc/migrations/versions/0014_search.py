"""search: the full-text index of posts, and authors by slug

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from feedsvc import content, search_index

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("author_slug", sa.String(length=200), nullable=True))
        batch.create_index("ix_posts_author_published", ["author_slug", "published_at"])
    connection = op.get_bind()
    authors = connection.execute(
        sa.text("SELECT DISTINCT author FROM posts WHERE author IS NOT NULL")
    ).scalars()
    for author in list(authors):
        connection.execute(
            sa.text("UPDATE posts SET author_slug = :slug WHERE author = :author"),
            {"slug": content.author_slug(author), "author": author},
        )
    # Built for the default language; `feedsvc db upgrade` rebuilds it for the site's.
    search_index.create(connection, "en")


def downgrade() -> None:
    search_index.drop(op.get_bind())
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_author_published")
        batch.drop_column("author_slug")
