"""search after ingest: the PostgreSQL search vector filled after a post is stored

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

from alembic import op

from feedsvc import search_index

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The generated column becomes a plain one that the worker and searches fill
    # (search_index.py); SQLite's index is unchanged. Built for the default
    # language, as 0014 did; `feedsvc db upgrade` rebuilds it for the site's.
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        search_index.drop(connection)
        search_index.create(connection, "en")


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    search_index.drop(connection)

    def vector(column: str, weight: str) -> str:
        return (f"setweight(to_tsvector('english'::regconfig,"
                f" left(coalesce({column}, ''), 200000)), '{weight}')")  # fmt: skip

    op.execute(
        "ALTER TABLE posts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        f"{vector('title', 'A')} || {vector('summary', 'B')} || {vector('content', 'D')}"
        ") STORED"
    )
    op.execute("CREATE INDEX ix_posts_search_vector ON posts USING gin (search_vector)")
