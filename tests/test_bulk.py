"""Writing many posts below the ORM (ingest/bulk.py): what goes in is what the
ORM would have written, whatever the number of rows, and a post already there
is skipped, not doubled."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, text

from feedsvc.db import Database
from feedsvc.ingest import apply, bulk
from feedsvc.models import FetchAttempt, Post, StoryBand, Tag, to_naive_utc
from feedsvc.sources import add_source
from tests.ingesting import store_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
# Every statement size insert_sqlite uses, and a remainder of each.
MANY = sum(bulk.SQLITE_STATEMENT_ROWS) * 2 + 1


def feed(count: int, words: int = 12) -> bytes:
    items = "".join(
        f"<item><guid>urn:item:{n}</guid><title>Item number {n}</title>"
        f"<link>https://example.org/items/{n}</link><category>topic-{n % 7}</category>"
        f"<pubDate>{(NOW - dt.timedelta(minutes=n)).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
        f"</pubDate><description>&lt;p&gt;Body of item {n}, unlike any other: "
        f"{' '.join(f'w{n}x{k}' for k in range(words))}&lt;/p&gt;</description></item>"
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Many</title>'
        f"<link>https://example.org/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def new_source(db: Database) -> int:
    with db.session() as session:
        source = add_source(session, "https://example.org/feed.xml", NOW, title="Many")
        session.flush()
        return source.id


def test_a_feed_of_many_entries_is_stored_whole_and_each_entry_once(db: Database) -> None:
    source_id = new_source(db)
    store_feed(db, source_id, feed(MANY), NOW, "application/rss+xml")
    # The same entries again, and a few more: only those are new.
    store_feed(db, source_id, feed(MANY + 5), NOW + dt.timedelta(hours=1), "application/rss+xml")
    with db.session() as session:
        posts = list(session.scalars(select(Post).where(Post.source_id == source_id)))
        assert len(posts) == MANY + 5
        assert len({post.entry_key for post in posts}) == MANY + 5
        by_key = {post.entry_key: post for post in posts}
        for n in (0, 1, MANY // 2, MANY - 1):
            post = by_key[f"urn:item:{n}"]
            assert post.title == f"Item number {n}"
            assert post.published_at == NOW - dt.timedelta(minutes=n)
            assert post.created_at == NOW
            assert [tag.name for tag in post.tags] == [f"topic-{n % 7}"]
        assert by_key[f"urn:item:{MANY}"].created_at == NOW + dt.timedelta(hours=1)
        # Each original post is indexed for story comparison, stamped when stored.
        bands = session.execute(select(StoryBand.post_id, StoryBand.created_at)).all()
        assert {post_id for post_id, _ in bands} == {post.id for post in posts}
        assert {created for _, created in bands} == {NOW, NOW + dt.timedelta(hours=1)}
        assert session.scalar(select(func.count()).select_from(Tag)) == 7
        # The fetch history, written below the ORM too.
        attempts = list(session.scalars(select(FetchAttempt).order_by(FetchAttempt.id)))
        assert [(a.source_id, a.started_at, a.outcome, a.new_count, a.updated_count, a.error)
                for a in attempts] == [
            (source_id, NOW, "ok", MANY, 0, None),
            (source_id, NOW + dt.timedelta(hours=1), "ok", 5, 0, None),
        ]  # fmt: skip
        assert attempts[0].bytes == len(feed(MANY))
        assert attempts[0].url == "https://example.org/feed.xml"


def _rows_of(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{name: value for name, value in row.items() if name != "id"} for row in posts]


def test_rows_already_stored_are_skipped_and_the_others_inserted(db: Database) -> None:
    source_id = new_source(db)
    store_feed(db, source_id, feed(40), NOW)
    with db.session() as session:
        stored = [dict(row) for row in session.execute(
            select(Post.__table__).order_by(Post.id)
        ).mappings()]  # fmt: skip
        rows = _rows_of(stored)
        fresh = []
        for n, row in enumerate(rows * (MANY // len(rows) + 1)):
            if n % 3:
                fresh.append({**row, "entry_key": f"urn:copy:{n}", "uid": uuid.uuid4().hex})
        # Stored rows among new ones, in every statement size.
        mixed = [row for pair in zip(rows, fresh, strict=False) for row in pair] + fresh[40:]
        inserted = apply._insert_rows(session, mixed)
        assert [key for _, _, key in inserted] == [row["entry_key"] for row in fresh]
        assert all(source == source_id for _, source, _ in inserted)
        copies = session.execute(
            select(Post.entry_key, Post.published_at, Post.enclosures)
            .where(Post.entry_key.like("urn:copy:%"))
        ).all()
        assert len(copies) == len(fresh)
        by_key = {row["entry_key"]: row for row in fresh}
        for key, published, enclosures in copies:
            assert published == by_key[key]["published_at"]
            assert enclosures == by_key[key]["enclosures"]
        # The stored ones are untouched.
        assert session.scalar(select(func.count()).select_from(Post)) == len(rows) + len(fresh)


@pytest.mark.parametrize("offset", [0, 5, -8])
def test_times_go_in_as_naive_utc(offset: int) -> None:
    zone = dt.timezone(dt.timedelta(hours=offset))
    moment = dt.datetime(2026, 3, 1, 12, 30, 15, 250, tzinfo=zone)
    stored = to_naive_utc(moment)
    assert stored.tzinfo is None
    assert stored.replace(tzinfo=dt.UTC) == moment
    assert to_naive_utc(moment.astimezone(dt.UTC)) == stored
    with pytest.raises(ValueError, match="naive"):
        to_naive_utc(moment.replace(tzinfo=None))


def test_postgresql_compresses_post_text_with_lz4(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("column compression is PostgreSQL's")
    with db.session() as session:
        methods = session.execute(text(
            "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
        )).scalar()  # fmt: skip
        if "lz4" not in (methods or []):
            pytest.skip("this PostgreSQL was built without lz4")
    source_id = new_source(db)
    store_feed(db, source_id, feed(3, words=600), NOW, "application/rss+xml")
    with db.session() as session:
        found = session.execute(text(
            "SELECT pg_column_compression(content), pg_column_compression(summary) FROM posts"
        )).all()  # fmt: skip
    # The content is long enough to be compressed; the summary (300 characters)
    # only when the row would not fit otherwise.
    assert [content for content, _ in found] == ["lz4"] * 3
    assert {summary for _, summary in found} <= {"lz4", None}
