"""Inserting many new posts at once, below the ORM.

A cold refresh inserts thousands of posts; SQLAlchemy's per-row parameter
processing, and on PostgreSQL psycopg re-parsing each large multi-row INSERT,
cost more than the database does. Here the rows are converted once, by hand,
and sent the cheapest way each database offers:

- SQLite: multi-row INSERT … ON CONFLICT DO NOTHING RETURNING statements of a
  few fixed sizes, on the DBAPI cursor: each size is parsed once per
  connection (sqlite3 keeps prepared statements by their text), where a
  statement sized to each group's rows was parsed anew every time.
- PostgreSQL: ids drawn from the sequence in one query, then COPY, in a
  savepoint; if a concurrent refresh inserted one of the posts meanwhile, the
  savepoint is rolled back and the caller takes the ON CONFLICT path instead.
  Their tags are COPYed in too.

Plain rows of other tables (a post's tags, its story bands) go in by COPY on
PostgreSQL and one prepared INSERT on SQLite (`insert_plain`).

Both write exactly what the ORM would: naive UTC times, JSON as text.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from feedsvc.models import Post, UTCDateTime, to_naive_utc

COLUMNS = [column.name for column in Post.__table__.columns if column.name != "id"]
JSON_COLUMNS = {"enclosures", "itunes"}
# A row is the values picked in column order (in C), then the few columns that
# need converting converted: 7,000 rows of 40-odd columns each add up.
_PICK = operator.itemgetter(*COLUMNS)
_TIMES = [i for i, name in enumerate(COLUMNS)
          if isinstance(Post.__table__.columns[name].type, UTCDateTime)]  # fmt: skip
_JSON = [i for i, name in enumerate(COLUMNS) if name in JSON_COLUMNS]
# Rows per statement on SQLite, largest first: any count is a sum of these, so
# a handful of statements serve every group. 256 rows of 40-odd columns stay
# well below SQLite's 32,766 bound values per statement.
SQLITE_STATEMENT_ROWS = (256, 64, 16, 4, 1)


def _driver(session: Session) -> Any:
    """The DBAPI connection under the session's, in the same transaction."""
    return session.connection().connection.driver_connection


def _row(values: dict[str, Any], sqlite: bool) -> list[Any]:
    row = list(_PICK(values))
    for i in _TIMES:
        if row[i] is not None:
            row[i] = to_naive_utc(row[i])
            if sqlite:
                row[i] = row[i].isoformat(" ", "microseconds")
    for i in _JSON:
        if row[i] is not None:
            row[i] = json.dumps(row[i])
    return row


def insert_sqlite(session: Session, rows: Sequence[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """Insert, skipping (source, entry key) duplicates; (id, source id, entry key)
    of each inserted."""
    cursor = _driver(session).cursor()
    inserted: list[tuple[int, int, str]] = []
    try:
        start = 0
        for size in SQLITE_STATEMENT_ROWS:
            while len(rows) - start >= size:
                chunk = rows[start : start + size]
                start += size
                values = [value for row in chunk for value in _row(row, sqlite=True)]
                cursor.execute(_sqlite_insert(size), values)
                inserted.extend((int(post_id), int(source), key)
                                for post_id, source, key in cursor.fetchall())  # fmt: skip
    finally:
        cursor.close()
    return inserted


@functools.cache
def _sqlite_insert(rows: int) -> str:
    placeholders = "(" + ", ".join("?" * len(COLUMNS)) + ")"
    return (
        f"INSERT INTO posts ({', '.join(COLUMNS)}) VALUES "
        + ", ".join([placeholders] * rows)
        + " ON CONFLICT (source_id, entry_key) DO NOTHING RETURNING id, source_id, entry_key"
    )


def copy_postgresql(
    session: Session, rows: Sequence[dict[str, Any]]
) -> list[tuple[int, int, str]] | None:
    """COPY the rows in; None, with nothing written, if any was there already."""
    import psycopg

    with _driver(session).cursor() as cursor:
        # A savepoint of the driver's own: the session's would flush the ORM first.
        cursor.execute("SAVEPOINT bulk_posts")
        try:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('posts', 'id')) FROM generate_series(1, %s)",
                (len(rows),),
            )
            ids = [int(post_id) for (post_id,) in cursor.fetchall()]
            with cursor.copy(f"COPY posts (id, {', '.join(COLUMNS)}) FROM STDIN") as copy:
                for post_id, values in zip(ids, rows, strict=True):
                    copy.write_row([post_id, *_row(values, sqlite=False)])
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT bulk_posts")
            return None
        cursor.execute("RELEASE SAVEPOINT bulk_posts")
    return [(post_id, values["source_id"], values["entry_key"])
            for post_id, values in zip(ids, rows, strict=True)]  # fmt: skip


def insert_plain(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert plain rows (numbers, text, aware times) into a table, below the ORM:
    COPY on PostgreSQL, one prepared INSERT for all rows on SQLite."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        copy_rows(session, table, columns, ([_plain(v, False) for v in row] for row in rows))
        return
    cursor = _driver(session).cursor()
    try:
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [[_plain(v, True) for v in row] for row in rows],
        )
    finally:
        cursor.close()


def _plain(value: Any, sqlite: bool) -> Any:
    """A time as a UTC column stores it (naive UTC; on SQLite, SQLAlchemy's text form)."""
    if not isinstance(value, dt.datetime):
        return value
    naive = to_naive_utc(value)
    return naive.isoformat(" ", "microseconds") if sqlite else naive


def copy_rows(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY plain rows (numbers, naive UTC times) into a table, on PostgreSQL."""
    with (
        _driver(session).cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def any_of(column: Any, values: Sequence[Any], dialect: str) -> Any:
    """`column IN values`; on PostgreSQL `= ANY(array)`, one parameter: an IN
    list of hundreds is rendered and converted anew for every statement."""
    if dialect == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)
