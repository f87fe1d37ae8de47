"""The app and the worker tell the time by the clock they are given: pinned,
a view and a dispatch run at that time, whatever the real clock says."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc import create_app
from feedsvc.clock import FixedClock
from feedsvc.db import Database
from feedsvc.models import Source
from feedsvc.scheduler import Worker
from feedsvc.sources import add_source
from tests.admin_helpers import bearer, make_admin, make_token
from tests.configured import settings_of
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss
from tests.ingesting import dispatch_until_stored

# Tomorrow by the real clock, at noon: a time the real clock has not reached.
TOMORROW = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(
    hour=12, minute=0, second=0, microsecond=0
)


@pytest.fixture
def pinned(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("FEEDSVC_ENV", "testing")
    application = create_app(app_config, env="testing", clock=FixedClock(TOMORROW))
    yield application
    application.extensions["feedsvc.db"].dispose()


def test_a_post_written_at_a_pinned_time_is_published_then(pinned: Flask) -> None:
    db: Database = pinned.extensions["feedsvc.db"]
    make_admin(db)
    client = pinned.test_client()
    created = client.post("/api/v1/posts", headers=bearer(make_token(db)),
                          json={"title": "From tomorrow", "content": "<p>Hi</p>"})  # fmt: skip
    assert created.status_code == 201, created.get_data(as_text=True)
    post = created.get_json()
    assert dt.datetime.fromisoformat(post["published_at"]) == TOMORROW

    page = client.get(post["url"].removeprefix("http://feeds.test")).get_data(as_text=True)
    assert f'<time datetime="{TOMORROW.isoformat()}">' in page
    assert TOMORROW.strftime("%-d %B %Y") in page


def test_a_dispatch_at_a_pinned_time_claims_the_sources_due_then(
    app: Flask, db: Database, feed_server: FeedServer
) -> None:
    feed_server.routes["/due.xml"] = Reply(200, rss("Due", [{"guid": "d", "title": "D"}]), RSS_TYPE)
    feed_server.routes["/later.xml"] = Reply(200, rss("Later", []), RSS_TYPE)
    with db.session() as session:
        # Due before the pinned time, though not yet by the real clock.
        due = add_source(session, feed_server.url("/due.xml"), TOMORROW)
        due.next_check_at = TOMORROW - dt.timedelta(minutes=1)
        later = add_source(session, feed_server.url("/later.xml"), TOMORROW)
        later.next_check_at = TOMORROW + dt.timedelta(minutes=1)

    worker = Worker(db, settings_of(app), name="pinned", clock=FixedClock(TOMORROW))
    assert dispatch_until_stored(worker, db, posts=1) == 1

    assert len(feed_server.hits("/due.xml")) == 1
    assert feed_server.hits("/later.xml") == []
    with db.session() as session:
        checked = session.scalars(select(Source).where(Source.feed_url.endswith("/due.xml"))).one()
        assert checked.last_checked_at == TOMORROW
        assert checked.next_check_at > TOMORROW
