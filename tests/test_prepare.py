"""Preparing entries: what it makes of them, and that unchanged ones are skipped."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select, update

from feedsvc.db import Database
from feedsvc.ingest import prepare
from feedsvc.ingest.parse import parse_feed
from feedsvc.ingest.prepare import PrepareSettings, entry_hash, prepare_feed
from feedsvc.ingest.types import Enclosure, Episode, Thumbnail
from feedsvc.models import Post
from feedsvc.sources import add_source
from tests.feedserver import rss
from tests.ingesting import store_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
URL = "http://example.org/feed.xml"


def items(*bodies: str) -> list[dict[str, str]]:
    return [{"guid": f"urn:g{n}", "title": f"Title {n}", "link": f"http://example.org/{n}",
             "description": body} for n, body in enumerate(bodies)]  # fmt: skip


def test_equal_entries_hash_equal_and_any_change_shows() -> None:
    [a] = parse_feed(rss("F", items("one")), URL).entries
    [b] = parse_feed(rss("F", items("one")), URL).entries
    [c] = parse_feed(rss("F", items("two")), URL).entries
    settings = PrepareSettings()
    assert entry_hash(a, URL, settings) == entry_hash(b, URL, settings)
    assert entry_hash(a, URL, settings) != entry_hash(c, URL, settings)
    # What preparing reads beyond the entry counts too (the feed's base only
    # for an entry without a link of its own).
    assert entry_hash(a, URL, settings) == entry_hash(a, "http://other.example/", settings)
    bare = dataclasses.replace(a, link=None, content_base=None)
    assert entry_hash(bare, URL, settings) != entry_hash(bare, "http://other.example/", settings)
    assert entry_hash(a, URL, settings) != entry_hash(a, URL, PrepareSettings(summary_length=5))


CHANGES = {
    "key": "urn:other", "title": "Other", "link": "http://example.org/other", "author": "A",
    "published": NOW, "updated": NOW, "content_html": "<p>other</p>",
    "summary_html": "<p>other</p>", "tags": ("t",), "content_base": "http://b.example/",
    "enclosures": (Enclosure("http://e.example/a.mp3", "audio/mpeg", 1),),
    "original_link": "http://o.example/", "thumbnail": Thumbnail("http://t.example/i.png"),
    "episode": Episode(duration=60), "comments_url": "http://c.example/",
    "comments_feed": "http://c.example/feed",
}  # fmt: skip


def test_every_field_of_an_entry_counts_in_its_hash() -> None:
    [entry] = parse_feed(rss("F", items("one")), URL).entries
    assert set(CHANGES) == {field.name for field in dataclasses.fields(entry)}
    settings = PrepareSettings()
    hashes = {entry_hash(entry, URL, settings)}
    for name, value in CHANGES.items():
        hashes.add(entry_hash(dataclasses.replace(entry, **{name: value}), URL, settings))
    assert len(hashes) == len(CHANGES) + 1
    # Where the HTML lies counts, not just what it is.
    places = [("ab", "c"), ("a", "bc"), ("abc", ""), ("", "abc"), ("abc", "abc")]
    moved = [dataclasses.replace(entry, content_html=c, summary_html=s) for c, s in places]
    assert len({entry_hash(e, URL, settings) for e in moved}) == len(moved)


def test_known_entries_are_not_prepared() -> None:
    parsed = parse_feed(rss("F", items("one", "two", "three")), URL)
    first = prepare_feed(parsed, URL, PrepareSettings())
    known = {first.entries[0].entry_hash, first.entries[2].entry_hash}
    again = prepare_feed(parsed, URL, PrepareSettings(), known)
    assert [e.key for e in again.entries] == ["urn:g1"]
    assert [key for key, _ in again.unchanged] == ["urn:g0", "urn:g2"]
    # The learning times come from every entry, prepared or not.
    assert again.entry_times == first.entry_times


def test_a_refresh_prepares_only_what_changed_upstream(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared: list[str] = []
    original = prepare.prepare_entry

    def counting(entry, *args):  # type: ignore[no-untyped-def]
        prepared.append(entry.key)
        return original(entry, *args)

    monkeypatch.setattr(prepare, "prepare_entry", counting)
    with db.session() as session:
        source_id = add_source(session, URL, NOW).id
    later = NOW + dt.timedelta(hours=1)

    assert store_feed(db, source_id, rss("F", items("a", "b", "c")), NOW).new == 3
    assert prepared == ["urn:g0", "urn:g1", "urn:g2"]
    prepared.clear()
    report = store_feed(db, source_id, rss("F", items("a", "b", "c")), later)
    assert (report.new, report.updated, prepared) == (0, 0, [])
    report = store_feed(db, source_id, rss("F", items("a", "B!", "c")), later)
    assert (report.new, report.updated, prepared) == (0, 1, ["urn:g1"])


def test_posts_stored_before_entry_hashes_get_one_without_being_rewritten(db: Database) -> None:
    with db.session() as session:
        source_id = add_source(session, URL, NOW).id
    store_feed(db, source_id, rss("F", items("a", "b")), NOW)
    with db.session() as session:
        session.execute(update(Post).values(entry_hash=None))
        before = session.execute(select(Post.id, Post.modified_at, Post.content_hash)).all()
    report = store_feed(db, source_id, rss("F", items("a", "b")), NOW + dt.timedelta(days=1))
    assert (report.new, report.updated) == (0, 0)
    with db.session() as session:
        after = session.execute(select(Post.id, Post.modified_at, Post.content_hash)).all()
        assert None not in session.scalars(select(Post.entry_hash)).all()
    assert after == before
