"""Storing entries through the pipeline: dedup, change detection, re-keyed
entries, overlap, odd feeds; and the bulk insert under it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedsvc.db import Database
from feedsvc.ingest.apply import _insert_new_posts
from feedsvc.ingest.parse import Enclosure, ParsedEntry, ParsedFeed, parse_feed
from feedsvc.ingest.pipeline import RefreshReport
from feedsvc.ingest.prepare import PreparedEntry, PrepareSettings, prepare_feed
from feedsvc.ingest.process import process_feed
from feedsvc.ingest.types import FeedMeta, Target
from feedsvc.models import Post, Source, Tag
from feedsvc.sources import add_source
from tests.feedserver import rss
from tests.ingesting import store_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
URL = "http://example.org/feed.xml"


def store(
    db: Database, body: bytes, now: dt.datetime = NOW, content_type: str | None = None
) -> RefreshReport:
    with db.session() as session:
        source = session.scalar(select(Source).where(Source.feed_url == URL))
        if source is None:
            source = add_source(session, URL, now)
    return store_feed(db, source.id, body, now, content_type)


def ready(entries: Sequence[ParsedEntry]) -> tuple[PreparedEntry, ...]:
    """Entries as the pipeline hands them to `apply`: prepared and processed."""
    feed = ParsedFeed(FeedMeta("F"), tuple(entries))
    prepared = prepare_feed(feed, URL, PrepareSettings())
    return process_feed(prepared, Target(1, URL)).entries


def _insert_posts(
    session: Session, source_id: int, entries: Sequence[PreparedEntry], now: dt.datetime
) -> tuple[int, set[int]]:
    """One source's new posts through the group insert: how many went in, their tags' ids."""
    ((new, tags),) = _insert_new_posts(session, [(source_id, entries)], now)
    return len(new), tags


def posts(db: Database) -> list[Post]:
    with db.session() as session:
        return list(session.scalars(select(Post).order_by(Post.id)))


def item(n: int, **extra: str) -> dict[str, str]:
    return {"guid": f"g{n}", "title": f"Title {n}", "link": f"http://example.org/{n}",
            "description": f"Body {n}", **extra}  # fmt: skip


def test_unchanged_entries_are_not_touched(db: Database) -> None:
    assert store(db, rss("F", [item(1), item(2)])).new == 2
    before = [(p.id, p.modified_at, p.updated_at) for p in posts(db)]
    report = store(db, rss("F", [item(1), item(2)]), NOW + dt.timedelta(hours=1))
    assert (report.new, report.updated) == (0, 0)
    assert [(p.id, p.modified_at, p.updated_at) for p in posts(db)] == before


def test_changed_content_updates_the_post(db: Database) -> None:
    store(db, rss("F", [item(1)]))
    later = NOW + dt.timedelta(hours=1)
    report = store(db, rss("F", [item(1, description="Body 1, corrected")]), later)
    assert (report.new, report.updated) == (0, 1)
    [post] = posts(db)
    assert post.content == "Body 1, corrected" and post.modified_at == later


def test_posts_that_leave_the_feed_are_kept(db: Database) -> None:
    store(db, rss("F", [item(1), item(2)]))
    store(db, rss("F", [item(3)]))
    assert [p.title for p in posts(db)] == ["Title 1", "Title 2", "Title 3"]


def test_new_id_same_link_updates_instead_of_duplicating(db: Database) -> None:
    store(db, rss("F", [item(1)]))
    report = store(db, rss("F", [{**item(1), "guid": "urn:new-id-1"}]))
    assert (report.new, report.updated) == (0, 1)
    [post] = posts(db)
    assert post.entry_key == "urn:new-id-1"


def test_entry_key_falls_back_to_link_then_hash(db: Database) -> None:
    no_guid = {"title": "Linked", "link": "http://example.org/linked"}
    bare = {"title": "Bare", "description": "Nothing else"}
    store(db, rss("F", [no_guid, bare]))
    store(db, rss("F", [no_guid, bare]))
    keys = [p.entry_key for p in posts(db)]
    assert keys[0] == "http://example.org/linked"
    assert keys[1].startswith("hash:") and len(keys) == 2


def test_undated_entries_get_first_seen_time_once(db: Database) -> None:
    store(db, rss("F", [item(1)]), NOW)
    store(db, rss("F", [item(1)]), NOW + dt.timedelta(days=1))
    [post] = posts(db)
    assert post.published_at == NOW


def test_a_repeated_id_within_one_feed_is_stored_once(db: Database) -> None:
    assert store(db, rss("F", [item(1), item(1, description="dup")])).new == 1


def test_overlapping_refreshes_neither_fail_nor_double(db: Database) -> None:
    body = rss("F", [item(n) for n in range(30)])
    with db.session() as session:
        add_source(session, URL, NOW)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            store(db, body)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 30


def test_hostile_html_leaves_nothing_executable(db: Database) -> None:
    hostile = (
        "&lt;p&gt;Hi&lt;script&gt;alert(1)&lt;/script&gt;"
        "&lt;img src=x onerror=alert(2)&gt;"
        "&lt;a href='javascript:alert(3)'&gt;x&lt;/a&gt;"
        "&lt;svg onload=alert(4)&gt;&lt;/svg&gt;"
        "&lt;style&gt;body{display:none}&lt;/style&gt;"
        "&lt;iframe src='http://evil.test'&gt;&lt;/iframe&gt;"
        "&lt;a href='vbscript:msgbox'&gt;v&lt;/a&gt;&lt;/p&gt;"
    )
    store(db, rss("F", [item(1, description=hostile)]))
    [post] = posts(db)
    lowered = post.content.lower()
    for marker in ("<script", "onerror", "javascript:", "<svg", "onload", "<style",
                   "<iframe", "vbscript:", "alert(1)"):  # fmt: skip
        assert marker not in lowered, marker
    assert "Hi" in post.content and "display:none" not in post.content


def test_relative_links_become_absolute(db: Database) -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.org/blog/">
<title>A</title><id>urn:a</id><updated>2026-11-20T00:00:00Z</updated>
<entry><id>urn:a:1</id><title>One</title><link href="posts/1"/>
<updated>2026-11-20T00:00:00Z</updated>
<content type="html">&lt;a href="../about"&gt;about&lt;/a&gt;
&lt;img src="img/p.png" alt="p"&gt;</content>
</entry></feed>"""
    store(db, atom)
    [post] = posts(db)
    assert post.link == "http://example.org/blog/posts/1"
    assert 'href="http://example.org/about"' in post.content
    assert 'src="http://example.org/blog/img/p.png"' in post.content
    assert post.image_url == "http://example.org/blog/img/p.png"


