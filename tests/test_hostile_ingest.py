"""Hostile upstreams against the ingest core (issue 13), found in review.

Each test shows a bug that is still there, so each is marked
xfail(strict=True): CI stays green, and the mark must go when the bug is fixed
(a fixed bug makes its test pass, which strict turns into a failure). Some
bugs exist only on PostgreSQL, whose columns have widths and whose text has
no NUL; their marks hold only there.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedsvc.db import Database
from feedsvc.dbfaults import is_database_fault
from feedsvc.fetcher import Fetcher, FetchSettings
from feedsvc.ingest.driver import refresh_many
from feedsvc.models import Post, Source
from feedsvc.scheduler import Worker
from feedsvc.sources import add_source
from feedsvc.vocabulary import FetchErrorKind
from tests.configured import settings_of
from tests.conftest import TEST_DATABASE_URL
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss
from tests.test_refresh import NOW, SETTINGS, make_source, refresh, source_row
from tests.test_workers import add_sources, count, wait_until, workers  # noqa: F401

ON_POSTGRESQL = bool(TEST_DATABASE_URL)
JSON_FEED = "https://jsonfeed.org/version/1.1"
JSON_TYPE = {"Content-Type": "application/feed+json"}
ITEM = {"guid": "g1", "title": "One", "link": "http://example.org/1", "description": "Body"}


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as instance:
        yield instance


def post_count(db: Database, source_id: int) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(Post).where(Post.source_id == source_id)
        return int(session.scalar(query) or 0)


def cjk(length: int, seed: int) -> str:
    """Text that does not compress: a btree index stores it as it is."""
    rnd = random.Random(seed)
    return "".join(chr(rnd.randrange(0x4E00, 0x9FFF)) for _ in range(length))


def json_feed(**item: object) -> bytes:
    return json.dumps({"version": JSON_FEED, "items": [{"id": "1", **item}]}).encode()


def with_ttl(ttl: str) -> bytes:
    return rss("Feed", [ITEM]).replace(
        b"<title>Feed</title>", f"<title>Feed</title><ttl>{ttl}</ttl>".encode(), 1
    )


def only_on_postgresql(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(ON_POSTGRESQL, strict=True, reason=reason)


def always(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


# --- Values that do not fit a column: the source errors on every refresh -------------

LONG_PATH = "/moved-" + "r" * 2100


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(
            Reply(200, rss("Feed", [ITEM]), {**RSS_TYPE, "Last-Modified": "x" * 101}),
            id="Last-Modified over 100 characters",
        ),
        pytest.param(
            Reply(200, rss("Feed", [ITEM]), {**RSS_TYPE, "ETag": '"' + "e" * 1100 + '"'}),
            id="ETag over 1024 characters",
        ),
        pytest.param(
            Reply(200, with_ttl("99999999"), RSS_TYPE),
            id="ttl past a 32-bit integer",
        ),
        pytest.param(
            Reply(200, with_ttl("9" * 25), RSS_TYPE),
            id="ttl past a 64-bit integer",
        ),
        pytest.param(
            Reply(200, rss("Feed", [{**ITEM, "guid": "a&#0;b"}]), RSS_TYPE),
            id="NUL in the guid",
        ),
        pytest.param(
            Reply(301, b"", {"Location": LONG_PATH}),
            id="permanent redirect to a URL over 2048 characters",
        ),
    ],
)
def test_an_upstream_value_too_big_for_its_column_is_no_crash(
    db: Database, fetcher: Fetcher, feed_server: FeedServer, reply: Reply
) -> None:
    feed_server.routes["/f"] = reply
    feed_server.routes[LONG_PATH] = Reply(200, rss("Feed", [ITEM]), RSS_TYPE)
    source_id = make_source(db, feed_server.url("/f"))
    report = refresh(db, source_id, fetcher)
    assert (report.result, report.new) == ("ok", 1), report
    assert source_row(db, source_id).error_count == 0


@pytest.mark.parametrize(
    "item",
    [
        pytest.param({"content_html": "<p>a\ud800</p>"}, id="in the content"),
        pytest.param({"title": "a\ud800", "content_text": "x"}, id="in the title"),
        pytest.param({"id": "1\udfff", "content_text": "x"}, id="in the id"),
    ],
)
def test_lone_surrogates_in_a_json_feed_are_stored(
    db: Database, fetcher: Fetcher, feed_server: FeedServer, item: dict[str, str]
) -> None:
    feed_server.routes["/f"] = Reply(200, json_feed(**item), JSON_TYPE)
    source_id = make_source(db, feed_server.url("/f"))
    report = refresh(db, source_id, fetcher)  # the content case raises here
    assert (report.result, report.new) == ("ok", 1), report


# --- Exceptions that escape a stage take down the driver ------------------------------

BROKEN_LOCATION = Reply(301, b"", {"Location": "http://[oops/feed"})
SURROGATE_CONTENT = Reply(200, json_feed(content_html="a\ud800"), JSON_TYPE)


def test_a_redirect_to_a_broken_url_is_a_fetch_error(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = BROKEN_LOCATION
    result = fetcher.fetch(feed_server.url("/f"))  # raises ValueError today
    assert result.error_kind == FetchErrorKind.BAD_URL


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param(BROKEN_LOCATION, id="a redirect to a broken URL"),
        pytest.param(SURROGATE_CONTENT, id="content that made work() raise"),
    ],
)
def test_one_hostile_source_does_not_stop_fetch_all(
    db: Database, fetcher: Fetcher, feed_server: FeedServer, hostile: Reply
) -> None:
    feed_server.routes["/good"] = Reply(200, rss("Good", [ITEM]), RSS_TYPE)
    feed_server.routes["/bad"] = hostile
    good = make_source(db, feed_server.url("/good"))
    bad = make_source(db, feed_server.url("/bad"))
    refresh_many(db, [good, bad], fetcher=fetcher, now=lambda: NOW, settings=SETTINGS,
                 threads=2, processes=1)  # fmt: skip
    assert post_count(db, good) == 1
    # Recorded either way: stored as far as it goes, or as its error in words.
    assert post_count(db, bad) or source_row(db, bad).last_error


# --- A bug counted as an outage: no backoff, the whole group deferred -----------------


def test_an_index_row_too_big_is_not_a_database_outage() -> None:
    error = psycopg.errors.ProgramLimitExceeded(
        'index row size 3048 exceeds btree version 4 maximum 2704 for index "uq_posts_source_entry"'
    )
    assert not is_database_fault(error)


def test_an_entry_key_too_big_for_its_index_is_fetched_once_per_dispatch(
    app: Flask, db: Database, feed_server: FeedServer
) -> None:
    feed_server.routes["/bad"] = Reply(200, rss("Bad", [{**ITEM, "guid": cjk(1100, 2)}]),
                                       RSS_TYPE)  # fmt: skip
    feed_server.routes["/good"] = Reply(200, rss("Good", [ITEM]), RSS_TYPE)
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        bad = add_source(session, feed_server.url("/bad"), now - dt.timedelta(minutes=1)).id
        good = add_source(session, feed_server.url("/good"), now - dt.timedelta(minutes=1)).id
    worker = Worker(db, settings_of(app), name="hostile")
    dispatching = threading.Thread(target=worker.dispatch)
    try:
        dispatching.start()
        dispatching.join(8)  # today it loops, fetching both sources again and again
        looping = dispatching.is_alive()
    finally:
        worker._stopping.set()
        dispatching.join(30)
        worker.shutdown(wait=True)
    assert not looping
    assert len(feed_server.hits("/bad")) == 1
    assert post_count(db, good) == 1
    # Recorded once, stored or as its error, and not due again at once.
    assert source_row(db, bad).last_checked_at is not None


# --- The entry diff -------------------------------------------------------------------


def test_entries_sharing_a_link_keep_their_own_posts(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    # A status page's feed: every entry links to the page itself.
    page = "http://status.example/"
    items = [{"guid": f"g{n}", "title": f"Incident {n}", "link": page,
              "description": f"Body {n}"} for n in (3, 2, 1)]  # fmt: skip
    feed_server.routes["/f"] = Reply(200, rss("Status", items[1:]), RSS_TYPE)
    source_id = make_source(db, feed_server.url("/f"))
    refresh(db, source_id, fetcher)
    feed_server.routes["/f"] = Reply(200, rss("Status", items), RSS_TYPE)
    for hours in (1, 2, 3):
        refresh(db, source_id, fetcher, NOW + dt.timedelta(hours=hours))
    with db.session() as session:
        titles = sorted(session.scalars(select(Post.title).where(Post.source_id == source_id)))
    # Today the new incident and incident 1 take turns in one post, one refresh each.
    assert titles == ["Incident 1", "Incident 2", "Incident 3"]


# --- Publishing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(
            {
                "items": [
                    {
                        "id": "1",
                        "title": "Hello",
                        "content_text": "x",
                        "attachments": [
                            {"url": "http://up.example/x.mp3", "mime_type": "audio/\u0001mpeg"}
                        ],
                    }
                ]
            },
            id="in an enclosure's type",
        ),
        pytest.param(
            {
                "feed_url": "http://up.example/\u0001",
                "items": [{"id": "1", "title": "Hello", "content_text": "x"}],
            },
            id="in the feed's id (atom:source)",
        ),
    ],
)
def test_control_characters_from_upstream_do_not_break_the_feeds(
    db: Database, fetcher: Fetcher, feed_server: FeedServer, client: FlaskClient,
    document: dict[str, object],
) -> None:  # fmt: skip
    body = json.dumps({"version": JSON_FEED, **document}).encode()
    feed_server.routes["/f"] = Reply(200, body, JSON_TYPE)
    report = refresh(db, make_source(db, feed_server.url("/f")), fetcher)
    assert report.new == 1
    for fmt in ("atom", "rss"):
        response = client.get(f"/feeds/posts.{fmt}")  # raises in lxml today
        assert response.status_code == 200


# --- Scheduling -----------------------------------------------------------------------


def test_a_huge_retry_after_is_throttling_not_an_internal_error(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(503, b"", {"Retry-After": "9" * 15})
    report = refresh(db, make_source(db, feed_server.url("/f")), fetcher)
    assert report.result == "throttled", report


def test_a_second_sigterm_still_releases_the_claims_and_exits_0(
    db: Database,
    feed_server: FeedServer,
    workers: Callable[..., subprocess.Popen[bytes]],  # noqa: F811
) -> None:
    add_sources(db, feed_server, 2, delay=8)
    process = workers(WORKER_THREADS=2, SHUTDOWN_SECONDS=3, FETCH_TIMEOUT=30)
    wait_until(lambda: len(feed_server.requests) >= 2, 15, "two refreshes in flight")
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)  # a second Ctrl-C, or a supervisor that repeats
    # Today: SchedulerNotRunningError, then a wait for the fetch threads, exit 1.
    assert process.wait(timeout=15) == 0
    assert count(db, select(func.count()).where(Source.lease_owner.is_not(None))) == 0
