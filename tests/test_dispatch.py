"""The scheduler's dispatch job refreshes due sources, and only those."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask
from sqlalchemy import func, select, update

from feedsvc.db import Database
from feedsvc.models import FetchAttempt, Post, Source
from feedsvc.scheduler import Worker
from feedsvc.sources import add_source
from tests.configured import settings_of
from tests.feedserver import RSS_TYPE, FeedServer, Reply, Seen, rss
from tests.ingesting import dispatch_until_stored, housekeep


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

    worker = Worker(db, settings_of(app), name="test-worker")
    assert dispatch_until_stored(worker, db, posts=1) == 1

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
    housekeep(db, settings_of(app))
    with db.session() as session:
        kept = session.scalars(select(FetchAttempt.started_at).order_by(FetchAttempt.started_at))
        assert [(now - t).days for t in kept] == [29, 1]


def test_the_worker_runs_the_whole_pipeline_for_a_mixed_batch(
    app: Flask, db: Database, feed_server: FeedServer
) -> None:
    """Good, unchanged, failing, hostile and non-feed sources in one dispatch:
    each recorded once, through the same stages as `refresh_source`."""
    items = [{"guid": f"g{n}", "title": f"Post {n}", "link": f"http://example.org/{n}"}
             for n in range(3)]  # fmt: skip

    def ok(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        return Reply(200, rss("OK", items), {**RSS_TYPE, "ETag": '"v1"'})

    routes: dict[str, Reply | Callable[[Seen], Reply]] = {
        "/ok.xml": ok,
        "/broken.xml": Reply(500, b"down", {}),
        "/page.xml": Reply(200, b"<html><body>hi</body></html>", {"Content-Type": "text/html"}),
        "/hostile.xml": Reply(200, rss("H", [{"guid": "h", "link": "javascript:alert(1)",
                                              "title": "Hostile"}]), RSS_TYPE),
    }  # fmt: skip
    feed_server.routes.update(routes)
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        ids = {path: add_source(session, feed_server.url(path), now - dt.timedelta(minutes=1)).id
               for path in routes}  # fmt: skip

    worker = Worker(db, settings_of(app), name="test-worker")
    try:
        assert worker.dispatch() == 4  # returns once every claimed source is recorded
        with db.session() as session:
            sources = {s.id: s for s in session.scalars(select(Source))}
            assert sources[ids["/ok.xml"]].etag == '"v1"' and sources[ids["/ok.xml"]].title == "OK"
            assert sources[ids["/broken.xml"]].error_count == 1
            assert "HTTP 500" in (sources[ids["/broken.xml"]].last_error or "")
            assert "HTML page" in (sources[ids["/page.xml"]].last_error or "")
            assert all(s.lease_owner is None for s in sources.values())
            links = dict(session.execute(select(Post.title, Post.link)).all())
        assert links == {"Post 0": "http://example.org/0", "Post 1": "http://example.org/1",
                         "Post 2": "http://example.org/2", "Hostile": None}  # fmt: skip

        # Due again: the unchanged feed answers 304 to our ETag, nothing is rewritten.
        with db.session() as session:
            session.execute(update(Source).values(next_check_at=now - dt.timedelta(seconds=1)))
        assert worker.dispatch() == 4
        with db.session() as session:
            outcomes = session.execute(
                select(FetchAttempt.outcome).where(FetchAttempt.source_id == ids["/ok.xml"])
                .order_by(FetchAttempt.id)
            ).scalars().all()  # fmt: skip
            assert outcomes == ["ok", "not_modified"]
            assert session.scalar(select(func.count()).select_from(Post)) == 4
            assert session.get(Source, ids["/broken.xml"]).error_count == 2  # type: ignore[union-attr]
    finally:
        worker.shutdown(wait=True)


def test_the_worker_schedules_each_job_once_at_its_interval(app: Flask, db: Database) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from feedsvc.scheduler import (
        HOUSEKEEPING_SECONDS,
        PUSH_SECONDS,
        SEARCH_INDEX_SECONDS,
        add_jobs,
    )  # fmt: skip

    settings = settings_of(app)
    worker = Worker(db, settings, name="test-worker")
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    try:
        add_jobs(scheduler, worker, settings)
        scheduler.start(paused=True)  # the jobs get their first run time, none runs
        jobs = {job.id: job for job in scheduler.get_jobs()}
        tick = settings.worker.dispatch_seconds
        assert {name: job.trigger.interval.total_seconds() for name, job in jobs.items()} == {
            "dispatch": tick, "publish": tick, "jobs": tick, "webhooks": tick,
            "push": PUSH_SECONDS, "housekeeping": HOUSEKEEPING_SECONDS,
            "search": SEARCH_INDEX_SECONDS,
        }  # fmt: skip
        # Fetching, the admin's jobs and subscriptions start with the worker;
        # the others wait their first interval.
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=min(tick, SEARCH_INDEX_SECONDS) / 2)
        at_start = {name for name, job in jobs.items() if job.next_run_time <= soon}
        assert at_start == {"dispatch", "jobs", "push"}
    finally:
        scheduler.shutdown(wait=False)
        worker.shutdown(wait=False)


def test_the_next_claim_overlaps_the_fetches_not_the_recording(app: Flask, db: Database) -> None:
    """After a claim that found fewer sources than it had room for, the next
    comes once half of those are fetched, even while they wait to be recorded:
    the fetch threads never run dry between claims."""
    worker = Worker(db, settings_of(app), name="test-worker")
    worker.refresher.close()

    class Driver:
        in_flight = 48  # 24 fetched and not yet recorded, 24 still to fetch
        to_fetch = 24

    worker.refresher = Driver()  # type: ignore[assignment]
    worker._short_at = 48
    assert worker._may_claim(Driver.in_flight)
    Driver.to_fetch = 25
    assert not worker._may_claim(Driver.in_flight)
    # Never beyond capacity, whatever is left to fetch.
    Driver.to_fetch = 0
    assert not worker._may_claim(worker.capacity - worker.claim_batch + 1)
