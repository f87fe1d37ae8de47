"""The full-text index of the posts, in each database's own engine.

- PostgreSQL: `posts.search_vector`, a `tsvector` (title weighted A, summary
  B, content D; the parser skips HTML tags) under a GIN index, filled after
  the post is stored: a post goes in (by COPY too) or has its text changed
  (a trigger) with none, and `catch_up` indexes those waiting, oldest first —
  the worker when it is not ingesting (or they have waited long enough), and
  every search before it looks (up to 5,000), so a search finds posts stored
  moments before.
  PostgreSQL's text parser is most of what storing a post costs the server:
  ingest goes first, the index follows.
- SQLite: `posts_fts`, an FTS5 table of the visible posts' title, summary and
  content's text, filled after the post is stored too: a trigger only notes a
  post written, or its text changed or shown again, in `posts_fts_pending`
  (an id a row), and `catch_up` indexes those waiting, oldest first, in the
  same turns as PostgreSQL's. A change of text, hiding and deleting take the
  post out of `posts_fts` at once (a trigger), so a search never finds what a
  post no longer says nor a post that is gone or hidden. The content's text
  comes from `feedsvc_text()`, a function every connection of ours registers
  (db.py); making it is most of what indexing a post costs, and none of it
  runs inside the write of a post.

Both are outside the ORM's models: nothing reads them but `feedsvc.search`.
The stemming language is the site's (`FEEDSVC_SITE_LANGUAGE`), fixed in the
schema; `ensure` rebuilds the index when it changes.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from sqlalchemy.engine import Connection

from feedsvc import content
from feedsvc.search_query import MARKS, pg_config, sqlite_tokenizer

# Schema names that belong to the index, not to the models (migrations compare them).
FTS_TABLE = "posts_fts"
VECTOR_COLUMN = "search_vector"
VECTOR_INDEX = "ix_posts_search_vector"
# PostgreSQL: the posts waiting for their vector, the function that makes one,
# and the trigger that clears it when the text changes.
PENDING_INDEX = "ix_posts_search_pending"
VECTOR_FUNCTION = "feedsvc_search_vector"
STALE_FUNCTION = "feedsvc_search_stale"
STALE_TRIGGER = "posts_search_stale"
SQLITE_FUNCTION = "feedsvc_text"
# SQLite: the posts waiting for the FTS5 table (named for it: `owns` keeps it
# out of the model comparison).
PENDING_TABLE = f"{FTS_TABLE}_pending"
# Posts indexed per statement (PostgreSQL) or transaction (SQLite) by catch_up:
# a fraction of a second.
CATCH_UP_BATCH = 1000
# Beyond this, words of a very long post add nothing findable but cost index.
INDEXED_CHARS = 200_000


def owns(name: str | None) -> bool:
    """Whether a schema object belongs to the index (the model comparison skips these)."""
    return bool(name) and (
        name in (VECTOR_COLUMN, VECTOR_INDEX, PENDING_INDEX) or str(name).startswith(FTS_TABLE)
    )


def text_of(html: Any) -> str:
    """The words of a post's HTML content, as the SQLite index holds them.

    Never raises (an error would fail catch_up's batch, and every batch
    after it), and drops the characters snippets use as match marks."""
    if not isinstance(html, str) or not html:
        return ""
    try:
        # Posts hold only what sanitize_html made (content.sanitized_text).
        text = content.sanitized_text(content.cap_html(html, INDEXED_CHARS * 2)[0])
        text = text[:INDEXED_CHARS]
    except Exception:
        return ""
    return text.translate(_NO_MARKS)


_NO_MARKS = {ord(mark): None for mark in MARKS}


def register_sqlite_functions(dbapi_connection: Any) -> None:
    dbapi_connection.create_function(SQLITE_FUNCTION, 1, text_of, deterministic=True)


def create(connection: Connection, language: str) -> None:
    """Build the index of every stored post."""
    if connection.dialect.name == "postgresql":
        _create_postgresql(connection, pg_config(language))
    elif connection.dialect.name == "sqlite":
        _create_sqlite(connection, sqlite_tokenizer(language))


def drop(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {STALE_TRIGGER} ON posts")
        connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {STALE_FUNCTION}()")
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {PENDING_INDEX}")
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {VECTOR_INDEX}")
        connection.exec_driver_sql(f"ALTER TABLE posts DROP COLUMN IF EXISTS {VECTOR_COLUMN}")
        connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {VECTOR_FUNCTION}(text, text, text)")
    elif connection.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{trigger}")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {PENDING_TABLE}")


def rebuild(connection: Connection) -> None:
    """Build the index again in this version's shape, stemming as it did."""
    built_for = indexed_language(connection)
    drop(connection)
    if connection.dialect.name == "postgresql":
        _create_postgresql(connection, built_for or pg_config("en"))
    elif connection.dialect.name == "sqlite":
        _create_sqlite(connection, built_for or sqlite_tokenizer("en"))


