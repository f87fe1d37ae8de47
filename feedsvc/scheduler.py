"""The scheduler: APScheduler running a few fixed jobs over the sources table.

The sources table is the schedule of record (each source's next_check_at);
APScheduler only ticks the *dispatch* job, which leases due sources and
refreshes them on a bounded thread pool, and a *housekeeping* job.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import delete

from feedsvc import popularity
from feedsvc.db import Database
from feedsvc.ingest import refresh_source, settings_from_config
from feedsvc.ingest.fetch import Fetcher
from feedsvc.models import FetchAttempt, ViewVisitor, WorkerHeartbeat
from feedsvc.publish.jobs import Publisher
from feedsvc.sources import Claimed, claim_due_sources, release_leases

log = logging.getLogger(__name__)

# A worker busy working off a backlog still beats this often.
HEARTBEAT_EVERY = 10.0
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Worker:
    """Claims due sources and refreshes them, a bounded number at a time and at
    most FETCH_PER_HOST at once against any one host."""

    def __init__(self, db: Database, cfg: Mapping[str, Any], name: str | None = None) -> None:
        self.db = db
        self.cfg = cfg
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        fetch_settings, self.ingest_settings = settings_from_config(cfg)
        self.fetcher = Fetcher(fetch_settings)
        self.threads = int(cfg["WORKER_THREADS"])
        self.per_host = int(cfg["FETCH_PER_HOST"])
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="refresh")
        self.publisher = Publisher(db, cfg)
        # Source id -> host, for every claimed source not yet finished.
        self._in_flight: dict[int, str] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._finished = threading.Event()
        # Claimed at most: every thread busy plus as many waiting.
        self.capacity = self.threads * 2
        self.started_at = utcnow()

    def dispatch(self) -> int:
        """Keep the pool fed while sources are due; return how many were claimed.

        Runs until nothing more can be claimed, so a backlog is worked off at
        full speed rather than one tick's worth per DISPATCH_SECONDS. A short
        queue (a batch beyond the thread count) keeps threads busy between claims.
        """
        claimed_total = 0
        last_beat = 0.0
        while not self._stopping.is_set():
            if time.monotonic() - last_beat > HEARTBEAT_EVERY:
                self.heartbeat()
                last_beat = time.monotonic()
            with self._lock:
                room = self.capacity - len(self._in_flight)
                busy = Counter(self._in_flight.values())
                in_flight = len(self._in_flight)
            claimed = self._claim(room, busy) if room > 0 else 0
            claimed_total += claimed
            if claimed == 0:
                if in_flight == 0:
                    break
                # Full, or every due host is at its limit: wait for a slot.
                self._finished.wait(timeout=0.5)
                self._finished.clear()
        return claimed_total

    def _claim(self, room: int, busy: Counter[str]) -> int:
        with self.db.session() as session:
            claimed = claim_due_sources(
                session, utcnow(), room, self.name, int(self.cfg["LEASE_SECONDS"]),
                per_host=self.per_host, busy_hosts=busy,
            )  # fmt: skip
        with self._lock:
            for source in claimed:
                self._in_flight[source.id] = source.host
        for source in claimed:
            self.pool.submit(self._refresh, source)
        return len(claimed)

    def _refresh(self, source: Claimed) -> None:
        source_id = source.id
        try:
            if self._stopping.is_set():
                return  # claimed but not started: its lease is released on the way out
            report = refresh_source(
                self.db, source_id, fetcher=self.fetcher, now=utcnow(),
                settings=self.ingest_settings,
                target=(source.feed_url, source.etag, source.last_modified),
            )  # fmt: skip
            # Unchanged feeds are most refreshes: keep them out of the INFO log.
            level = logging.DEBUG if report.result == "not_modified" else logging.INFO
            log.log(level, "source %s: %s (%s new, %s updated)", source_id, report.result,
                    report.new, report.updated)  # fmt: skip
        except Exception:
            log.exception("refresh of source %s failed", source_id)
        finally:
            with self._lock:
                self._in_flight.pop(source_id, None)
            self._finished.set()

    def housekeeping(self) -> None:
        """Prune old fetch history and yesterday's visitor hashes."""
        now = utcnow()
        keep_days = int(self.cfg["FETCH_HISTORY_DAYS"])
        with self.db.session() as session:
            session.execute(
                delete(FetchAttempt).where(
                    FetchAttempt.started_at < now - dt.timedelta(days=keep_days)
                )
            )
            session.execute(delete(ViewVisitor).where(ViewVisitor.day < now.date()))
            # Roll the view windows here, so that no page view has to.
            popularity.roll_windows(session, now.date())

    def heartbeat(self) -> None:
        with self.db.session() as session:
            beat = session.get(WorkerHeartbeat, self.name)
            if beat is None:
                session.add(
                    WorkerHeartbeat(name=self.name, beat_at=utcnow(), started_at=self.started_at)
                )
            else:
                beat.beat_at = utcnow()

    def publish(self) -> None:
        """Ping WebSub hubs and rewrite static feeds after changes."""
        try:
            self.publisher.run()
        except Exception:
            log.exception("publishing failed")

    def stop(self, deadline: float) -> list[int]:
        """Stop claiming, give in-flight refreshes up to `deadline` seconds,
        release the leases of whatever did not finish; return those ids."""
        self._stopping.set()
        waited = 0.0
        while waited < deadline:
            with self._lock:
                if not self._in_flight:
                    break
            time.sleep(0.05)
            waited += 0.05
        with self._lock:
            unfinished = sorted(self._in_flight)
        with self.db.session() as session:
            # An unfinished refresh's transaction dies with the process: nothing half-written.
            release_leases(session, self.name)
            session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.name == self.name))
        return unfinished

    def shutdown(self, wait: bool = True) -> None:
        self._stopping.set()
        self.pool.shutdown(wait=wait, cancel_futures=True)
        self.fetcher.close()
        self.publisher.close()