def test_cdata_content_is_kept(db: Database) -> None:
    body = rss("F", [item(1, description="<![CDATA[<p>In <b>CDATA</b> &amp; more</p>]]>")])
    store(db, body)
    [post] = posts(db)
    assert post.content == "<p>In <b>CDATA</b> &amp; more</p>"
    assert post.summary == "In CDATA & more"


def test_encoding_declared_in_xml(db: Database) -> None:
    body = (
        '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>F</title>'
        "<item><guid>1</guid><title>Caf\xe9 cr\xe8me</title></item></channel></rss>"
    ).encode("iso-8859-1")
    store(db, body)
    assert posts(db)[0].title == "Café crème"


def test_encoding_declared_in_http(db: Database) -> None:
    body = (
        '<rss version="2.0"><channel><title>F</title>'
        "<item><guid>1</guid><title>\u201cQuoted\u201d \u20ac5</title></item></channel></rss>"
    ).encode("windows-1252")
    store(db, body, content_type="application/rss+xml; charset=windows-1252")
    assert posts(db)[0].title == "\u201cQuoted\u201d \u20ac5"


def test_tags_and_enclosures(db: Database) -> None:
    body = rss("F", [item(1, category="Python")]).replace(
        b"</item>",
        b'<category>Feeds</category><enclosure url="http://example.org/a.mp3" '
        b'length="123" type="audio/mpeg"/></item>',
    )
    store(db, body)
    with db.session() as session:
        post = session.scalars(select(Post)).one()
        assert sorted(t.name for t in post.tags) == ["Feeds", "Python"]
        assert post.enclosures == [
            {"url": "http://example.org/a.mp3", "type": "audio/mpeg", "length": 123}
        ]


