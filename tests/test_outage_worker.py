"""The database goes away in the middle of an ingest and comes back: the worker
keeps running, blames no source, and stores every entry once, promptly.

A private PostgreSQL cluster (tests/pgcluster.py) under a real `feedsvc worker`
process; run once, on the SQLite pass, like tests/test_outage.py.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from feedsvc.db import Database
from feedsvc.migrate import upgrade
from feedsvc.models import FetchAttempt, Post, Source
from feedsvc.sources import add_source
from tests.conftest import TEST_DATABASE_URL
from tests.feedserver import RSS_TYPE, FeedServer, Reply, Seen, rss
from tests.pgcluster import PgCluster

pytestmark = pytest.mark.skipif(
    bool(TEST_DATABASE_URL),
    reason="uses a PostgreSQL cluster of its own: run once, on the SQLite pass",
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SOURCES = 24
ENTRIES = 5
# Slow enough that the outage lands mid-ingest: two fetches at a time to this host.
DELAY = 0.25
# A lease outlives the test: only a prompt give-back can explain a prompt refresh.
LEASE_SECONDS = 600


def slow_feed(n: int) -> Callable[[Seen], Reply]:
    items = [{"guid": f"urn:{n}:{i}", "title": f"Post {n}.{i}",
              "link": f"http://example.org/{n}/{i}"} for i in range(ENTRIES)]  # fmt: skip
    body = rss(f"Feed {n}", items)

    def answer(_seen: Seen) -> Reply:
        time.sleep(DELAY)
        return Reply(200, body, RSS_TYPE)

    return answer


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # the database is still coming back
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def database(pg_cluster: PgCluster) -> Iterator[tuple[str, Database]]:
    url = pg_cluster.create_database("feedsvc")
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    db = Database(url)
    yield url, db
    db.dispose()


def test_an_outage_mid_ingest_loses_nothing_and_blames_no_source(
    database: tuple[str, Database], pg_cluster: PgCluster, feed_server: FeedServer
) -> None:
    url, db = database
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        for n in range(SOURCES):
            feed_server.routes[f"/f{n}.xml"] = slow_feed(n)
            add_source(session, feed_server.url(f"/f{n}.xml"), now - dt.timedelta(seconds=1),
                       interval=3600)  # fmt: skip

    def posts() -> int:
        with db.session(write=False) as session:
            return int(session.scalar(select(func.count()).select_from(Post)) or 0)

    env = {**os.environ, "FEEDSVC_ENV": "testing", "FEEDSVC_DATABASE_URL": url,
           "FEEDSVC_DISPATCH_SECONDS": "1", "FEEDSVC_FETCH_ALLOW_PRIVATE": "1",
           "FEEDSVC_LEASE_SECONDS": str(LEASE_SECONDS), "FEEDSVC_WORKER_THREADS": "4"}  # fmt: skip
    worker = subprocess.Popen([str(BIN / "feedsvc"), "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_until(lambda: posts() > 0, 30, "the first entries stored")
        stored_before = posts()
        assert stored_before < SOURCES * ENTRIES, "the outage must land mid-ingest"

        pg_cluster.stop()
        time.sleep(3)  # fetches go on; what they bring cannot be recorded
        assert worker.poll() is None, "the worker died with the database"
        pg_cluster.start()
        db.engine.dispose()  # this test's own pooled connections died with the server

        # Well inside the leases: the worker gave its claims back itself.
        wait_until(lambda: posts() == SOURCES * ENTRIES, 60, "every entry stored")
        with db.session(write=False) as session:
            sources = session.scalars(select(Source)).all()
            assert all(s.error_count == 0 and s.last_error is None for s in sources), [
                (s.id, s.error_count, s.last_error) for s in sources if s.error_count
            ]
            assert all(s.lease_owner is None for s in sources)
            # Nothing backed off: each is next due one interval after its success.
            assert all(s.last_success_at is not None for s in sources)
            outcomes = set(session.scalars(select(FetchAttempt.outcome)))
            assert outcomes == {"ok"}
            assert posts() == SOURCES * ENTRIES  # each entry once
        assert worker.poll() is None
    finally:
        worker.terminate()
        try:
            _, errors = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            _, errors = worker.communicate()
    log = errors.decode(errors="replace")
    assert "database unavailable" in log and "Traceback" not in log, log[-3000:]
