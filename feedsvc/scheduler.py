"""The scheduler: APScheduler running a few fixed jobs over the sources table.

The sources table is the schedule of record (each source's next_check_at);
APScheduler only ticks the *dispatch* job, which leases due sources and
refreshes them on a bounded thread pool, a *jobs* job, which runs the admin's
long work (feedsvc/jobs.py), and a *housekeeping* job.
"""

from __future__ import annotations

import atexit
import datetime as dt
import fcntl
import gc
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import IO
from wsgiref.simple_server import WSGIServer

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from feedsvc import jobs, popularity, retention, search_index, webhooks
from feedsvc.clock import Clock, SystemClock
from feedsvc.db import Database
from feedsvc.dbfaults import DatabaseUnavailable, is_database_fault
from feedsvc.fetcher import Fetcher
from feedsvc.ingest import duplicates
from feedsvc.ingest.driver import PARSED_GROUP, Refresher
from feedsvc.ingest.leases import claim_due_sources, release_leases, renew_leases
from feedsvc.models import FetchAttempt, ViewVisitor, WorkerHeartbeat
from feedsvc.publish.jobs import Publisher
from feedsvc.push import hub as push_hub
from feedsvc.settings import Settings, WorkerSettings
from feedsvc.webhook_sender import deliver_due

log = logging.getLogger(__name__)

# A worker busy working off a backlog still beats this often.
HEARTBEAT_EVERY = 10.0
# Sources of one host claimed at once, per fetch allowed to it at once: the
# driver starts each as a slot frees. Deep enough that a feed list on one host
# keeps the parsers busy; short of the capacity, so other hosts always get room.
QUEUED_PER_HOST = 24
# The pruning chores (history, jobs, visitor hashes, story keys; retention daily).
HOUSEKEEPING_SECONDS = 3600
# While the database is away, it is tried again after a delay that doubles up to this.
DATABASE_RETRY_MAX = 60.0
# WebSub subscriptions are brought in line with the sources this often.
PUSH_SECONDS = 30
# Posts stored or changed go into the search index this often, while no
# source is in flight, or once put off this many times in a row: ingest goes
# first, and the index is never more than half a minute behind.
SEARCH_INDEX_SECONDS = 2
SEARCH_PUT_OFF_MAX = 15
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


@dataclass(frozen=True)
class Stopped:
    """What `Worker.stop` left behind: sources whose refresh did not finish
    (their claims given back), and whether a dispatch never let go of the
    driver in time — then its threads are stuck and only exiting ends them."""

    unfinished: list[int]
    driver_stuck: bool = False

    @property
    def must_exit(self) -> bool:
        return bool(self.unfinished) or self.driver_stuck


