"""refresh_source end to end against a fault server: what it stored, what the
server saw, and when it plans to come back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from feedsvc.db import Database
from feedsvc.fetcher import Fetcher, FetchSettings
from feedsvc.ingest import IngestSettings, RefreshReport, refresh_source
from feedsvc.ingest.leases import claim_due_sources
from feedsvc.ingest.policy import FAILING_AFTER, ScheduleSettings
from feedsvc.models import FetchAttempt, Post, Source
from feedsvc.sources import add_source
from feedsvc.vocabulary import SourceStatus
from tests.feedserver import RSS_TYPE, FeedServer, Reply, Seen, rss

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
SETTINGS = IngestSettings(schedule=ScheduleSettings(min_interval=300, max_backoff=86400))
ITEMS = [
    {"guid": f"g{n}", "title": f"Post {n}", "link": f"http://example.org/{n}",
     "description": f"Body {n}", "pubDate": f"Sun, {20 + n} Nov 2026 08:00:00 GMT"}
    for n in range(1, 3)
]  # fmt: skip


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as instance:
        yield instance


def make_source(db: Database, url: str) -> int:
    with db.session() as session:
        return add_source(session, url, NOW).id


def refresh(
    db: Database, source_id: int, fetcher: Fetcher, now: dt.datetime = NOW
) -> RefreshReport:
    return refresh_source(db, source_id, fetcher=fetcher, now=now, settings=SETTINGS, jitter=0.5)


def source_row(db: Database, source_id: int) -> Source:
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        return source


def post_count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Post)) or 0)


def test_200_then_304_writes_nothing(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    def reply(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"abc"':
            return Reply(304, b"", {"ETag": '"abc"'})
        headers = {**RSS_TYPE, "ETag": '"abc"', "Last-Modified": "Sun, 22 Nov 2026 08:00:00 GMT"}
        return Reply(200, rss("Feed", ITEMS), headers)

    feed_server.routes["/f"] = reply
    source_id = make_source(db, feed_server.url("/f"))
    first = refresh(db, source_id, fetcher)
    assert (first.result, first.new) == ("ok", 2)
    with db.session() as session:
        modified = sorted(session.scalars(select(Post.modified_at)))

    second = refresh(db, source_id, fetcher, NOW + dt.timedelta(hours=1))
    assert second.result == "not_modified" and second.new == 0
    sent = feed_server.hits("/f")[1].headers
    assert sent["if-none-match"] == '"abc"'
    assert sent["if-modified-since"] == "Sun, 22 Nov 2026 08:00:00 GMT"
    with db.session() as session:
        assert sorted(session.scalars(select(Post.modified_at))) == modified
        outcomes = session.scalars(select(FetchAttempt.outcome).order_by(FetchAttempt.id)).all()
    assert outcomes == ["ok", "not_modified"]
    assert post_count(db) == 2
    assert source_row(db, source_id).next_check_at > NOW + dt.timedelta(hours=1)


def test_permanent_redirects_update_the_url(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/old"] = Reply(301, b"", {"Location": "/mid"})
    feed_server.routes["/mid"] = Reply(308, b"", {"Location": "/new"})
    feed_server.routes["/new"] = Reply(200, rss("Feed", ITEMS), RSS_TYPE)
    source_id = make_source(db, feed_server.url("/old"))
    assert refresh(db, source_id, fetcher).result == "ok"
    assert source_row(db, source_id).feed_url == feed_server.url("/new")


def test_temporary_redirect_keeps_the_url(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/old"] = Reply(301, b"", {"Location": "/tmp"})
    feed_server.routes["/tmp"] = Reply(302, b"", {"Location": "/new"})
    feed_server.routes["/new"] = Reply(200, rss("Feed", ITEMS), RSS_TYPE)
    source_id = make_source(db, feed_server.url("/old"))
    assert refresh(db, source_id, fetcher).result == "ok"
    assert source_row(db, source_id).feed_url == feed_server.url("/old")


def test_410_marks_the_source_gone_and_it_is_never_claimed(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(410, b"gone")
    source_id = make_source(db, feed_server.url("/f"))
    assert refresh(db, source_id, fetcher).result == "gone"
    source = source_row(db, source_id)
    assert source.status == SourceStatus.GONE and "410" in (source.last_error or "")
    with db.session() as session:
        later = NOW + dt.timedelta(days=30)
        assert claim_due_sources(session, later, 10, "w", 60) == []
    assert len(feed_server.hits("/f")) == 1


def test_429_retry_after_is_honoured(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(429, b"slow down", {"Retry-After": "120"})
    source_id = make_source(db, feed_server.url("/f"))
    assert refresh(db, source_id, fetcher).result == "throttled"
    next_check = source_row(db, source_id).next_check_at
    assert next_check >= NOW + dt.timedelta(seconds=120)
    with db.session() as session:
        assert claim_due_sources(session, NOW + dt.timedelta(seconds=119), 10, "w", 60) == []


def test_503_with_an_http_date(db: Database, fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.routes["/f"] = Reply(503, b"", {"Retry-After": "Tue, 24 Nov 2026 18:00:00 GMT"})
    source_id = make_source(db, feed_server.url("/f"))
    refresh(db, source_id, fetcher)
    assert source_row(db, source_id).next_check_at >= dt.datetime(2026, 11, 24, 18, tzinfo=dt.UTC)


def test_repeated_500s_back_off_growing_and_capped(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(500, b"oops")
    source_id = make_source(db, feed_server.url("/f"))
    now, delays = NOW, []
    for _ in range(FAILING_AFTER + 2):
        report = refresh(db, source_id, fetcher, now)
        assert report.result == "error" and "HTTP 500" in (report.error or "")
        next_check = source_row(db, source_id).next_check_at
        delays.append((next_check - now).total_seconds())
        now = next_check
    assert delays == sorted(delays)
    assert delays[0] < delays[3] < delays[-1]
    assert max(delays) == 86400
    source = source_row(db, source_id)
    assert source.error_count == FAILING_AFTER + 2
    assert source.status == "active"  # failing, still tried at the cap


def test_an_html_page_is_an_error_and_keeps_the_posts(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(200, rss("Feed", ITEMS), RSS_TYPE)
    source_id = make_source(db, feed_server.url("/f"))
    refresh(db, source_id, fetcher)
    feed_server.routes["/f"] = Reply(
        200, b"<html><body>hi</body></html>", {"Content-Type": "text/html"}
    )
    report = refresh(db, source_id, fetcher, NOW + dt.timedelta(hours=2))
    assert report.result == "error" and "not a feed" in (report.error or "")
    assert post_count(db) == 2


def test_billion_laughs_does_not_blow_up(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    lol = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><guid>x</guid><description>&lol9;</description></item>
</channel></rss>"""
    feed_server.routes["/f"] = Reply(200, lol, RSS_TYPE)
    source_id = make_source(db, feed_server.url("/f"))
    report = refresh(db, source_id, fetcher)
    assert report.result in ("ok", "error")
    with db.session() as session:
        sizes = [len(t) for t in session.scalars(select(Post.title))]
    assert all(size < 10_000 for size in sizes)