def add_jobs(scheduler: BaseScheduler, worker: Worker, cfg: Mapping[str, Any]) -> None:
    scheduler.add_job(
        worker.dispatch, "interval", seconds=int(cfg["DISPATCH_SECONDS"]),
        id="dispatch", replace_existing=True, next_run_time=utcnow(),
    )  # fmt: skip
    scheduler.add_job(
        worker.publish, "interval", seconds=int(cfg["DISPATCH_SECONDS"]),
        id="publish", replace_existing=True,
    )  # fmt: skip
    scheduler.add_job(
        worker.housekeeping, "interval", hours=1, id="housekeeping", replace_existing=True,
    )  # fmt: skip


def run_worker(db: Database, cfg: Mapping[str, Any]) -> None:
    """`feedsvc worker`: run the scheduler in the foreground until SIGTERM or SIGINT."""
    worker = Worker(db, cfg)
    if int(cfg["WORKER_METRICS_PORT"]):
        from prometheus_client import start_http_server

        start_http_server(int(cfg["WORKER_METRICS_PORT"]), addr="127.0.0.1")
    scheduler = BlockingScheduler(job_defaults=JOB_DEFAULTS, timezone=dt.UTC)
    add_jobs(scheduler, worker, cfg)

    def stop(signum: int, _frame: object) -> None:
        log.info("worker %s: %s, stopping", worker.name, signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker %s started", worker.name)
    try:
        scheduler.start()
    finally:
        unfinished = worker.stop(float(cfg["SHUTDOWN_SECONDS"]))
        if unfinished:
            log.warning("worker %s: released unfinished sources %s", worker.name, unfinished)
            logging.shutdown()
            # Threads stuck in a fetch would hold the interpreter open; their
            # transactions roll back with the process.
            os._exit(0)
        worker.shutdown(wait=True)
        log.info("worker %s stopped", worker.name)


def start_embedded(
    db: Database, cfg: Mapping[str, Any], lock_path: Path
) -> BackgroundScheduler | None:
    """One scheduler inside a serving process — only if no other process on
    this machine has one, so that several gunicorn workers (or a reloader's two
    processes) never run it twice. The lock is held for the process's life."""
    global _embedded_lock
    if _embedded_lock is not None:
        return None
    handle = open(lock_path, "a+")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        log.info("embedded scheduler: another process on this machine runs it")
        return None
    _embedded_lock = handle
    worker = Worker(db, cfg, name=f"embedded:{socket.gethostname()}:{os.getpid()}")
    scheduler = BackgroundScheduler(job_defaults=JOB_DEFAULTS, timezone=dt.UTC)
    add_jobs(scheduler, worker, cfg)
    scheduler.start()
    log.info("embedded scheduler started in process %s", os.getpid())
    return scheduler


_embedded_lock: IO[str] | None = None
