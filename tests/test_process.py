"""The process stage: URLs from upstream are http(s) or nothing — unit cases,
then hostile feeds served on 127.0.0.1 and refreshed through the pipeline."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.fetcher import Fetcher, FetchSettings
from feedsvc.ingest import IngestSettings, refresh_source
from feedsvc.ingest.prepare import PreparedEntry, PreparedFeed
from feedsvc.ingest.process import process_feed, web_urls_only
from feedsvc.ingest.types import FeedMeta, Target
from feedsvc.models import Post, Source
from feedsvc.sources import add_source
from tests.feedserver import ATOM_TYPE, RSS_TYPE, FeedServer, Reply

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
TARGET = Target(1, "http://a.test/feed")
HOSTILE = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "http://a.test/" + "x" * 2100,
]


def entry(link: str | None, enclosure: str, image: str | None) -> PreparedEntry:
    values: dict[str, Any] = {
        "link": link, "image_url": image, "title": "T", "content": "", "summary": "",
        "author": None, "published": None, "updated": None,
        "enclosures": [{"url": enclosure, "type": "audio/mpeg", "length": 1},
                       {"url": "https://a.test/ok.mp3", "type": "audio/mpeg", "length": 2}],
    }  # fmt: skip
    return PreparedEntry(key="k", entry_hash="h", values=values)


@pytest.mark.parametrize("bad", HOSTILE)
def test_non_web_urls_are_dropped_from_entries_and_said(bad: str) -> None:
    cleaned = web_urls_only(entry(bad, bad, bad), TARGET)
    assert cleaned.values["link"] is None and cleaned.values["image_url"] is None
    assert [e["url"] for e in cleaned.values["enclosures"]] == ["https://a.test/ok.mp3"]
    assert any("link dropped" in note for note in cleaned.notes)
    assert any("enclosure dropped" in note for note in cleaned.notes)


def test_web_urls_pass_untouched() -> None:
    good = entry("https://a.test/1", "http://a.test/a.mp3", "https://a.test/i.png")
    assert web_urls_only(good, TARGET) is good


@pytest.mark.parametrize("bad", HOSTILE)
def test_the_feeds_own_link_is_checked_too(bad: str) -> None:
    feed = PreparedFeed(meta=FeedMeta(link=bad), entries=())
    assert process_feed(feed, TARGET).meta.link is None


def test_every_kept_entry_is_sealed_with_its_hashes() -> None:
    feed = PreparedFeed(meta=FeedMeta(), entries=(entry("https://a.test/1", "x", None),))
    (sealed,) = process_feed(feed, TARGET).entries
    assert sealed.values["entry_hash"] == "h" and len(sealed.values["content_hash"]) == 64


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as instance:
        yield instance


HOSTILE_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Hostile</title><link>javascript:alert('feed')</link>
<description>x</description>
<item><guid>g1</guid><title>Script link</title><link>javascript:alert(document.cookie)</link>
<description>one</description>
<enclosure url="javascript:alert('enclosure')" type="audio/mpeg" length="1"/></item>
<item><guid>g2</guid><title>Data link</title>
<link>data:text/html,&lt;script&gt;alert(2)&lt;/script&gt;</link>
<description>&lt;img src="data:image/svg+xml,&lt;svg onload=alert(3)&gt;"&gt;two</description>
<enclosure url="data:audio/mpeg;base64,AAAA" type="audio/mpeg" length="1"/>
<enclosure url="http://example.org/fine.mp3" type="audio/mpeg" length="5"/></item>
</channel></rss>"""

HOSTILE_ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Hostile Atom</title><id>urn:h</id>
<link rel="alternate" href="javascript:alert('feed')"/><updated>2026-11-24T10:00:00Z</updated>
<entry><id>urn:h:1</id><title>A</title><updated>2026-11-24T10:00:00Z</updated>
<link rel="alternate" href="javascript:alert(1)"/>
<link rel="enclosure" href="javascript:alert(2)" type="image/png" length="3"/>
<content type="html">text</content></entry></feed>"""

HOSTILE_JSON = json.dumps({
    "version": "https://jsonfeed.org/version/1.1", "title": "Hostile JSON",
    "home_page_url": "javascript:alert('home')",
    "items": [{"id": "j1", "url": "javascript:alert(1)", "content_text": "x",
               "image": "javascript:alert(2)",
               "attachments": [{"url": "data:audio/mpeg;base64,AA", "mime_type": "audio/mpeg"}]}],
}).encode()  # fmt: skip


@pytest.mark.parametrize(
    ("body", "headers"),
    [(HOSTILE_RSS, RSS_TYPE), (HOSTILE_ATOM, ATOM_TYPE),
     (HOSTILE_JSON, {"Content-Type": "application/feed+json"})],
    ids=["rss", "atom", "json"],
)  # fmt: skip
def test_hostile_urls_from_upstream_are_never_stored(
    db: Database, fetcher: Fetcher, feed_server: FeedServer, body: bytes, headers: dict[str, str]
) -> None:
    feed_server.routes["/f"] = Reply(200, body, headers)
    with db.session() as session:
        source_id = add_source(session, feed_server.url("/f"), NOW).id
    report = refresh_source(db, source_id, fetcher=fetcher, now=NOW, settings=IngestSettings())
    assert report.result == "ok" and report.new >= 1
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None and source.site_url is None
        stored = session.scalars(select(Post)).all()
    urls = [u for post in stored for u in (post.link, post.image_url) if u]
    urls += [e["url"] for post in stored for e in post.enclosures]
    assert all(u.startswith(("http://", "https://")) for u in urls), urls
    for post in stored:
        assert "javascript:" not in post.content.lower() and "data:" not in post.content.lower()
