"""Database engine and sessions.

Sessions are opened at the edges (a request, a job, a command) and passed down.
SQLite gets the pragmas that make it a good embedded store: WAL so readers never
block the writer, foreign keys on, and a busy timeout instead of instant
"database is locked" errors. It also gets real transactions: pysqlite's own
transaction handling is off and SQLAlchemy emits BEGIN itself (its documented
recipe, "Enabling Non-Legacy SQLite Transactional Modes"), so a savepoint is
part of its transaction and a rollback undoes everything since BEGIN — left
alone, pysqlite begins only before INSERT/UPDATE/DELETE, and a savepoint taken
first is a transaction of its own that its RELEASE commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

# Execution option: how a SQLite transaction begins ("DEFERRED" or "IMMEDIATE").
SQLITE_BEGIN = "feedsvc_sqlite_begin"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def for_writing(engine: Engine) -> Engine:
    """The engine, beginning its SQLite transactions IMMEDIATE (see Database)."""
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite emits no BEGIN or COMMIT of its own from here on; _sqlite_begin does.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One engine and its session factories, shared by a process.

    Two kinds of session, which differ only on SQLite:

    - `session()` and `writer_sessions` are for work that writes. They begin
      IMMEDIATE, taking the write lock up front and waiting for it (the busy
      timeout). A deferred transaction that has read and then writes cannot
      wait: under WAL its snapshot is stale once another writer has committed,
      so SQLite refuses at once with "database is locked" (SQLITE_BUSY_SNAPSHOT)
      without calling the busy handler — and the worker's threads always read
      before they write.
    - `sessions` (a request's session) begin DEFERRED: pages and feeds only read,
      and under WAL readers neither wait for the writer nor hold it back.
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

        `write=False` for work that only reads: on SQLite it then takes no lock.
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