class Worker:
    """Claims due sources and refreshes them through the pipeline's driver:
    fetch threads, parse worker processes, grouped writes; at most
    FETCH_PER_HOST fetches at once against any one host."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock or SystemClock()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.fetcher = Fetcher(settings.fetch)
        threads = settings.worker.threads
        self.per_host = settings.worker.per_host
        self.refresher = Refresher(
            db, self.fetcher, settings.ingest, now=self.clock.now, threads=threads,
            processes=settings.worker.processes, per_host=self.per_host,
        )  # fmt: skip
        self.publisher = Publisher(db, settings)
        self._stopping = threading.Event()
        # The driver is stepped by one thread at a time: the dispatch job, or stop().
        self._driving = threading.Lock()
        # Claimed at most: every fetch thread busy, three times as many waiting
        # (leases are renewed while they wait), and a group's worth being written
        # (of bodies: answers without one count for nothing, Refresher.load).
        self.capacity = threads * 4 + PARSED_GROUP
        # A claim is a transaction: take sources a batch at a time, not one per
        # finished fetch.
        self.claim_batch = max(self.capacity // 4, 1)
        # Sources still to fetch right after a claim that found fewer than it could take.
        self._short_at: int | None = None
        # When to look for due full articles next (time.monotonic()).
        self._articles_due_check = 0.0
        self.started_at = self.clock.now()
        self._database_down = False
        # While it is down: when to try it again, and the delay after that.
        self._retry_at = 0.0
        self._retry_delay: float = settings.worker.dispatch_seconds
        self.jobs = jobs.JobRunner(db, self.name, settings.worker.lease_seconds, now=self.clock.now,
                                   stopping=self._stopping)  # fmt: skip
        # Held while a job runs, so that stop() can wait for it to be given back.
        self._running_jobs = threading.Lock()
        # Search index runs put off in a row while sources were in flight.
        self._search_put_off = 0

    def dispatch(self) -> int:
        """Keep the driver fed while sources are due; return how many were claimed.

        Runs until nothing more can be claimed and everything claimed is
        recorded, so a backlog is worked off at full speed rather than one
        tick's worth per DISPATCH_SECONDS.
        """
        claimed_total = 0
        last_beat = 0.0
        while not self._stopping.is_set():
            with self._driving:
                if time.monotonic() - last_beat > HEARTBEAT_EVERY:
                    self.heartbeat()
                    last_beat = time.monotonic()
                self._give_back_deferred()
                idle = self.refresher.in_flight == 0
                load = self.refresher.load
                claimed = self._claim(self.capacity - load) if self._may_claim(load) else 0
                claimed_total += claimed
                articles = self._claim_articles()
                # Each refresh is logged where it is recorded (pipeline.record).
                reports = self.refresher.step(timeout=0 if claimed else 0.5)
                if any(report.new for report in reports):
                    self._articles_due_check = 0.0  # their articles may be due

                # Only a claim made with nothing in flight (no host at its limit)
                # proves that nothing more is due.
                if claimed == 0 and articles == 0 and idle:
                    break
        return claimed_total

    def _may_claim(self, load: int) -> bool:
        """Whether a claim now is worth its transaction."""
        if load == 0:
            return True
        if self.capacity - load < self.claim_batch:
            return False
        # The last claim took all that was due (or all its hosts may have):
        # ask again once half of what it left to fetch is fetched — not once it
        # is recorded too, so the next sources are queued before the fetch
        # threads run dry, and a claim overlaps the fetches instead of
        # following them.
        return self._short_at is None or self.refresher.to_fetch <= self._short_at // 2

    def _claim(self, room: int) -> int:
        if not self._may_try_database():
            return 0
        try:
            with self.db.session() as session:
                claimed = claim_due_sources(
                    session, self.clock.now(), room, self.name, self.settings.worker.lease_seconds,
                    per_host=self.per_host * QUEUED_PER_HOST, busy_hosts=self.refresher.hosts(),
                )  # fmt: skip
        except Exception as exc:
            if not is_database_fault(exc):
                raise
            self._database_is_down(exc, retry_later=True)
            return 0
        self._database_is_up()
        for target in claimed:
            self.refresher.submit(target)
        self._short_at = self.refresher.to_fetch if len(claimed) < room else None
        return len(claimed)

    def _claim_articles(self) -> int:
        """Start on the full articles due, a batch at a time; none found: look
        again after DISPATCH_SECONDS, not on every turn of the dispatch loop."""
        if self.refresher.articles_in_flight or not self._may_try_database():
            return 0
        if time.monotonic() < self._articles_due_check:
            return 0
        try:
            started = self.refresher.fetch_articles()
        except Exception as exc:
            if not is_database_fault(exc):
                raise
            self._database_is_down(exc, retry_later=True)
            return 0
        self._articles_due_check = (
            0.0 if started else time.monotonic() + self.settings.worker.dispatch_seconds
        )
        return started

    def _give_back_deferred(self) -> None:
        """Refreshes that met a database outage recorded nothing: once the
        database answers, give their claims back so they are due again at once,
        not when the lease runs out."""
        if not self.refresher.deferred or not self._may_try_database():
            return
        try:
            with self.db.session() as session:
                release_leases(session, self.name, self.refresher.deferred)
        except Exception as exc:
            if not is_database_fault(exc):
                raise
            self._database_is_down(exc, retry_later=True)
            return
        log.info("database back: %d sources to refresh again", len(self.refresher.deferred))
        self.refresher.deferred.clear()

    def _may_try_database(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _database_is_down(self, exc: BaseException, *, retry_later: bool = False) -> None:
        """Say so once. `retry_later`: a dispatch met it, and the next one waits
        a delay doubling from DISPATCH_SECONDS up to DATABASE_RETRY_MAX."""
        if not self._database_down:
            reason = DatabaseUnavailable.because(exc)
            log.warning("worker %s: database unavailable (%s); waiting for it", self.name, reason)
        self._database_down = True
        if retry_later:
            first = self.settings.worker.dispatch_seconds
            self._retry_delay = (
                min(self._retry_delay * 2, DATABASE_RETRY_MAX) if self._retry_at else first
            )
            self._retry_at = time.monotonic() + self._retry_delay

    def _database_is_up(self) -> None:
        if self._database_down:
            log.info("worker %s: database available again", self.name)
        self._database_down = False
        self._retry_at = 0.0

    def run_jobs(self) -> int:
        """Run the admin's long jobs (large OPML imports) waiting in the jobs table."""
        with self._running_jobs:
            try:
                return self.jobs.run_pending()
            except Exception as exc:
                if not is_database_fault(exc):
                    raise
                self._database_is_down(exc)
                return 0

    def housekeeping(self) -> None:
        """Prune old fetch history, ended jobs, yesterday's visitor hashes and
        story bands past the duplicate window; once a day, old posts (retention)."""
        now = self.clock.now()
        keep_days = self.settings.worker.history_days
        with self.db.session() as session:
            session.execute(
                delete(FetchAttempt).where(
                    FetchAttempt.started_at < now - dt.timedelta(days=keep_days)
                )
            )
            session.execute(delete(ViewVisitor).where(ViewVisitor.day < now.date()))
            jobs.prune_jobs(session, now - dt.timedelta(days=keep_days))
            webhooks.prune(session, now - dt.timedelta(days=keep_days))
            # Roll the view windows here, so that no page view has to.
            popularity.roll_windows(session, now.date())
            duplicates.prune_bands(session, now)
            retention.forget_tombstones(session, now)
            prune_today = retention.claim_daily_run(session, now.date())
        if prune_today:
            removed = retention.prune(self.db, self.settings.retention, now)
            if removed:
                log.info("retention: %d posts deleted", removed)

    def heartbeat(self) -> None:
        """Say this worker is alive, forget workers long silent, and keep the
        claims on the sources it still has in hand: with many sources of one
        host queued, a claim could run out while its source waits its turn, and
        another worker would fetch it too.

        Reads the driver's state: only the thread driving it may call this.
        """
        if not self._may_try_database():
            return
        in_hand = self.refresher.unfinished()
        try:
            with self.db.session() as session:
                if in_hand:
                    until = self.clock.now() + dt.timedelta(
                        seconds=self.settings.worker.lease_seconds
                    )
                    renew_leases(session, self.name, in_hand, until)
                now = self.clock.now()
                beat = session.get(WorkerHeartbeat, self.name)
                if beat is None:
                    session.add(
                        WorkerHeartbeat(name=self.name, beat_at=now, started_at=self.started_at)
                    )
                else:
                    beat.beat_at = now
                # Workers silent this long are gone (killed, their machine lost):
                # forget them, so that only the living are listed.
                gone = now - dt.timedelta(seconds=self.settings.worker.heartbeat_stale_seconds)
                session.execute(
                    delete(WorkerHeartbeat).where(
                        WorkerHeartbeat.beat_at < gone, WorkerHeartbeat.name != self.name
                    )
                )
        except Exception as exc:
            if not is_database_fault(exc):
                raise
            self._database_is_down(exc, retry_later=True)

    def publish(self) -> None:
        """Ping WebSub hubs and rewrite static feeds after changes."""
        try:
            self.publisher.run(self.clock.now())
        except Exception as exc:
            if is_database_fault(exc):
                self._database_is_down(exc)
            else:
                log.exception("publishing failed")

    def send_webhooks(self) -> tuple[int, int]:
        """Send the webhook messages that are due; (delivered, failed)."""
        try:
            return deliver_due(self.db, self.fetcher, self.clock.now(),
                               secret_key=self.settings.secret_key,
                               base_url=self.settings.site.base_url)  # fmt: skip
        except Exception as exc:
            if is_database_fault(exc):
                self._database_is_down(exc)
            else:
                log.exception("sending webhooks failed")
            return 0, 0

    def index_search(self) -> int:
        """Index the posts stored or changed since (search_index.catch_up),
        unless sources are in flight and it has not been put off
        SEARCH_PUT_OFF_MAX times yet; how many."""
        if self.refresher.in_flight and self._search_put_off < SEARCH_PUT_OFF_MAX:
            self._search_put_off += 1
            return 0
        self._search_put_off = 0
        indexed = 0
        try:
            while not self._stopping.is_set():
                with self.db.session() as session:
                    done = search_index.catch_up(session.connection())
                indexed += done
                if done < search_index.CATCH_UP_BATCH:
                    break
        except Exception as exc:
            if not is_database_fault(exc):
                raise
            self._database_is_down(exc)
        return indexed

    def push(self) -> int:
        """Subscribe, renew and unsubscribe at upstream WebSub hubs; return
        how many requests went to hubs."""
        try:
            return push_hub.sync(self.db, self.fetcher, self.settings.push, self.clock.now())
        except Exception as exc:
            if not is_database_fault(exc):
                raise
            self._database_is_down(exc)
            return 0

    def stop(self, deadline: float) -> Stopped:
        """Stop claiming, give in-flight refreshes up to `deadline` seconds to be
        recorded, release the leases of whatever did not finish; say what that was.

        A dispatch stuck (on the database, say) past the deadline keeps the
        driver: its claims are released all the same."""
        self._stopping.set()
        ends = time.monotonic() + deadline
        if not self._driving.acquire(timeout=max(deadline, 0.0)):
            log.warning("worker %s: a dispatch still busy after %s s; stopping without it",
                        self.name, deadline)  # fmt: skip
            self._release_claims()
            return Stopped([], driver_stuck=True)
        try:
            while self.refresher.in_flight and time.monotonic() < ends:
                self.refresher.step(timeout=min(0.25, ends - time.monotonic()))
            unfinished = sorted(self.refresher.unfinished() + self.refresher.deferred)
        finally:
            self._driving.release()
        # A running job gives itself back after its chunk in hand.
        if self._running_jobs.acquire(timeout=max(ends - time.monotonic(), 0.0)):
            self._running_jobs.release()
        else:
            log.warning("worker %s: a job still busy after %s s; it resumes when its lease "
                        "runs out", self.name, deadline)  # fmt: skip
        self._release_claims()
        return Stopped(unfinished)

    def _release_claims(self) -> None:
        try:
            with self.db.session() as session:
                # An unfinished refresh has written nothing: its source is simply due again.
                release_leases(session, self.name)
                session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.name == self.name))
        except Exception as exc:
            if not is_database_fault(exc):
                raise
            log.warning("worker %s: could not give back its claims: the database is away",
                        self.name)  # fmt: skip

    def shutdown(self, wait: bool = True) -> None:
        self._stopping.set()
        self.refresher.close(wait=wait)
        self.fetcher.close()
        self.publisher.close()