def ensure(connection: Connection, language: str) -> bool:
    """Rebuild the index if it stems for another language, or if a migration
    that rebuilt `posts` on SQLite took its triggers away; True if it did."""
    if indexed_language(connection) == _wanted(connection, language) and _complete(connection):
        return False
    drop(connection)
    create(connection, language)
    return True


def _complete(connection: Connection) -> bool:
    """Whether the triggers (and SQLite's queue) are there, as this version writes them."""
    if connection.dialect.name == "postgresql":
        return bool(connection.exec_driver_sql(
            f"SELECT 1 FROM pg_trigger WHERE tgname = '{STALE_TRIGGER}'"
            " AND tgrelid = 'posts'::regclass"
        ).scalar())  # fmt: skip
    if connection.dialect.name != "sqlite":
        return True
    found: dict[str, str] = dict(connection.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '{FTS_TABLE}_%'"
    ).all())  # fmt: skip
    queue = connection.exec_driver_sql(
        f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{PENDING_TABLE}'"
    ).scalar()
    return found == _sqlite_triggers() and bool(queue)


def indexed_language(connection: Connection) -> str | None:
    """The PostgreSQL configuration or SQLite tokenizer the index was built with."""
    if connection.dialect.name == "postgresql":
        # Said in the column's comment (an index of an older version has none).
        return connection.exec_driver_sql(
            "SELECT col_description(a.attrelid, a.attnum) FROM pg_attribute a"
            f" WHERE a.attrelid = 'posts'::regclass AND a.attname = '{VECTOR_COLUMN}'"
        ).scalar()
    sql = connection.exec_driver_sql(
        f"SELECT sql FROM sqlite_master WHERE name = '{FTS_TABLE}'"
    ).scalar()
    found = re.search(r"tokenize\s*=\s*'([^']*)'", sql or "")
    return found.group(1) if found else None


def _wanted(connection: Connection, language: str) -> str:
    if connection.dialect.name == "postgresql":
        return pg_config(language)
    return sqlite_tokenizer(language)


def _create_postgresql(connection: Connection, config: str) -> None:
    def vector(column: str, weight: str) -> str:
        return (f"setweight(to_tsvector('{config}'::regconfig,"
                f" left(coalesce({column}, ''), {INDEXED_CHARS})), '{weight}')")  # fmt: skip

    connection.exec_driver_sql(
        f"CREATE FUNCTION {VECTOR_FUNCTION}(title text, summary text, content text)"
        " RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT"
        f" {vector('title', 'A')} || {vector('summary', 'B')} || {vector('content', 'D')} $$"
    )
    connection.exec_driver_sql(f"ALTER TABLE posts ADD COLUMN {VECTOR_COLUMN} tsvector")
    connection.exec_driver_sql(f"COMMENT ON COLUMN posts.{VECTOR_COLUMN} IS '{config}'")
    # The posts stored before, in one pass; the indexes are built after it.
    connection.exec_driver_sql(
        f"UPDATE posts SET {VECTOR_COLUMN} = {VECTOR_FUNCTION}(title, summary, content)"
    )
    connection.exec_driver_sql(f"CREATE INDEX {VECTOR_INDEX} ON posts USING gin ({VECTOR_COLUMN})")
    connection.exec_driver_sql(
        f"CREATE INDEX {PENDING_INDEX} ON posts (id) WHERE {VECTOR_COLUMN} IS NULL"
    )
    connection.exec_driver_sql(
        f"CREATE FUNCTION {STALE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN NEW.{VECTOR_COLUMN} := NULL; RETURN NEW; END $$"
    )
    changed = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}"
                          for column in ("title", "summary", "content"))  # fmt: skip
    connection.exec_driver_sql(
        f"CREATE TRIGGER {STALE_TRIGGER} BEFORE UPDATE OF title, summary, content ON posts"
        f" FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {STALE_FUNCTION}()"
    )


def catch_up(connection: Connection, limit: int = CATCH_UP_BATCH) -> int:
    """Index up to `limit` posts waiting for the search index, oldest first;
    how many were waiting. PostgreSQL skips the posts another transaction is
    indexing rather than wait; SQLite's writers take turns."""
    if connection.dialect.name == "sqlite":
        return _catch_up_sqlite(connection, limit)
    if connection.dialect.name != "postgresql":
        return 0
    result = connection.exec_driver_sql(
        f"UPDATE posts SET {VECTOR_COLUMN} = {VECTOR_FUNCTION}(title, summary, content)"
        f" WHERE id IN (SELECT id FROM posts WHERE {VECTOR_COLUMN} IS NULL ORDER BY id"
        " LIMIT %(limit)s FOR UPDATE SKIP LOCKED)",
        {"limit": limit},
    )
    return int(result.rowcount or 0)


