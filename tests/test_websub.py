"""WebSub: feeds advertise the hubs, and changes reach them as publish pings."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.models import HubPing
from feedsvc.posts import create_local_post
from feedsvc.publish.jobs import Publisher
from tests.configured import settings_of
from tests.feedserver import FeedServer, Reply
from tests.publish_helpers import NOW


@pytest.fixture
def app_config(app_config: dict[str, Any], feed_server: FeedServer) -> dict[str, Any]:
    return {**app_config, "WEBSUB_HUBS": (feed_server.url("/hub"),)}


def pinged_topics(server: FeedServer) -> list[str]:
    topics = []
    for seen in server.hits("/hub"):
        form = parse_qs(seen.body.decode())
        assert seen.method == "POST" and form["hub.mode"] == ["publish"]
        topics += form["hub.url"]
    return sorted(topics)


def add_post(db: Database, title: str, tags: tuple[str, ...] = ()) -> None:
    with db.session() as session:
        create_local_post(session, title=title, body_html="<p>x</p>", now=NOW,
                          summary_length=300, tags=tags)  # fmt: skip


def test_every_feed_advertises_hub_and_self(
    client: FlaskClient, db: Database, feed_server: FeedServer
) -> None:
    add_post(db, "Hello", tags=("News",))
    for path in ("/feeds/posts.atom", "/feeds/summary.rss", "/feeds/tags/news.atom"):
        links = {link.rel: link.href for link in feedparser.parse(client.get(path).data).feed.links}
        assert links["hub"] == feed_server.url("/hub")
        assert links["self"] == "http://feeds.test" + path
    document = client.get("/feeds/posts.json").get_json()
    assert document["hubs"] == [{"type": "WebSub", "url": feed_server.url("/hub")}]


def test_a_new_post_pings_the_hub_for_each_feed_it_is_in(
    app: Flask, db: Database, feed_server: FeedServer
) -> None:
    feed_server.routes["/hub"] = Reply(204)
    add_post(db, "Hello", tags=("News",))
    publisher = Publisher(db, settings_of(app))
    publisher.run(NOW)
    topics = pinged_topics(feed_server)
    base = "http://feeds.test/feeds/"
    for fmt in ("atom", "rss", "json"):
        assert f"{base}posts.{fmt}" in topics
        assert f"{base}summary.{fmt}" in topics
        assert f"{base}tags/news.{fmt}" in topics
    assert f"{base}posts/default" in topics and f"{base}posts/default?alt=rss" in topics
    assert len(topics) == len(set(topics))
    # Nothing changed since: no more pings.
    publisher.run(NOW + dt.timedelta(minutes=1))
    assert pinged_topics(feed_server) == topics
    publisher.close()


def test_failed_pings_are_retried_with_backoff(
    app: Flask, db: Database, feed_server: FeedServer
) -> None:
    feed_server.routes["/hub"] = Reply(503)
    add_post(db, "Hello")
    publisher = Publisher(db, settings_of(app))
    publisher.run(NOW)
    first_round = len(feed_server.hits("/hub"))
    assert first_round > 0
    with db.session() as session:
        pending = session.scalars(select(HubPing)).all()
        assert len(pending) == first_round
        assert all(p.attempts == 1 and p.next_attempt_at > NOW for p in pending)
        assert "503" in (pending[0].last_error or "")

    publisher.run(NOW + dt.timedelta(seconds=30))  # before the retry is due
    assert len(feed_server.hits("/hub")) == first_round

    feed_server.routes["/hub"] = Reply(202)
    publisher.run(NOW + dt.timedelta(minutes=2))
    assert len(feed_server.hits("/hub")) == 2 * first_round
    with db.session() as session:
        assert session.scalars(select(HubPing)).all() == []
    publisher.close()


def test_unreachable_hub_is_an_error_not_a_crash(app: Flask, db: Database) -> None:
    unreachable = settings_of(app, WEBSUB_HUBS=("http://127.0.0.1:9/hub",))
    add_post(db, "Hello")
    publisher = Publisher(db, unreachable)
    publisher.run(NOW)
    with db.session() as session:
        pending = session.scalars(select(HubPing)).all()
        assert pending and all("Connect" in (p.last_error or "") for p in pending)
    publisher.close()