def add_jobs(scheduler: BaseScheduler, worker: Worker, settings: Settings) -> None:
    tick = settings.worker.dispatch_seconds
    now = worker.clock.now()
    # (id, job, seconds between runs, whether its first run is at start-up)
    jobs = [
        ("dispatch", worker.dispatch, tick, True),
        ("publish", worker.publish, tick, False),
        ("jobs", worker.run_jobs, tick, True),
        ("webhooks", worker.send_webhooks, tick, False),
        ("push", worker.push, PUSH_SECONDS, True),
        ("search", worker.index_search, SEARCH_INDEX_SECONDS, False),
        ("housekeeping", worker.housekeeping, HOUSEKEEPING_SECONDS, False),
    ]
    for job_id, job, seconds, at_start in jobs:
        first = {"next_run_time": now} if at_start else {}
        scheduler.add_job(job, "interval", seconds=seconds, id=job_id, replace_existing=True,
                          **first)  # fmt: skip


def check_database(db: Database) -> None:
    """Raise DatabaseUnavailable, in its driver's first line, unless the database answers."""
    try:
        with db.engine.connect() as connection:
            connection.execute(select(1))
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable.because(exc) from None


def serve_metrics(settings: WorkerSettings) -> WSGIServer:
    """The worker's Prometheus metrics on WORKER_METRICS_BIND:WORKER_METRICS_PORT, in a thread."""
    from prometheus_client import start_http_server

    port, bind = settings.metrics_port, settings.metrics_bind
    server, _ = start_http_server(port, addr=bind)
    log.info("worker metrics on http://%s:%s/metrics", bind, port)
    return server