def test_internal_errors_never_escape(
    db: Database, fetcher: Fetcher, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import feedsvc.ingest.apply as apply

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(apply, "_insert_rows", broken)
    feed_server.routes["/f"] = Reply(200, rss("Feed", ITEMS), RSS_TYPE)
    source_id = make_source(db, feed_server.url("/f"))
    report = refresh(db, source_id, fetcher)
    assert report.result == "error"
    source = source_row(db, source_id)
    assert source.error_count == 1 and "internal error" in (source.last_error or "")
    assert source.next_check_at > NOW and post_count(db) == 0


def test_refresh_many_parses_in_processes_and_reports_each(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    from feedsvc.ingest.driver import refresh_many

    ids = []
    for n in range(6):
        items = [{**ITEMS[0], "guid": f"s{n}-{i}", "title": f"S{n} post {i}"} for i in range(5)]
        feed_server.routes[f"/f{n}"] = Reply(200, rss(f"Feed {n}", items), RSS_TYPE)
        ids.append(make_source(db, feed_server.url(f"/f{n}")))
    ids.append(make_source(db, feed_server.url("/missing")))
    seen: list[RefreshReport] = []
    reports = refresh_many(db, ids, fetcher=fetcher, now=lambda: NOW, settings=SETTINGS,
                           processes=2, on_done=seen.append)  # fmt: skip
    assert sorted(r.source_id for r in reports) == sorted(ids) == sorted(r.source_id for r in seen)
    by_id = {r.source_id: r for r in reports}
    assert [by_id[i].new for i in ids[:-1]] == [5] * 6
    assert by_id[ids[-1]].result == "error" and "HTTP 404" in (by_id[ids[-1]].error or "")
    assert post_count(db) == 30
    assert source_row(db, ids[0]).title == "Feed 0"
    # Every changed feed is queued for WebSub and the render caches see a new version.
    from feedsvc import changes

    with db.session() as session:
        dirty = set(changes.peek_dirty_scopes(session))
        version = changes.content_version(session.connection())
    assert {changes.source_scope(i) for i in ids[:-1]} | {changes.ALL_POSTS} <= dirty
    assert changes.source_scope(ids[-1]) not in dirty and version >= 1
    again = refresh_many(db, ids[:-1], fetcher=fetcher, now=lambda: NOW, settings=SETTINGS)
    assert sum(r.new + r.updated for r in again) == 0 and post_count(db) == 30
