"""/sitemap.xml (an index of parts of at most 50,000 addresses) and /robots.txt."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import insert

from feedsvc import sitemap
from feedsvc.db import Database
from feedsvc.models import Post
from feedsvc.posts import create_local_post, set_visibility

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _insert_posts(db: Database, count: int) -> None:
    """Many short posts in one executemany (the columns' defaults fill the rest)."""
    when = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    rows = [{"uid": f"{n:032x}", "entry_key": f"bulk:{n}", "title": "p", "slug": "p",
             "published_at": when, "updated_at": when, "created_at": when, "modified_at": when,
             "enclosures": []} for n in range(count)]  # fmt: skip
    with db.engine.begin() as connection:
        connection.execute(insert(Post), rows)


def _locs(body: bytes) -> list[str]:
    return [loc.text for loc in etree.fromstring(body).iter(NS + "loc")]


def test_split_at_the_limit(client: FlaskClient, db: Database) -> None:
    _insert_posts(db, sitemap.URLS_PER_PART + 1)
    index = client.get("/sitemap.xml")
    assert index.status_code == 200 and index.mimetype == "application/xml"
    assert etree.fromstring(index.data).tag == NS + "sitemapindex"
    assert _locs(index.data) == ["http://feeds.test/sitemap-1.xml",
                                 "http://feeds.test/sitemap-2.xml"]  # fmt: skip
    first = client.get("/sitemap-1.xml")
    assert len(_locs(first.data)) == sitemap.URLS_PER_PART
    second = etree.fromstring(client.get("/sitemap-2.xml").data)
    (url,) = second.findall(NS + "url")
    assert url.findtext(NS + "loc") == f"http://feeds.test/posts/{sitemap.URLS_PER_PART + 1}-p"
    assert url.findtext(NS + "lastmod") == "2026-11-01T00:00:00Z"
    assert client.get("/sitemap-3.xml").status_code == 404


def test_parts_hold_visible_posts_with_lastmod(client: FlaskClient, db: Database) -> None:
    with db.session() as session:
        shown = create_local_post(session, title="Shown & <told>", body_html="<p>x</p>",
                                  now=NOW, summary_length=100)  # fmt: skip
        hidden = create_local_post(session, title="Hidden", body_html="<p>x</p>", now=NOW,
                                   summary_length=100)  # fmt: skip
        set_visibility(session, hidden, NOW, hidden=True)
        shown_id = shown.id
    body = client.get("/sitemap-1.xml").data
    assert _locs(body) == [f"http://feeds.test/posts/{shown_id}-shown-told"]
    assert b"2026-11-24T12:00:00Z" in body
    with db.session() as session:
        session.get(Post, shown_id).hidden = True
    assert _locs(client.get("/sitemap.xml").data) == ["http://feeds.test/sitemap-1.xml"]
    assert _locs(client.get("/sitemap-1.xml").data) == []


def test_robots_names_the_sitemap_and_keeps_admin_and_api_out(client: FlaskClient) -> None:
    response = client.get("/robots.txt")
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert "Disallow: /admin" in lines and "Disallow: /api" in lines
    assert "Sitemap: http://feeds.test/sitemap.xml" in lines
    assert lines[0] == "User-agent: *"