def _catch_up_sqlite(connection: Connection, limit: int) -> int:
    # The INSERT comes first, so the write transaction is open (db.py begins
    # one before a write) when the batch is read: the DELETE takes away the
    # very batch indexed. A post hidden while it waited leaves unindexed.
    batch = f"SELECT id FROM {PENDING_TABLE} ORDER BY id LIMIT ?"
    connection.exec_driver_sql(
        f"INSERT INTO {FTS_TABLE} (rowid, title, summary, body)"
        f" SELECT id, title, summary, {SQLITE_FUNCTION}(content) FROM posts"
        f" WHERE id IN ({batch}) AND hidden = 0",
        (limit,),
    )
    taken = connection.exec_driver_sql(
        f"DELETE FROM {PENDING_TABLE} WHERE id IN ({batch})", (limit,)
    )
    return int(taken.rowcount or 0)


def before_search(connection: Connection) -> None:
    """What waits for the index goes in first (up to SEARCH_CATCH_UP posts):
    a search finds posts stored moments before, even before the worker has
    indexed them."""
    if connection.dialect.name == "sqlite":
        _before_search_sqlite(connection)
        return
    if connection.dialect.name != "postgresql":
        return
    waiting = connection.exec_driver_sql(
        f"SELECT 1 FROM posts WHERE {VECTOR_COLUMN} IS NULL LIMIT 1"
    ).scalar()
    if waiting:
        catch_up(connection, SEARCH_CATCH_UP)


def _before_search_sqlite(connection: Connection) -> None:
    waiting = connection.exec_driver_sql(f"SELECT 1 FROM {PENDING_TABLE} LIMIT 1").scalar()
    if not waiting:
        return
    raw: Any = connection.connection.dbapi_connection  # sqlite3's own
    if raw is None or raw.in_transaction:
        # The caller's transaction, which holds the write lock (db.py): in it.
        catch_up(connection, SEARCH_CATCH_UP)
        return
    # A reading session (a request's): a transaction of its own, committed at
    # once, so the session does not keep the write lock to its end, nor lose
    # the work should it roll back. Where writing is refused (a read-only
    # database), the search finds what is indexed.
    try:
        raw.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_READONLY:
            return
        raise
    try:
        catch_up(connection, SEARCH_CATCH_UP)
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")


# A search indexes at most this many waiting posts first: the worker does the rest.
SEARCH_CATCH_UP = 5000


def _sqlite_triggers() -> dict[str, str]:
    """The triggers that keep the FTS5 table to the visible posts, by name: a
    visible post written, or changed, waits in the queue for `catch_up`
    (nothing made or tokenized in the write itself); a change takes the old
    row out at once, and so does a delete, from the queue too."""
    wait = f"INSERT OR IGNORE INTO {PENDING_TABLE} (id) SELECT new.id WHERE new.hidden = 0;"
    leave = f"DELETE FROM {FTS_TABLE} WHERE rowid = old.id;"
    changed = " OR ".join(f"old.{column} IS NOT new.{column}"
                          for column in ("title", "summary", "content", "hidden"))  # fmt: skip
    body = {
        "insert": f"AFTER INSERT ON posts WHEN new.hidden = 0"
        f" BEGIN INSERT OR IGNORE INTO {PENDING_TABLE} (id) VALUES (new.id); END",
        "delete": f"AFTER DELETE ON posts"
        f" BEGIN {leave} DELETE FROM {PENDING_TABLE} WHERE id = old.id; END",
        "update": f"AFTER UPDATE OF title, summary, content, hidden ON posts WHEN {changed}"
        f" BEGIN {leave} {wait} END",
    }
    return {f"{FTS_TABLE}_{event}": f"CREATE TRIGGER {FTS_TABLE}_{event} {sql}"
            for event, sql in body.items()}  # fmt: skip


def _create_sqlite(connection: Connection, tokenizer: str) -> None:
    # Visible posts only: a search never sees a hidden one, and never pays
    # for leaving them out.
    connection.exec_driver_sql(
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, summary, body,"
        f" tokenize = '{tokenizer}')"
    )
    connection.exec_driver_sql(f"CREATE TABLE {PENDING_TABLE} (id INTEGER PRIMARY KEY)")
    for sql in _sqlite_triggers().values():
        connection.exec_driver_sql(sql)
    index_stored_posts(connection)


def index_stored_posts(connection: Connection) -> None:
    """Put every visible post into the FTS5 table (SQLite), a thousand at a
    time: their text made here, so the connection needs no function of ours
    (a migration's may have none)."""
    last = 0
    while True:
        rows = connection.exec_driver_sql(
            "SELECT id, title, summary, content, hidden FROM posts WHERE id > ? ORDER BY id"
            " LIMIT 1000",
            (last,),
        ).all()
        if not rows:
            break
        connection.exec_driver_sql(
            f"INSERT INTO {FTS_TABLE} (rowid, title, summary, body) VALUES (?, ?, ?, ?)",
            [(row[0], row[1], row[2], text_of(row[3])) for row in rows if not row[4]],
        )
        last = rows[-1][0]
