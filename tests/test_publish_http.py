"""Feeds over HTTP: validators, 304s, HEAD, gzip, and a render cache that is
never stale, even across processes."""

from __future__ import annotations

import datetime as dt
import gzip
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc import create_app
from feedsvc.db import Database
from feedsvc.fetcher import Fetcher
from feedsvc.ingest import refresh_source
from feedsvc.posts import create_local_post
from feedsvc.sources import add_source
from tests.configured import settings_of
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss
from tests.publish_helpers import NOW, add_tricky_posts

FEEDS = (
    "/feeds/posts.atom",
    "/feeds/summary.rss",
    "/feeds/sources/1.json",
    "/feeds/tags/python.atom",
)


@pytest.fixture
def tricky(db: Database) -> Database:
    add_tricky_posts(db)
    return db


def test_validators_and_cache_headers(client: FlaskClient, tricky: Database) -> None:
    response = client.get("/feeds/posts.atom")
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert parsedate_to_datetime(response.headers["Last-Modified"]) <= NOW
    cache_control = response.headers["Cache-Control"]
    assert "public" in cache_control and "max-age=300" in cache_control
    assert "stale-while-revalidate=60" in cache_control
    assert response.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in response.headers


def test_conditional_requests_get_304_without_a_body(client: FlaskClient, tricky: Database) -> None:
    for path in FEEDS:
        first = client.get(path)
        by_etag = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert by_etag.status_code == 304 and by_etag.data == b""
        assert by_etag.headers["ETag"] == first.headers["ETag"]
        by_date = client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
        assert by_date.status_code == 304 and by_date.data == b""
        # A validator that does not match gets the full feed.
        stale = client.get(path, headers={"If-None-Match": '"something-else"'})
        assert stale.status_code == 200 and stale.data == first.data
        earlier = format_datetime(NOW - dt.timedelta(days=30), usegmt=True)
        assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200


def test_head_has_the_headers_and_no_body(client: FlaskClient, tricky: Database) -> None:
    get = client.get("/feeds/posts.rss")
    head = client.head("/feeds/posts.rss")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Length"] == str(len(get.data))


def test_gzip_is_negotiated_and_has_its_own_etag(client: FlaskClient, tricky: Database) -> None:
    plain = client.get("/feeds/posts.atom")
    zipped = client.get("/feeds/posts.atom", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    refused = client.get("/feeds/posts.atom", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    # Either variant's validator proves the client is current.
    again = client.get(
        "/feeds/posts.atom",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]},
    )
    assert again.status_code == 304


def test_gzip_is_compressed_once_per_render(
    client: FlaskClient, tricky: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedsvc.publish import http

    calls: list[int] = []
    real = gzip.compress

    def counting(data: bytes, *args: Any, **kwargs: Any) -> bytes:
        calls.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(http.gzip, "compress", counting)
    for _ in range(5):
        client.get("/feeds/summary.atom", headers={"Accept-Encoding": "gzip"})
    assert len(calls) == 1


def _etags(client: FlaskClient) -> dict[str, str]:
    return {path: client.get(path).headers["ETag"] for path in (*FEEDS, "/feeds/sources/2.atom")}


def test_a_post_edit_changes_the_etag_of_every_feed_that_holds_it_and_no_other(
    app: Flask, client: FlaskClient, db: Database, feed_server: FeedServer
) -> None:
    items = [{"guid": "a1", "title": "A one", "link": "http://a.example/1", "description": "First",
              "pubDate": "Mon, 23 Nov 2026 09:00:00 GMT", "category": "Python"}]  # fmt: skip
    feed_server.routes["/a.xml"] = Reply(200, rss("A", items), RSS_TYPE)
    feed_server.routes["/b.xml"] = Reply(
        200, rss("B", [{**items[0], "guid": "b1", "category": "Go"}]), RSS_TYPE
    )
    app_settings = settings_of(app)
    settings = app_settings.ingest
    with Fetcher(app_settings.fetch) as fetcher:
        with db.session() as session:
            for path in ("/a.xml", "/b.xml"):
                add_source(session, feed_server.url(path), NOW)
        for source_id in (1, 2):
            refresh_source(db, source_id, fetcher=fetcher, now=NOW, settings=settings)
        before = _etags(client)

        edited = [{**items[0], "description": "First, edited"}]
        feed_server.routes["/a.xml"] = Reply(200, rss("A", edited), RSS_TYPE)
        later = NOW + dt.timedelta(hours=2)
        report = refresh_source(db, 1, fetcher=fetcher, now=later, settings=settings)
        assert report.updated == 1
    after = _etags(client)
    changed = {path for path in before if before[path] != after[path]}
    # Source 1's post is in the full, summary, source 1 and Python feeds; not in source 2's.
    assert changed == set(FEEDS)
    assert b"First, edited" in client.get("/feeds/posts.atom").data


def test_every_process_sees_a_change_at_once(
    app: Flask, app_config: dict[str, Any], db: Database
) -> None:
    """Two app instances stand for two gunicorn workers, each with its own cache."""
    other = create_app(app_config, env="testing")
    try:
        first, second = app.test_client(), other.test_client()
        add_tricky_posts(db)
        assert first.get("/feeds/posts.atom").data == second.get("/feeds/posts.atom").data
        with db.session() as session:
            create_local_post(session, title="Breaking", body_html="<p>x</p>",
                              now=NOW + dt.timedelta(hours=1), summary_length=300)  # fmt: skip
        assert b"Breaking" in second.get("/feeds/posts.atom").data
        assert b"Breaking" in first.get("/feeds/posts.atom").data
    finally:
        other.extensions["feedsvc.db"].dispose()
