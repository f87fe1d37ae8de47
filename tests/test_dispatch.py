"""The scheduler's dispatch job refreshes due sources, and only those."""

from __future__ import annotations

import datetime as dt
import time

from flask import Flask
from sqlalchemy import func, select

from feedsvc.db import Database
from feedsvc.models import Post, Source
from feedsvc.scheduler import Worker
from feedsvc.sources import add_source
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss


def test_dispatch_refreshes_due_sources(app: Flask, db: Database, feed_server: FeedServer) -> None:
    feed_server.routes["/due.xml"] = Reply(
        200, rss("Due", [{"guid": "d1", "title": "Due post"}]), RSS_TYPE
    )
    feed_server.routes["/later.xml"] = Reply(200, rss("Later", []), RSS_TYPE)
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        add_source(session, feed_server.url("/due.xml"), now - dt.timedelta(minutes=1))
        later = add_source(session, feed_server.url("/later.xml"), now)
        later.next_check_at = now + dt.timedelta(hours=1)

    worker = Worker(db, app.config, name="test-worker")
    try:
        assert worker.dispatch() == 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with db.session() as session:
                if session.scalar(select(func.count()).select_from(Post)) == 1:
                    break
            time.sleep(0.05)
    finally:
        worker.shutdown(wait=True)

    assert len(feed_server.hits("/due.xml")) == 1
    assert feed_server.hits("/later.xml") == []
    with db.session() as session:
        due = session.scalars(select(Source).where(Source.feed_url.endswith("/due.xml"))).one()
        assert due.next_check_at > now
        assert due.lease_until is None
        assert session.scalar(select(Post.title)) == "Due post"


def test_housekeeping_prunes_old_fetch_history(app: Flask, db: Database) -> None:
    from feedsvc.models import FetchAttempt

    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        source = add_source(session, "https://example.org/feed", now)
        for age_days in (1, 29, 31, 90):
            started = now - dt.timedelta(days=age_days)
            session.add(
                FetchAttempt(source_id=source.id, started_at=started, url=source.feed_url,
                             outcome="ok")
            )  # fmt: skip
    worker = Worker(db, app.config, name="housekeeper")
    try:
        worker.housekeeping()
    finally:
        worker.shutdown()
    with db.session() as session:
        kept = session.scalars(select(FetchAttempt.started_at).order_by(FetchAttempt.started_at))
        assert [(now - t).days for t in kept] == [29, 1]
