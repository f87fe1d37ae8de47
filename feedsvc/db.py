"""Database engine and sessions.

Sessions are opened at the edges (a request, a job, a command) and passed down.
SQLite gets the pragmas that make it a good embedded store: WAL so readers never
block the writer, foreign keys on, and a busy timeout instead of instant
"database is locked" errors.

SQLite also gets real transactions. Left alone, pysqlite begins one only before
INSERT/UPDATE/DELETE, so a SAVEPOINT taken first is a transaction of its own
that its RELEASE commits, and a rollback after it undoes nothing. Here pysqlite's
transaction handling is off and BEGIN is ours, as in SQLAlchemy's documented
recipe ("Enabling Non-Legacy SQLite Transactional Modes"): see Database for
when a transaction begins, and why always IMMEDIATE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from feedsvc.search_index import register_sqlite_functions

# Execution option: "IMMEDIATE" begins a SQLite transaction as soon as the
# session begins; without it, at the session's first statement that may write.
SQLITE_BEGIN = "feedsvc_sqlite_begin"
# Statements that never start a SQLite transaction in a reading session.
_READS = ("SELECT", "PRAGMA", "EXPLAIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _sqlite_begin_before_writing)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def for_writing(engine: Engine) -> Engine:
    """The engine, beginning its SQLite transactions with the session (see Database)."""
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite emits no BEGIN of its own from here on (it still commits and
    # rolls back what is open); the two hooks below do.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # The search index's catch-up makes each waiting post's text with it.
    register_sqlite_functions(dbapi_connection)


def _sqlite_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(SQLITE_BEGIN) == "IMMEDIATE":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_before_writing(
    _connection: Connection, cursor: Any, statement: str, *_args: Any
) -> None:
    dbapi_connection = cursor.connection
    if dbapi_connection.in_transaction:
        return
    if not statement.lstrip()[:7].upper().startswith((*_READS, "BEGIN")):
        dbapi_connection.execute("BEGIN IMMEDIATE")


class Database:
    """One engine and its session factories, shared by a process.

    Two kinds of session, which differ only on SQLite:

    - `session()` (and `writer_sessions`), for work that writes — jobs,
      commands, a counted view: BEGIN IMMEDIATE when the session begins, so
      what it reads and what it writes are one serializable transaction.
    - `sessions` (a request's session) and `session(write=False)`, for work
      that reads: each read sees the latest commit, as on PostgreSQL, and takes
      no lock; the first statement that may write (or a savepoint) begins
      IMMEDIATE, and the rest of the session is one transaction. Rows written
      on the DBAPI connection itself (ingest/bulk.py) belong to a transaction
      only in a writer's session.

    Always IMMEDIATE, never a deferred BEGIN: a deferred transaction that has
    read cannot take the write lock once another writer has committed — under
    WAL its snapshot is stale, and SQLite answers "database is locked"
    (SQLITE_BUSY_SNAPSHOT) at once, without the busy timeout. IMMEDIATE takes
    the lock up front and waits for it. One thread must not hold a writer's
    session open while another session in that thread writes: the second waits
    for the first.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.writer_sessions = sessionmaker(for_writing(self.engine), expire_on_commit=False)
        # Connections kept outside the pool, closed with it.
        self.on_dispose: list[Callable[[], None]] = []

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A session that commits when the block ends cleanly, else rolls back.

        `write=False` for work that mostly reads: on SQLite it takes the write
        lock only from its first write on.
        """
        session = self.writer_sessions() if write else self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        for close in self.on_dispose:
            close()
        self.engine.dispose()
