"""sqlite search after ingest: SQLite's FTS5 table filled after a post is stored

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

from alembic import op

from feedsvc import search_index
from feedsvc.search_query import sqlite_tokenizer

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0014's triggers, which made each post's text and indexed it as it was written.
_INDEX = (
    "INSERT INTO posts_fts (rowid, title, summary, body)"
    " SELECT new.id, new.title, new.summary, feedsvc_text(new.content) WHERE new.hidden = 0;"
)
_UNINDEX = "DELETE FROM posts_fts WHERE rowid = old.id;"
_TRIGGERS = {
    "insert": f"AFTER INSERT ON posts BEGIN {_INDEX} END",
    "delete": f"AFTER DELETE ON posts BEGIN {_UNINDEX} END",
    "update": f"AFTER UPDATE OF title, summary, content, hidden ON posts"
    f" BEGIN {_UNINDEX} {_INDEX} END",
}


def upgrade() -> None:
    # Writes only queue a post for the index (search_index.py); rebuilt with
    # every stored post indexed, stemming as it did. PostgreSQL is unchanged.
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        search_index.rebuild(connection)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    tokenizer = search_index.indexed_language(connection) or sqlite_tokenizer("en")
    search_index.drop(connection)
    op.execute(
        f"CREATE VIRTUAL TABLE posts_fts USING fts5(title, summary, body, tokenize = '{tokenizer}')"
    )
    for event, sql in _TRIGGERS.items():
        op.execute(f"CREATE TRIGGER posts_fts_{event} {sql}")
    search_index.index_stored_posts(connection)