def run_worker(db: Database, settings: Settings, clock: Clock) -> None:
    """`feedsvc worker`: run the scheduler in the foreground until SIGTERM or SIGINT."""
    worker = Worker(db, settings, clock=clock)
    if settings.worker.metrics_port:
        serve_metrics(settings.worker)
    scheduler = BlockingScheduler(job_defaults=JOB_DEFAULTS, timezone=dt.UTC)
    add_jobs(scheduler, worker, settings)

    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        # A second Ctrl-C, or a supervisor that repeats itself: the first one
        # is being acted on, and shutting the scheduler down twice raises.
        if stopping.is_set():
            log.info("worker %s: %s again, already stopping", worker.name, name)
            return
        stopping.set()
        log.info("worker %s: %s, stopping", worker.name, name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker %s started", worker.name)
    # What start-up made (the app, the models, the parse pool's handles) lives as
    # long as the process: frozen, the collector stops walking it again at each
    # full collection, which the objects of a big refresh trigger over and over.
    gc.freeze()
    try:
        scheduler.start()
    finally:
        stopped = worker.stop(settings.worker.shutdown_seconds)
        if stopped.unfinished:
            log.warning("worker %s: released unfinished sources %s", worker.name,
                        stopped.unfinished)  # fmt: skip
        if stopped.must_exit:
            logging.shutdown()
            # The parse processes would outlive os._exit: each holds the fork
            # server's pipe open, and so the fork server too (and our stderr).
            for child in multiprocessing.active_children():
                child.kill()
            # Threads stuck in a fetch or a dispatch would hold the interpreter
            # open; their transactions roll back with the process.
            os._exit(0)
        worker.shutdown(wait=True)
        log.info("worker %s stopped", worker.name)


def start_embedded(db: Database, settings: Settings, clock: Clock) -> BackgroundScheduler | None:
    """One scheduler inside a serving process — only if no other process on
    this machine has one, so that several gunicorn workers (or a reloader's two
    processes) never run it twice. The lock is held for the process's life."""
    global _embedded_lock
    if _embedded_lock is not None:
        return None
    handle = open(settings.worker.lock_file, "a+")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        log.info("embedded scheduler: another process on this machine runs it")
        return None
    _embedded_lock = handle
    worker = Worker(
        db, settings, name=f"embedded:{socket.gethostname()}:{os.getpid()}", clock=clock
    )
    scheduler = BackgroundScheduler(job_defaults=JOB_DEFAULTS, timezone=dt.UTC)
    add_jobs(scheduler, worker, settings)
    scheduler.start()
    atexit.register(_stop_embedded, scheduler, worker, settings.worker.shutdown_seconds)
    log.info("embedded scheduler started in process %s", os.getpid())
    return scheduler


def _stop_embedded(scheduler: BackgroundScheduler, worker: Worker, deadline: float) -> None:
    """At the serving process's exit: give back the sources in hand, and stop
    the parse processes, which would otherwise outlive the process."""
    scheduler.shutdown(wait=False)
    stopped = worker.stop(deadline)
    if stopped.must_exit:
        for child in multiprocessing.active_children():
            child.kill()
    worker.shutdown(wait=not stopped.must_exit)


_embedded_lock: IO[str] | None = None
