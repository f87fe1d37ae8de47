"""Workers as real processes: sharing sources over PostgreSQL, surviving
SIGKILL, stopping cleanly on SIGTERM, one embedded scheduler per machine,
and the per-host limit."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import func, select

from feedsvc import scheduler
from feedsvc.db import Database
from feedsvc.ingest.leases import claim_due_sources, renew_leases
from feedsvc.models import Post, Source, WorkerHeartbeat
from feedsvc.scheduler import Worker
from feedsvc.settings import WorkerSettings
from feedsvc.sources import add_source
from tests.configured import settings_of
from tests.conftest import TEST_DATABASE_URL
from tests.feedserver import RSS_TYPE, FeedServer, Reply, Seen, rss

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
postgres_only = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="several workers share sources only on PostgreSQL"
)


def feed(n: int) -> bytes:
    items = [
        {"guid": f"{n}-{i}", "title": f"Post {n}.{i}", "link": f"http://example.org/{n}/{i}"}
        for i in range(2)
    ]
    return rss(f"Feed {n}", items)


def slow(seconds: float, body: bytes) -> Callable[[Seen], Reply]:
    def answer(_seen: Seen) -> Reply:
        time.sleep(seconds)
        return Reply(200, body, RSS_TYPE)

    return answer


def add_sources(db: Database, server: FeedServer, count: int, delay: float = 0.0) -> None:
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        for n in range(count):
            path = f"/f{n}.xml"
            server.routes[path] = slow(delay, feed(n)) if delay else Reply(200, feed(n), RSS_TYPE)
            add_source(session, server.url(path), now - dt.timedelta(seconds=1), interval=3600)


def worker_env(database_url: str, **settings: Any) -> dict[str, str]:
    env = {**os.environ, "FEEDSVC_ENV": "testing", "FEEDSVC_DATABASE_URL": database_url,
           "FEEDSVC_DISPATCH_SECONDS": "1", "FEEDSVC_FETCH_ALLOW_PRIVATE": "1"}  # fmt: skip
    env.update({f"FEEDSVC_{name}": str(value) for name, value in settings.items()})
    return env


@pytest.fixture
def workers(database_url: str) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(**settings: Any) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([str(BIN / "feedsvc"), "worker"], cwd=ROOT,
                                   env=worker_env(database_url, **settings),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def count(db: Database, query: Any) -> int:
    with db.session() as session:
        return int(session.scalar(query) or 0)


def all_refreshed(db: Database) -> Callable[[], bool]:
    return lambda: count(db, select(func.count()).where(Source.last_success_at.is_(None))) == 0


@postgres_only
def test_three_workers_share_the_sources_once_each(
    db: Database, feed_server: FeedServer, workers: Callable[..., subprocess.Popen[bytes]]
) -> None:
    add_sources(db, feed_server, 60, delay=0.05)
    processes = [workers(WORKER_THREADS=4) for _ in range(3)]
    wait_until(all_refreshed(db), 30, "every source refreshed")
    time.sleep(2)  # a second fetch, if any, would land here
    for process in processes:
        process.send_signal(signal.SIGTERM)
    assert [process.wait(timeout=15) for process in processes] == [0, 0, 0]

    hits = Counter(seen.path for seen in feed_server.requests)
    assert hits == {f"/f{n}.xml": 1 for n in range(60)}
    assert count(db, select(func.count()).select_from(Post)) == 120


@postgres_only
def test_a_killed_workers_sources_are_taken_over(
    db: Database, feed_server: FeedServer, workers: Callable[..., subprocess.Popen[bytes]]
) -> None:
    add_sources(db, feed_server, 30, delay=1.0)
    victim = workers(WORKER_THREADS=4, LEASE_SECONDS=3)
    wait_until(lambda: len(feed_server.requests) >= 2, 15, "the victim to start fetching")
    with db.session() as session:
        leased = set(
            session.scalars(select(Source.id).where(Source.lease_owner.like(f"%:{victim.pid}")))
        )
    assert leased
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    survivors = [workers(WORKER_THREADS=4, LEASE_SECONDS=3) for _ in range(2)]
    wait_until(all_refreshed(db), 40, "the survivors to refresh every source")
    for process in survivors:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    # Nothing the dead worker was doing was half-written or written twice.
    assert count(db, select(func.count()).select_from(Post)) == 60
    with db.session() as session:
        assert session.scalars(select(Source.lease_owner).where(Source.id.in_(leased))).all() == [
            None
        ] * len(leased)


def test_sigterm_lets_in_flight_refreshes_finish_and_exits_0(
    db: Database, feed_server: FeedServer, workers: Callable[..., subprocess.Popen[bytes]]
) -> None:
    add_sources(db, feed_server, 4, delay=1.5)
    process = workers(WORKER_THREADS=4, SHUTDOWN_SECONDS=10)
    wait_until(lambda: len(feed_server.requests) >= 4, 15, "four refreshes in flight")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=12) == 0
    # All four were allowed to finish, and nothing stays leased or beating.
    assert all_refreshed(db)()
    assert count(db, select(func.count()).where(Source.lease_owner.is_not(None))) == 0
    assert count(db, select(func.count()).select_from(WorkerHeartbeat)) == 0


def test_sigterm_deadline_releases_what_did_not_finish(
    db: Database, feed_server: FeedServer, workers: Callable[..., subprocess.Popen[bytes]]
) -> None:
    add_sources(db, feed_server, 2, delay=30)
    process = workers(WORKER_THREADS=2, SHUTDOWN_SECONDS=1, FETCH_TIMEOUT=60)
    wait_until(lambda: len(feed_server.requests) >= 2, 15, "two refreshes in flight")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 8
    assert b"released unfinished sources" in (process.stderr.read() if process.stderr else b"")
    # Released, not half-written: another worker may claim them at once.
    assert count(db, select(func.count()).where(Source.lease_owner.is_not(None))) == 0
    assert count(db, select(func.count()).select_from(Post)) == 0


def test_embedded_scheduler_runs_once_however_many_serve_processes(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    env = worker_env(database_url, EMBEDDED_SCHEDULER=1,
                     SCHEDULER_LOCK_FILE=tmp_path / "scheduler.lock")  # fmt: skip
    servers = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        servers.append(subprocess.Popen(
            [str(BIN / "feedsvc"), "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
    try:
        wait_until(
            lambda: count(db, select(func.count()).select_from(WorkerHeartbeat)) > 0,
            20, "a heartbeat",
        )  # fmt: skip
        time.sleep(3)  # room for a second scheduler to show itself
        with db.session() as session:
            names = session.scalars(select(WorkerHeartbeat.name)).all()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=15)
    assert len(names) == 1 and names[0].startswith("embedded:")


def processes_in_group(group: int) -> list[int]:
    """Processes whose process group is `group` (a session leader's pid)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == group:
            found.append(int(stat.parent.name))
    return found


def test_serve_ended_by_sigterm_leaves_no_parse_process_behind(
    database_url: str, db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    add_sources(db, feed_server, 2)
    env = worker_env(database_url, EMBEDDED_SCHEDULER=1,
                     SCHEDULER_LOCK_FILE=tmp_path / "scheduler.lock")  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [str(BIN / "feedsvc"), "serve", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(all_refreshed(db), 30, "the sources to be refreshed")
        assert len(processes_in_group(server.pid)) > 1  # the fork server and parsers
        server.terminate()
        assert server.wait(timeout=15) == 0
        wait_until(lambda: not processes_in_group(server.pid), 10, "the group to be gone")
    finally:
        for pid in processes_in_group(server.pid):
            os.kill(pid, signal.SIGKILL)


def test_no_host_gets_more_than_its_share_of_fetches(
    app: Flask, db: Database, feed_server: FeedServer
) -> None:
    in_flight: Counter[str] = Counter()
    most: Counter[str] = Counter()
    lock = threading.Lock()

    def tracked(seen: Seen) -> Reply:
        host = seen.headers["host"].split(":")[0]
        with lock:
            in_flight[host] += 1
            most[host] = max(most[host], in_flight[host])
        time.sleep(0.3)
        with lock:
            in_flight[host] -= 1
        return Reply(200, feed(0), RSS_TYPE)

    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        for n in range(10):
            feed_server.routes[f"/busy{n}.xml"] = tracked
            add_source(session, feed_server.url(f"/busy{n}.xml"), now - dt.timedelta(minutes=5))
        for n in range(3):
            feed_server.routes[f"/other{n}.xml"] = tracked
            other = f"http://localhost:{feed_server.port}/other{n}.xml"
            add_source(session, other, now - dt.timedelta(minutes=1))
    worker = Worker(db, settings_of(app, WORKER_THREADS=8, FETCH_PER_HOST=2))
    try:
        # One dispatch works off the whole backlog, two fetches per host at a
        # time, though the busy host's sources are older and first in line.
        assert worker.dispatch() == 13
        wait_until(all_refreshed(db), 20, "every source refreshed")
    finally:
        worker.shutdown()
    assert most["127.0.0.1"] == 2
    assert most["localhost"] == 2


@postgres_only
def test_a_claim_locks_only_the_sources_it_takes(db: Database) -> None:
    """A claim passes over a crowded host's sources without locking them, so a
    worker claiming at the same moment may take them."""
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        ids = [add_source(session, f"http://crowded.test/{n}", now - dt.timedelta(minutes=5 - n)).id
               for n in range(4)]  # fmt: skip
    with db.session() as first, db.session() as second:
        taken = claim_due_sources(first, now, 10, "first", 60, per_host=1)
        # The first claim's transaction is still open, its lock held: the source
        # it took counts against the host's share this time, and is passed over.
        also_taken = claim_due_sources(second, now, 10, "second", 60, per_host=3)
    assert [target.id for target in taken] == ids[:1]
    assert [target.id for target in also_taken] == ids[1:3]
    assert lease_of(db, ids[0])[0] == "first"
    assert [lease_of(db, i)[0] for i in ids[1:]] == ["second", "second", None]


def lease_of(db: Database, source_id: int) -> tuple[str | None, dt.datetime | None]:
    with db.session() as session:
        row = session.get_one(Source, source_id)
        return row.lease_owner, row.lease_until


def test_renewing_pushes_only_our_own_leases(db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        ours = add_source(session, "http://a.test/feed", now - dt.timedelta(minutes=1)).id
        theirs = add_source(session, "http://b.test/feed", now - dt.timedelta(minutes=1)).id
    with db.session() as session:
        claim_due_sources(session, now, 1, "ours", 60)
        claim_due_sources(session, now, 1, "theirs", 60)
    later = now + dt.timedelta(minutes=10)
    with db.session() as session:
        assert renew_leases(session, "ours", [ours, theirs], later) == 1
    assert lease_of(db, ours) == ("ours", later)
    assert lease_of(db, theirs) == ("theirs", now + dt.timedelta(seconds=60))


def test_a_worker_keeps_the_claim_of_a_source_still_in_flight(
    app: Flask, db: Database, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A source waiting its turn (here: a fetch that does not end until told
    # to) must not see its claim run out, or another worker fetches it too.
    monkeypatch.setattr(scheduler, "HEARTBEAT_EVERY", 0.1)
    answer = threading.Event()

    def held(_seen: Seen) -> Reply:
        answer.wait(20)
        return Reply(200, feed(0), RSS_TYPE)

    feed_server.routes["/held.xml"] = held
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        source_id = add_source(
            session, feed_server.url("/held.xml"), now - dt.timedelta(seconds=1)
        ).id
    worker = Worker(db, settings_of(app, FETCH_TIMEOUT=30), name="renewing")
    dispatching = threading.Thread(target=worker.dispatch)
    try:
        dispatching.start()
        wait_until(lambda: feed_server.hits("/held.xml") != [], 10, "the fetch to start")
        owner, claimed_until = lease_of(db, source_id)
        assert owner == "renewing" and claimed_until is not None

        def renewed() -> bool:
            until = lease_of(db, source_id)[1]
            return until is not None and until > claimed_until

        wait_until(renewed, 10, "the lease to be renewed")
        assert lease_of(db, source_id)[0] == "renewing"
    finally:
        answer.set()
        dispatching.join(30)
        worker.shutdown()
    assert not dispatching.is_alive()
    assert lease_of(db, source_id) == (None, None)


def test_stop_does_not_wait_forever_for_a_stuck_dispatch(app: Flask, db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        source_id = add_source(session, "http://a.test/feed", now - dt.timedelta(minutes=1)).id
    worker = Worker(db, settings_of(app), name="stuck")
    with db.session() as session:
        claim_due_sources(session, now, 1, worker.name, 300)
    stopped: list[scheduler.Stopped] = []
    worker._driving.acquire()  # a dispatch stuck on the database, say
    stopping = threading.Thread(target=lambda: stopped.append(worker.stop(0.5)))
    try:
        stopping.start()
        stopping.join(10)
        stuck_forever = stopping.is_alive()
    finally:
        worker._driving.release()
        stopping.join(10)
        worker.shutdown()
    assert not stuck_forever
    assert stopped == [scheduler.Stopped([], driver_stuck=True)]
    assert stopped[0].must_exit
    assert lease_of(db, source_id) == (None, None)


class HangingUp:
    """A server on 127.0.0.1 that closes every connection at once: a database
    that cannot be reached. Counts the connections tried."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.tries = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.tries += 1
            connection.close()

    def close(self) -> None:
        self.sock.close()


def test_a_worker_tries_an_unreachable_database_less_and_less_often(app: Flask) -> None:
    away = HangingUp()
    db = Database(f"postgresql+psycopg://feedsvc@127.0.0.1:{away.port}/feedsvc")
    worker = Worker(db, settings_of(app, DISPATCH_SECONDS=5), name="patient")
    try:
        assert worker.dispatch() == 0
        tried = away.tries
        assert tried > 0
        # The next ticks wait for the delay to pass.
        worker.dispatch()
        worker.dispatch()
        assert away.tries == tried
        delays = []
        for _ in range(5):
            worker._retry_at = time.monotonic() - 1  # the delay has passed
            worker.dispatch()
            delays.append(worker._retry_delay)
        assert away.tries > tried
        assert delays == [10, 20, 40, 60, 60]
    finally:
        worker.shutdown()
        db.dispose()
        away.close()


def test_worker_metrics_listen_on_the_configured_address() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        port = sock.getsockname()[1]
    server = scheduler.serve_metrics(WorkerSettings(metrics_port=port, metrics_bind="127.0.0.2"))
    try:
        answer = httpx.get(f"http://127.0.0.2:{port}/metrics", timeout=5)
        assert answer.status_code == 200 and b"feedsvc_fetches" in answer.content
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
