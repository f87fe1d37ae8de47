"""Inserting many new posts at once, below the ORM.

A cold refresh inserts thousands of posts; SQLAlchemy's per-row parameter
processing, and on PostgreSQL psycopg re-parsing each large multi-row INSERT,
cost more than the database does. Here the rows are converted once, by hand,
and sent the cheapest way each database offers:

- SQLite: one multi-row INSERT … ON CONFLICT DO NOTHING RETURNING per chunk,
  on the DBAPI cursor.
- PostgreSQL: ids drawn from the sequence in one query, then COPY, in a
  savepoint; if a concurrent refresh inserted one of the posts meanwhile, the
  savepoint is rolled back and the caller takes the ON CONFLICT path instead.
  Their tags are COPYed in too.

Both write exactly what the ORM would: naive UTC times, JSON as text.
"""

from __future__ import annotations

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
# SQLite allows 32,766 bound values per statement; stay well below.
SQLITE_ROWS_PER_STATEMENT = 500


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
        for start in range(0, len(rows), SQLITE_ROWS_PER_STATEMENT):
            chunk = rows[start : start + SQLITE_ROWS_PER_STATEMENT]
            placeholders = "(" + ", ".join("?" * len(COLUMNS)) + ")"
            cursor.execute(
                f"INSERT INTO posts ({', '.join(COLUMNS)}) VALUES "
                + ", ".join([placeholders] * len(chunk))
                + " ON CONFLICT (source_id, entry_key) DO NOTHING"
                + " RETURNING id, source_id, entry_key",
                [value for values in chunk for value in _row(values, sqlite=True)],
            )
            inserted.extend((int(post_id), int(source), key)
                            for post_id, source, key in cursor.fetchall())  # fmt: skip
    finally:
        cursor.close()
    return inserted


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


def copy_post_tags(session: Session, pairs: Sequence[tuple[int, int]]) -> None:
    """COPY (post id, tag id) pairs in: far cheaper than a row-per-statement executemany."""
    copy_rows(session, "post_tags", ("post_id", "tag_id"), pairs)


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
