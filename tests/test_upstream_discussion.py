"""A republished entry keeps where upstream discusses it — RSS <comments> and
wfw:commentRss, Atom rel="replies" — and its page offers it ("Discuss at the
original") beside the post's own comments."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.ingest.parse import parse_feed
from feedsvc.models import Post
from feedsvc.sources import add_source
from tests.ingesting import store_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:wfw="http://wellformedweb.org/CommentAPI/"><channel>
<title>Up</title><link>http://up.example/</link><description>Up</description>
<item><guid>a</guid><title>Talked</title><link>http://up.example/a</link>
  <comments>http://up.example/a#comments</comments>
  <wfw:commentRss>/a/comments/feed</wfw:commentRss></item>
<item><guid>b</guid><title>Hostile</title><link>http://up.example/b</link>
  <comments>javascript:alert(1)</comments>
  <wfw:commentRss>data:text/html,x</wfw:commentRss></item>
<item><guid>c</guid><title>Quiet</title><link>http://up.example/c</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">
<id>urn:up</id><title>Up</title><updated>2026-11-24T10:00:00Z</updated>
<entry><id>urn:a</id><title>Atom talk</title><updated>2026-11-24T10:00:00Z</updated>
  <link href="http://up.example/atom-a"/>
  <link rel="replies" type="application/atom+xml"
        href="http://up.example/atom-a/comments.atom" thr:count="3"/>
  <link rel="replies" type="text/html" href="http://up.example/atom-a#comments" thr:count="3"/>
</entry></feed>"""


def test_the_parser_finds_both_links_in_rss_and_atom() -> None:
    rss = parse_feed(RSS, "http://up.example/feed")
    first = rss.entries[0]
    assert (first.comments_url, first.comments_feed) == (
        "http://up.example/a#comments", "http://up.example/a/comments/feed")  # fmt: skip
    assert (rss.entries[2].comments_url, rss.entries[2].comments_feed) == (None, None)
    atom = parse_feed(ATOM, "http://up.example/atom")
    entry = atom.entries[0]
    assert entry.comments_url == "http://up.example/atom-a#comments"
    assert entry.comments_feed == "http://up.example/atom-a/comments.atom"


def test_stored_and_shown_as_discuss_at_the_original(app: Flask, db: Database) -> None:
    with db.session() as session:
        source_id = add_source(session, "http://up.example/feed", NOW).id
    store_feed(db, source_id, RSS, NOW)
    with db.session() as session:
        posts = {p.title: p for p in session.scalars(select(Post))}
        talked, hostile = posts["Talked"], posts["Hostile"]
        assert talked.upstream_comments_url == "http://up.example/a#comments"
        assert talked.upstream_comments_feed == "http://up.example/a/comments/feed"
        # Only web addresses are kept.
        assert (hostile.upstream_comments_url, hostile.upstream_comments_feed) == (None, None)
        pages = {title: f"/posts/{p.id}-{p.slug}" for title, p in posts.items()}
    client = app.test_client()
    page = client.get(pages["Talked"]).get_data(as_text=True)
    assert "Discuss at the original" in page
    assert 'href="http://up.example/a#comments"' in page
    assert 'href="http://up.example/a/comments/feed"' in page
    # The post's own comments sit beside them.
    assert 'id="comment-form"' in page
    assert "Discuss at the original" not in client.get(pages["Quiet"]).get_data(as_text=True)
    assert "javascript:" not in client.get(pages["Hostile"]).get_data(as_text=True)