def test_the_bulk_insert_writes_what_the_orm_reads_back(db: Database) -> None:
    entry = ParsedEntry(
        key="k1", title="Dates & things", link="http://example.org/1", author="Ann",
        summary_html="", content_html="<p>Body</p>", content_base=None,
        published=dt.datetime(2026, 11, 1, 8, 30, 15, 123456, tzinfo=dt.UTC),
        updated=dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        tags=("a", "b"),
        enclosures=(Enclosure("http://example.org/a.mp3", "audio/mpeg", 1234),),
    )  # fmt: skip
    with db.session() as session:
        source = add_source(session, URL, NOW)
        new, _ = _insert_posts(session, source.id, ready([entry]), NOW)
    assert new == 1
    (post,) = posts(db)
    assert post.published_at == dt.datetime(2026, 11, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)
    assert post.updated_at == dt.datetime(2026, 11, 2, 7, 0, tzinfo=dt.UTC)
    assert (post.created_at, post.modified_at) == (NOW, NOW)
    assert post.enclosures == [{"url": "http://example.org/a.mp3", "type": "audio/mpeg",
                                "length": 1234}]  # fmt: skip
    assert (post.hidden, post.popular_excluded, post.title) == (False, False, "Dates & things")
    assert sorted(tag.name for tag in post.tags) == ["a", "b"]
    assert len(post.uid) == 32


def test_a_bulk_insert_that_meets_a_post_inserted_meanwhile_skips_just_that_one(
    db: Database,
) -> None:
    """Two refreshes of one source racing: the loser's batch collides with the
    winner's rows. PostgreSQL's COPY fails as a whole; the savepoint undoes it
    and the ON CONFLICT path inserts the rest."""
    entries = parse_feed(rss("F", [item(1), item(2), item(3)]), URL).entries
    with db.session() as session:
        source = add_source(session, URL, NOW)
        prepared = ready(entries)
        # Another refresh got item 2 in first.
        assert _insert_posts(session, source.id, [prepared[1]], NOW)[0] == 1
        new, _ = _insert_posts(session, source.id, prepared, NOW)
        assert new == 2
        # The transaction is still usable after the rolled-back COPY.
        assert session.scalar(select(func.count()).select_from(Post)) == 3
    assert sorted(p.entry_key for p in posts(db)) == sorted(e.key for e in entries)


def test_a_group_of_sources_is_inserted_together_each_counted_and_tagged_apart(
    db: Database,
) -> None:
    """One statement for a group's new posts: two sources sharing entry keys
    and tag names each get their own posts, counts and tags, and a post of one
    inserted meanwhile costs only that post."""
    tagged = [item(1, category="Shared"), item(2, category="Only A")]
    entries = parse_feed(rss("F", tagged), URL).entries
    with db.session() as session:
        first = add_source(session, URL, NOW)
        second = add_source(session, "http://example.net/feed.xml", NOW)
        prepared = ready(entries)
        assert _insert_posts(session, second.id, [prepared[0]], NOW)[0] == 1  # there already
        inserted = _insert_new_posts(
            session, [(first.id, prepared), (second.id, prepared), (999_999, ())], NOW
        )
        shared, only_a = (
            session.scalar(select(Tag.id).where(Tag.name == name)) for name in ("Shared", "Only A")
        )
    counted = [(len(new_ids), tag_ids) for new_ids, tag_ids in inserted]
    assert counted == [(2, {shared, only_a}), (1, {only_a}), (0, set())]
    stored = {(p.source_id, p.entry_key): sorted(t.name for t in p.tags) for p in posts(db)}
    one, two = (entry.key for entry in entries)
    assert stored == {
        (first.id, one): ["Shared"], (first.id, two): ["Only A"],
        (second.id, one): ["Shared"], (second.id, two): ["Only A"],
    }  # fmt: skip
