"""What changed in the published content, kept in the `counters` table.

Two kinds of rows:

- `content_version`: bumped by every transaction that changes a post. Feed
  render caches are keyed by it, so every web worker sees a change at once,
  and reading it is one primary-key lookup. Comments have versions of their
  own (`comments_version`, and `comments:<post id>` per post): a comment
  changes its post's comment feeds, the site's comment feed and the counts,
  never the post feeds' cached renders.
- `dirty:<scope>`: a queue of feed scopes with changes not yet announced to
  WebSub hubs (`posts`, `source:<id>`, `tag:<id>`, `comments`,
  `comments:<post id>`). The publisher takes them
  with DELETE … RETURNING, so a change committed meanwhile waits for the next
  sweep instead of being lost.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from feedsvc.models import Counter

CONTENT_VERSION = "content_version"
COMMENTS_VERSION = "comments_version"
DIRTY = "dirty:"
ALL_POSTS = "posts"
ALL_COMMENTS = "comments"


VERSION_NAME = re.compile(r"[a-z_]+(:[0-9]+)?")


def source_scope(source_id: int) -> str:
    return f"source:{source_id}"


def tag_scope(tag_id: int) -> str:
    return f"tag:{tag_id}"


def post_comments_scope(post_id: int) -> str:
    """The scope (and version name) of one post's comments."""
    return f"{ALL_COMMENTS}:{post_id}"


def note_changes(session: Session, now: dt.datetime, scopes: Iterable[str] = ()) -> None:
    """Record that posts in these scopes changed; call inside the writing transaction."""
    names = sorted({CONTENT_VERSION, DIRTY + ALL_POSTS, *(DIRTY + scope for scope in scopes)})
    # Sorted, so concurrent writers lock the rows in one order and never deadlock;
    # one statement executed for many rows, compiled once.
    session.execute(_increment(session.get_bind().dialect.name), [
        {"counter_name": name, "now": now} for name in names
    ])  # fmt: skip


def note_comment_changes(session: Session, now: dt.datetime, post_ids: Iterable[int]) -> None:
    """Record that these posts' comments changed (and so their counts); call
    inside the writing transaction. The content version stays as it was."""
    scopes = [post_comments_scope(post_id) for post_id in set(post_ids)]
    if not scopes:
        return
    names = sorted({COMMENTS_VERSION, DIRTY + ALL_COMMENTS, *scopes,
                    *(DIRTY + scope for scope in scopes)})  # fmt: skip
    session.execute(_increment(session.get_bind().dialect.name), [
        {"counter_name": name, "now": now} for name in names
    ])  # fmt: skip


@functools.cache
def _increment(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = insert(Counter).values(
        name=bindparam("counter_name"), value=1, updated_at=bindparam("now")
    )
    return statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"value": Counter.value + 1, "updated_at": statement.excluded.updated_at},
    )


def content_version(connection: Connection) -> int:
    """The current content version; 0 before the first change."""
    value = connection.execute(
        text("SELECT value FROM counters WHERE name = :name"), {"name": CONTENT_VERSION}
    ).scalar()
    return int(value or 0)


class VersionReader:
    """Reads the content version on every feed request, so it must be cheap:
    one connection of its own, outside the pool, in autocommit, reused.

    Outside the pool it is not pre-pinged: if the database restarted since the
    last read, the connection is dead, so the read reconnects once."""

    QUERY = "SELECT value FROM counters WHERE name = 'content_version'"
    # Counter names are ours (a word, or a word and a number), never a client's.
    NAMED = "SELECT name, value FROM counters WHERE name IN ({names})"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Any = None
        self._lock = threading.Lock()

    def read(self) -> int:
        """The content version."""
        rows = self._query(self.QUERY)
        return int(rows[0][0]) if rows else 0

    def read_many(self, names: Sequence[str]) -> tuple[int, ...]:
        """The versions of these names, in their order (0 for one never bumped), in one query."""
        for name in names:
            if not VERSION_NAME.fullmatch(name):
                raise ValueError(f"not a version name: {name!r}")
        quoted = ", ".join(f"'{name}'" for name in names)
        found = dict(self._query(self.NAMED.format(names=quoted)))
        return tuple(int(found.get(name) or 0) for name in names)

    def _query(self, query: str) -> list[Any]:
        with self._lock:
            kept = self._connection is not None
            try:
                return self._query_locked(query)
            except Exception as exc:
                lost = kept and self._disconnected(exc)
                self.close_locked()
                if not lost:
                    raise
            try:
                return self._query_locked(query)
            except Exception:
                self.close_locked()
                raise

    def _query_locked(self, query: str) -> list[Any]:
        if self._connection is None:
            self._connection = self._connect()
        cursor = self._connection.cursor()
        try:
            cursor.execute(query)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _disconnected(self, exc: Exception) -> bool:
        dialect = self.engine.dialect
        return isinstance(exc, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
            exc, self._connection, None
        )

    def _connect(self) -> Any:
        fairy = self.engine.raw_connection()
        fairy.detach()
        connection: Any = fairy.dbapi_connection
        if self.engine.dialect.name == "postgresql":
            connection.autocommit = True
        return connection

    def close_locked(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self.close_locked()


def take_dirty_scopes(session: Session) -> list[str]:
    """Remove and return the scopes changed since the last call."""
    rows = session.execute(
        delete(Counter).where(Counter.name.startswith(DIRTY)).returning(Counter.name)
    )
    return sorted(name.removeprefix(DIRTY) for (name,) in rows)


def peek_dirty_scopes(session: Session) -> list[str]:
    names = session.scalars(select(Counter.name).where(Counter.name.startswith(DIRTY)))
    return sorted(name.removeprefix(DIRTY) for name in names)
