"""Podcasts stay podcasts: iTunes fields kept from upstream, republished in the
source's RSS feed the way podcast apps and the W3C feed validator expect."""

from __future__ import annotations

import datetime as dt
import re

import feedparser
import pytest
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.ingest.parse import duration_seconds
from feedsvc.models import Post, Source
from feedsvc.sources import add_source
from tests.ingesting import store_feed
from tests.publish_helpers import check_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
OWNER = (
    "<itunes:owner><itunes:name>Pod Owner</itunes:name>"
    "<itunes:email>owner@pod.example</itunes:email></itunes:owner>"
)


def podcast_feed(owner: str = OWNER) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Pod</title><link>http://pod.example/</link><description>A show</description>
<language>en</language>
<itunes:image href="http://pod.example/cover.jpg"/>
<itunes:explicit>false</itunes:explicit>
{owner}
<itunes:category text="Technology"/>
<item><guid>e1</guid><title>Episode one</title><link>http://pod.example/1</link>
<description>First.</description><pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate>
<enclosure url="http://pod.example/1.mp3" type="audio/mpeg" length="1234"/>
<itunes:duration>1:02:03</itunes:duration><itunes:episode>7</itunes:episode>
<itunes:explicit>yes</itunes:explicit><itunes:image href="http://pod.example/ep1.jpg"/>
<media:thumbnail url="http://pod.example/t.jpg" width="320" height="180"/></item>
<item><guid>e2</guid><title>Episode two</title><link>http://pod.example/2</link>
<description>Second.</description><pubDate>Sun, 22 Nov 2026 09:00:00 GMT</pubDate>
<enclosure url="http://pod.example/2.m4a" type="audio/mp4" length="99"/>
<itunes:duration>125</itunes:duration><itunes:explicit>clean</itunes:explicit></item>
</channel></rss>""".encode()


def ingest(db: Database, body: bytes) -> int:
    with db.session() as session:
        source = add_source(session, "http://pod.example/feed.xml", NOW, title="Pod")
    store_feed(db, source.id, body, NOW)
    return source.id


def test_itunes_fields_are_stored(db: Database) -> None:
    source_id = ingest(db, podcast_feed())
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None and source.itunes == {
            "image": "http://pod.example/cover.jpg", "explicit": False,
            "category": "Technology", "owner_name": "Pod Owner",
            "owner_email": "owner@pod.example",
        }  # fmt: skip
        posts = {p.title: p for p in session.scalars(select(Post))}
    one = posts["Episode one"]
    assert one.itunes == {"duration": 3723, "image": "http://pod.example/ep1.jpg",
                          "episode": 7, "explicit": True}  # fmt: skip
    # media:thumbnail wins, with its size.
    assert (one.image_url, one.image_width, one.image_height) == ("http://pod.example/t.jpg",
                                                                   320, 180)  # fmt: skip
    assert posts["Episode two"].itunes == {"duration": 125, "explicit": False}


def test_podcast_tags_survive_a_round_trip(client: FlaskClient, db: Database) -> None:
    source_id = ingest(db, podcast_feed())
    body = client.get(f"/feeds/sources/{source_id}.rss").data
    parsed = check_feed("rss", body)
    assert parsed.feed.image.href == "http://pod.example/cover.jpg"
    assert parsed.feed.publisher_detail.email == "owner@pod.example"
    assert [t.term for t in parsed.feed.tags if "itunes" in (t.scheme or "")] == ["Technology"]
    by_title = {entry.title: entry for entry in parsed.entries}
    one, two = by_title["Episode one"], by_title["Episode two"]
    assert one.itunes_duration == "1:02:03" and one.itunes_episode == "7"
    assert one.image.href == "http://pod.example/ep1.jpg"
    assert one.enclosures[0].href == "http://pod.example/1.mp3"
    assert two.itunes_duration == "0:02:05"
    # Parsed again by our own ingest, the fields come back the same.
    with db.session() as session:
        again = add_source(session, "http://feeds.test/again.xml", NOW, title="Again")
    store_feed(db, again.id, body, NOW)
    with db.session() as session:
        copy = session.scalar(select(Post).where(Post.source_id == again.id,
                                                 Post.title == "Episode one"))  # fmt: skip
        assert copy is not None and copy.itunes == {
            "duration": 3723, "image": "http://pod.example/ep1.jpg", "episode": 7,
            "explicit": True,
        }  # fmt: skip
        stored = session.get(Source, again.id)
        assert stored is not None and stored.itunes is not None
        assert stored.itunes["explicit"] is False and stored.itunes["category"] == "Technology"


def test_podcast_rss_meets_the_feed_validators_itunes_rules(
    client: FlaskClient, db: Database
) -> None:
    """What the W3C validator's itunes.py checks, element by element: with any
    itunes element present the channel needs language, itunes:category,
    itunes:explicit and itunes:owner with itunes:email; explicit is true or
    false; durations are [H]H:MM:SS or MM:SS; episodes positive integers; an
    item with iTunes fields has an enclosure Apple takes."""
    source_id = ingest(db, podcast_feed())
    root = etree.fromstring(client.get(f"/feeds/sources/{source_id}.rss").data)
    channel = root.find("channel")
    assert channel is not None
    assert channel.findtext("language") == "en"
    assert [c.get("text") for c in channel.findall(ITUNES + "category")] == ["Technology"]
    assert [e.text for e in channel.findall(ITUNES + "explicit")] == ["false"]
    owner = channel.find(ITUNES + "owner")
    assert owner is not None and owner.findtext(ITUNES + "email") == "owner@pod.example"
    assert channel.find(ITUNES + "image").get("href").startswith("http://")  # type: ignore[union-attr]
    items = channel.findall("item")
    assert len(items) == 2
    for item in items:
        for duration in item.findall(ITUNES + "duration"):
            assert re.search(r"([0-9]?[0-9]:)?[0-5]?[0-9]:[0-5][0-9]$", duration.text or "")
        for number in item.findall(ITUNES + "episode"):
            assert int(number.text or "") > 0
        assert [e.text for e in item.findall(ITUNES + "explicit")] in (["true"], ["false"])
        url = item.find("enclosure").get("url")  # type: ignore[union-attr]
        assert url.rsplit(".", 1)[-1] in {"m4a", "mp3", "mov", "mp4", "m4v", "pdf", "epub"}
        for name in ("duration", "episode", "explicit", "image"):
            assert len(item.findall(ITUNES + name)) <= 1


def test_a_podcast_short_of_what_apple_requires_stays_plain_rss(
    client: FlaskClient, db: Database
) -> None:
    """No owner e-mail: iTunes fields would earn validator warnings, so the feed
    is plain RSS with enclosures (which podcast apps play all the same)."""
    source_id = ingest(db, podcast_feed(owner=""))
    body = client.get(f"/feeds/sources/{source_id}.rss").data
    check_feed("rss", body)
    assert b"itunes" not in body
    assert b'<enclosure url="http://pod.example/1.mp3"' in body


@pytest.mark.parametrize("path", ["/feeds/posts.rss", "/feeds/summary.rss"])
def test_only_the_source_feed_speaks_itunes(client: FlaskClient, db: Database, path: str) -> None:
    ingest(db, podcast_feed())
    body = client.get(path).data
    check_feed("rss", body)
    assert b"itunes" not in body


@pytest.mark.parametrize("fmt", ["atom", "json"])
def test_other_formats_of_a_podcast_source_stay_valid(
    client: FlaskClient, db: Database, fmt: str
) -> None:
    source_id = ingest(db, podcast_feed())
    body = client.get(f"/feeds/sources/{source_id}.{fmt}").data
    check_feed(fmt, body)
    assert b"itunes" not in body


def test_the_post_page_plays_the_episode_and_says_how_long(
    client: FlaskClient, db: Database
) -> None:
    ingest(db, podcast_feed())
    with db.session() as session:
        post_id = session.scalar(select(Post.id).where(Post.title == "Episode one"))
    html = client.get(f"/posts/{post_id}", follow_redirects=True).get_data(as_text=True)
    assert '<audio controls preload="none" src="http://pod.example/1.mp3">' in html
    assert "1:02:03" in html


def test_a_known_thumbnail_size_sets_the_box(client: FlaskClient, db: Database) -> None:
    ingest(db, podcast_feed())
    html = client.get("/").get_data(as_text=True)
    # 320×180 shown 160 wide: 90 high, so nothing moves when it loads.
    assert re.search(
        r'<img class="thumbnail" src="/img/[^"]+" alt="" width="160" height="90"', html
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1:02:03", 3723), ("62:03", 3723), ("3723", 3723), ("3723.6", 3723), ("0:05", 5),
     ("", None), ("abc", None), ("1:2:3:4", None), ("-5", None), ("nan", None)],
)  # fmt: skip
def test_durations_in_every_upstream_form(text: str, seconds: int | None) -> None:
    assert duration_seconds(text) == seconds


def test_feedparser_reads_explicit_as_apple_spells_it() -> None:
    for value, expected in (("true", True), ("yes", True), ("false", False), ("no", False),
                            ("clean", False), ("maybe", None)):  # fmt: skip
        item = feedparser.parse(
            '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
            f"<channel><item><itunes:explicit>{value}</itunes:explicit></item></channel></rss>"
        ).entries[0]
        assert item.get("itunes_explicit") is expected, value
