"""The scheduler: APScheduler running a few fixed jobs over the sources table.

The sources table is the schedule of record (each source's next_check_at);
APScheduler only ticks the *dispatch* job, which leases due sources and
refreshes them on a bounded thread pool, and a *housekeeping* job.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import delete

from feedsvc.db import Database
from feedsvc.ingest import refresh_source, settings_from_config
from feedsvc.ingest.fetch import Fetcher
from feedsvc.models import FetchAttempt, ViewVisitor, WorkerHeartbeat
from feedsvc.publish.jobs import Publisher
from feedsvc.sources import claim_due_sources

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Worker:
    """Claims due sources and refreshes them, a bounded number at a time."""

    def __init__(self, db: Database, cfg: Mapping[str, Any], name: str | None = None) -> None:
        self.db = db
        self.cfg = cfg
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        fetch_settings, self.ingest_settings = settings_from_config(cfg)
        self.fetcher = Fetcher(fetch_settings)
        self.threads = int(cfg["WORKER_THREADS"])
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="refresh")
        self._in_flight = 0
        self.publisher = Publisher(db, cfg)
        self._lock = threading.Lock()
        self.started_at = utcnow()

    def dispatch(self) -> int:
        """Claim as many due sources as there are free threads; return how many."""
        self.heartbeat()
        with self._lock:
            free = self.threads - self._in_flight
        if free <= 0:
            return 0
        now = utcnow()
        with self.db.session() as session:
            ids = claim_due_sources(session, now, free, self.name, int(self.cfg["LEASE_SECONDS"]))
        for source_id in ids:
            with self._lock:
                self._in_flight += 1
            self.pool.submit(self._refresh, source_id)
        return len(ids)

    def _refresh(self, source_id: int) -> None:
        try:
            report = refresh_source(
                self.db, source_id, fetcher=self.fetcher, now=utcnow(),
                settings=self.ingest_settings,
            )  # fmt: skip
            log.info("source %s: %s (%s new, %s updated)", source_id, report.result,
                     report.new, report.updated)  # fmt: skip
        except Exception:
            log.exception("refresh of source %s failed", source_id)
        finally:
            with self._lock:
                self._in_flight -= 1

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

    def shutdown(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=not wait)
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
    """`feedsvc worker`: run the scheduler in the foreground until stopped."""
    worker = Worker(db, cfg)
    if int(cfg["WORKER_METRICS_PORT"]):
        from prometheus_client import start_http_server

        start_http_server(int(cfg["WORKER_METRICS_PORT"]), addr="127.0.0.1")
    scheduler = BlockingScheduler(job_defaults=JOB_DEFAULTS, timezone=dt.UTC)
    add_jobs(scheduler, worker, cfg)
    log.info("worker %s started", worker.name)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        worker.shutdown(wait=True)
        log.info("worker %s stopped", worker.name)


def start_embedded(db: Database, cfg: Mapping[str, Any]) -> BackgroundScheduler:
    """One scheduler inside the development server's process."""
    worker = Worker(db, cfg, name=f"embedded:{socket.gethostname()}:{os.getpid()}")
    scheduler = BackgroundScheduler(job_defaults=JOB_DEFAULTS, timezone=dt.UTC)
    add_jobs(scheduler, worker, cfg)
    scheduler.start()
    return scheduler
