"""Telling "the database is away" from every other error.

An outage is nobody's fault among the sources: a refresh that meets one
records nothing, counts no error and is tried again once the database is back.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa_exc

_SQLITE_FAULTS = ("locked", "busy", "unable to open", "disk i/o", "readonly", "read-only")


class DatabaseUnavailable(Exception):
    """The database could not be reached; nothing was written."""

    @classmethod
    def because(cls, error: BaseException) -> DatabaseUnavailable:
        """Said in the first line of the driver's own words."""
        words = str(error).strip()
        return cls(words.splitlines()[0] if words else type(error).__name__)


def is_database_fault(error: BaseException) -> bool:
    """A lost or refused connection, a locked or read-only database, a pool timeout.

    Not an error of the data or the statement (a value too long, an index row
    too big): that one would fail again at once, and must be a source's error.
    """
    if isinstance(error, DatabaseUnavailable | sa_exc.TimeoutError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig  # type: ignore[assignment]
    if isinstance(error, sqlite3.OperationalError):
        # sqlite3 also says OperationalError for a missing table: that is a bug.
        return any(words in str(error).lower() for words in _SQLITE_FAULTS)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - PostgreSQL support not installed
        return False
    if isinstance(error, psycopg.InterfaceError):
        return True
    if isinstance(error, psycopg.OperationalError):
        # psycopg files "index row too big" under OperationalError too: only a
        # connection that failed (no SQLSTATE, class 08) or a server going
        # down (57P01-57P03) is an outage.
        state = getattr(error, "sqlstate", None)
        return state is None or state.startswith("08") or state in _SERVER_GOING_AWAY
    return False


_SERVER_GOING_AWAY = {"57P01", "57P02", "57P03"}
