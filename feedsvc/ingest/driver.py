"""Many refreshes at once, on both cores: the driver the worker and `fetch --all` share.

Fetching is I/O and runs on threads; parse → prepare → process (`work`) is
CPU-bound and runs in worker processes, since threads cannot lift Python's
parse ceiling; each fetch thread hands its body to a parser itself, so parsing
goes on while the main thread writes. Results are recorded in groups, one
transaction for many sources. Every stage is the pipeline's own function.

Full articles go the same way: a fetch thread fetches an entry's page (at
most `per_host` pages at once per host), hands it to a parse process to
extract, and records the outcome in a short transaction of its own; the main
thread never extracts.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from feedsvc import articles
from feedsvc.db import Database
from feedsvc.dbfaults import DatabaseUnavailable
from feedsvc.fetched import FetchResult
from feedsvc.fetcher import Fetcher
from feedsvc.fulltext import ArticleJob
from feedsvc.ingest.load import load_targets
from feedsvc.ingest.pipeline import Fetched, RefreshReport, known_hashes, record
from feedsvc.ingest.settings import IngestSettings
from feedsvc.ingest.types import Parsed, Target
from feedsvc.ingest.work import extract, work
from feedsvc.vocabulary import FetchErrorKind

log = logging.getLogger(__name__)

# What a fetch thread hands back: the fetch, and the parse job it started, if any.
Fetch = tuple[FetchResult, "Future[Parsed | None] | None"]

# A group is recorded once it holds this many sources, or this many with a body,
GROUP = 100
PARSED_GROUP = 10
# or its oldest result has waited this long (seconds).
GROUP_WAIT = 0.25
# A parse (parse → prepare → process) taking longer than this is given up.
PARSE_TIMEOUT = 60.0
# Articles claimed at a time (each a page fetch and an extraction).
ARTICLE_BATCH = 20
# Fresh worker processes now and then keep a long-running worker's memory flat.
TASKS_PER_PROCESS = 1000


class Refresher:
    """Runs submitted refreshes concurrently; `step` records what has finished.

    Not thread-safe: one thread submits and steps (the worker's dispatcher, or
    `refresh_many`). Sources whose recording met a database outage are in
    `deferred`: nothing was written for them, and their claims are the
    caller's to give back.
    """

    def __init__(
        self,
        db: Database,
        fetcher: Fetcher,
        settings: IngestSettings,
        *,
        now: Callable[[], dt.datetime],
        threads: int = 16,
        processes: int | None = None,
        per_host: int = 0,
        parse_timeout: float = PARSE_TIMEOUT,
    ) -> None:
        self.db = db
        self.parse_timeout = parse_timeout
        self.fetcher = fetcher
        self.settings = settings
        self.now = now
        self.processes = processes or max(os.cpu_count() or 1, 1)
        self.io_pool = ThreadPoolExecutor(threads, thread_name_prefix="fetch")
        self.cpu_pool = self._new_cpu_pool()
        self.deferred: list[int] = []
        self._fetching: dict[Future[Fetch], Target] = {}
        # Each parse job with its source, fetch, tries so far and when it was handed over.
        self._parsing: dict[Future[Parsed | None], tuple[Target, FetchResult, int, float]] = {}
        self._ready: list[Fetched] = []
        self._oldest_ready = 0.0
        # Politeness: at most `per_host` fetches at once to one host (0: no limit);
        # the rest wait their turn here, not in a fetch thread.
        self.per_host = per_host
        self._fetches: Counter[str] = Counter()
        self._waiting: dict[str, deque[Target]] = {}
        # Fetches a fetch thread started for the next source of its host, for
        # the dispatching thread to pick up; all three guarded by the lock.
        self._started: list[tuple[Future[Fetch], Target]] = []
        self._lock = threading.Lock()
        # Article fetches under way (each records its own outcome), and their
        # turns per host: a page fetch waits only for other page fetches, which
        # all run, so no thread waits on work queued behind it.
        self._articles: set[Future[None]] = set()
        self._article_turns: dict[str, threading.Semaphore] = {}
        # Never more articles at once than half the threads: feeds keep theirs.
        self.article_batch = max(1, min(ARTICLE_BATCH, threads // 2))

    def _new_cpu_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        # The fork server imports the parsing code once; each worker forked from
        # it then starts at once instead of spending ~0.6 s of CPU importing it
        # again. Only that code: no database or HTTP client in these processes.
        context.set_forkserver_preload(["feedsvc.ingest.work"])
        pool = ProcessPoolExecutor(
            self.processes, mp_context=context, max_tasks_per_child=TASKS_PER_PROCESS
        )
        # Start the processes now, not at the first feed: the worker's start-up
        # pays for them, and the first bodies fetched find parsers waiting.
        for _ in range(self.processes):
            pool.submit(os.getpid)
        return pool

    def __enter__(self) -> Refresher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, wait: bool = True) -> None:
        self.io_pool.shutdown(wait=wait, cancel_futures=True)
        self.cpu_pool.shutdown(wait=wait, cancel_futures=True)

    @property
    def in_flight(self) -> int:
        """Submitted and not yet recorded."""
        with self._lock:
            waiting = sum(len(queue) for queue in self._waiting.values()) + len(self._started)
        articles = sum(not job.done() for job in self._articles)
        return len(self._fetching) + waiting + len(self._parsing) + len(self._ready) + articles

    @property
    def load(self) -> int:
        """What counts against a claim's room: `in_flight` but the answers
        without a body waiting for their group (a 304 holds next to nothing).
        Counted, a group of them filled the room, and fetching stopped until it
        was recorded."""
        light = sum(item.parsed is None for item in self._ready)
        return self.in_flight - light

    @property
    def to_fetch(self) -> int:
        """Submitted and not yet fetched: what keeps the fetch threads busy."""
        with self._lock:
            waiting = sum(len(queue) for queue in self._waiting.values()) + len(self._started)
        return len(self._fetching) + waiting

    @property
    def articles_in_flight(self) -> int:
        self._articles = {job for job in self._articles if not job.done()}
        return len(self._articles)

    def unfinished(self) -> list[int]:
        """Ids of the sources submitted and not yet recorded."""
        targets = [*self._fetching.values(), *(job[0] for job in self._parsing.values())]
        with self._lock:
            targets += [target for queue in self._waiting.values() for target in queue]
            targets += [target for _, target in self._started]
        return [target.id for target in targets] + [item.target.id for item in self._ready]

    def hosts(self) -> Counter[str]:
        """How many sources of each host are being fetched or waiting to be."""
        with self._lock:
            counts = Counter(self._fetches)
            for host, queue in self._waiting.items():
                counts[host] += len(queue)
        return +counts

    def submit(self, target: Target) -> None:
        with self._lock:
            if self.per_host and self._fetches[target.host] >= self.per_host:
                self._waiting.setdefault(target.host, deque()).append(target)
                return
            self._fetches[target.host] += 1
        self._fetching[self.io_pool.submit(self._fetch_then_parse, target)] = target

    def _next_of_host(self, host: str) -> None:
        """A fetch to `host` ended: start its next source now, from this fetch
        thread, so fetching goes on while the dispatching thread writes."""
        with self._lock:
            self._fetches[host] -= 1
            queue = self._waiting.get(host)
            if not queue:
                return
            target = queue.popleft()
            if not queue:
                del self._waiting[host]
            self._fetches[host] += 1
            try:
                self._started.append((self.io_pool.submit(self._fetch_then_parse, target), target))
            except RuntimeError:  # shutting down: it stays unfinished
                queue.appendleft(target)
                self._waiting[host] = queue

    def _fetch_then_parse(self, target: Target) -> Fetch:
        try:
            fetched = self.fetcher.fetch(target.feed_url, target.etag, target.last_modified,
                                         options=target.options)  # fmt: skip
        finally:
            self._next_of_host(target.host)
        if not fetched.has_body:
            return fetched, None
        return fetched, self._parse(target, fetched)

    def _parse(self, target: Target, fetched: FetchResult) -> Future[Parsed | None] | None:
        """None when the job could not be handed over: the dispatcher tries again."""
        try:
            known = known_hashes(self.db, target, fetched)
            return self.cpu_pool.submit(work, fetched, target, self.settings.prepare, known)
        except (BrokenProcessPool, RuntimeError):
            return None  # the pool is being replaced
        except Exception:
            log.exception("handing source %s to a parser failed", target.id)
            return None

    def submit_article(self, job: ArticleJob) -> None:
        self._articles.add(self.io_pool.submit(self._fetch_article, job))

    def _fetch_article(self, job: ArticleJob) -> None:
        """Fetch the page (its host's turn waited for), extract it in a parse
        process, record the outcome. A failure of ours leaves the article
        claimed: its lease runs out and it is tried again."""
        try:
            with self._lock:
                turn = self._article_turns.setdefault(
                    job.host, threading.Semaphore(self.per_host or self.article_batch)
                )
            with turn:
                fetched = self.fetcher.fetch(job.url, options=job.options,
                                             secrets_for=job.feed_url)  # fmt: skip
            article = self.cpu_pool.submit(extract, fetched, job.selector).result(
                timeout=self.parse_timeout
            )
            with self.db.session() as session:
                articles.record_article(
                    session, job, article, self.now(), self.settings.prepare.summary_length
                )
        except Exception:
            log.exception("fetching the article of post %s failed", job.post_id)

    def fetch_articles(self, source_ids: Sequence[int] | None = None) -> int:
        """Claim the due articles (of these sources) and start fetching them; how many."""
        with self.db.session() as session:
            jobs = articles.claim_due_articles(
                session, self.now(), self.article_batch, source_ids=source_ids
            )
        for job in jobs:
            self.submit_article(job)
        return len(jobs)

    def drain_articles(self, source_ids: Sequence[int] | None = None) -> None:
        """Fetch the due full articles (of these sources) until none is due."""
        while not self.deferred and self.fetch_articles(source_ids):
            self.drain()

    def step(self, timeout: float) -> list[RefreshReport]:
        """Wait up to `timeout` seconds for work to finish; record a group if one is due."""
        if self._ready and self._group_due():
            return self._record_ready()
        self._stop_slow_parses()
        with self._lock:
            self._fetching.update(self._started)
            self._started.clear()
        pending: list[Future[Any]] = [*self._fetching, *self._parsing]
        pending += [job for job in self._articles if not job.done()]
        if pending:
            done, _ = wait_for(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                self._collect(future)
        elif timeout:
            time.sleep(min(timeout, GROUP_WAIT))
        if self._ready and self._group_due():
            return self._record_ready()
        return []

    def drain(self) -> list[RefreshReport]:
        """Finish and record everything submitted."""
        reports: list[RefreshReport] = []
        while self.in_flight:
            reports += self.step(timeout=GROUP_WAIT)
        return reports

    def _collect(self, future: Future[Any]) -> None:
        if future in self._articles:
            self._articles.discard(future)
            return
        if future in self._fetching:
            target = self._fetching.pop(future)
            try:
                fetched, job = future.result()
            except Exception as exc:  # a bug of ours: this source says so, the rest go on
                log.exception("fetching source %s failed", target.id)
                words = f"internal error while fetching: {type(exc).__name__}"
                internal = FetchErrorKind.INTERNAL
                fetched, job = FetchResult(target.feed_url, target.feed_url,
                                           error_kind=internal, error=words), None  # fmt: skip
            if job is not None:
                self._parsing[job] = (target, fetched, 1, time.monotonic())
            elif fetched.has_body:
                self._resubmit(target, fetched, 1)
            else:
                self._add_ready(Fetched(target, fetched))
            return
        target, fetched, tries, _ = self._parsing.pop(future)
        try:
            self._add_ready(Fetched(target, fetched, future.result()))
        except BrokenProcessPool:
            self._resubmit(target, fetched, tries + 1)
        except Exception as exc:  # cannot come back from the process (pickling, say)
            words = f"the feed could not be parsed: {type(exc).__name__}"
            self._add_ready(Fetched(target, fetched, Parsed(error=words)))

    def _stop_slow_parses(self) -> None:
        """A parse past its timeout holds a process for good (feedparser is
        quadratic on some input): stop the pool's processes, record that source
        as an error, and hand the others to a new pool."""
        now = time.monotonic()
        slow = [job for job, (_, _, _, since) in self._parsing.items()
                if now - since > self.parse_timeout and not job.done()]  # fmt: skip
        if not slow:
            return
        for job in slow:
            target, fetched, _, _ = self._parsing.pop(job)
            words = f"parsing took longer than {self.parse_timeout:g} s; the feed was given up"
            self._add_ready(Fetched(target, fetched, Parsed(error=words)))
        log.warning("%d parses ran past %g s; restarting the parse processes",
                    len(slow), self.parse_timeout)  # fmt: skip
        # The executor has no way to stop a running job but stopping its process,
        # which breaks the pool: every other job comes back BrokenProcessPool and
        # is tried again in a new one.
        for process in list(getattr(self.cpu_pool, "_processes", {}).values()):
            process.kill()

    def _resubmit(self, target: Target, fetched: FetchResult, tries: int) -> None:
        """A worker process died (hostile bytes, or killed): the pool is broken for
        everyone. Renew it and try again; a body that breaks it twice is an error."""
        if tries > 2:
            self._add_ready(
                Fetched(target, fetched, Parsed(error="the parser crashed on this feed"))
            )
            return
        try:
            job = self.cpu_pool.submit(work, fetched, target, self.settings.prepare, frozenset())
        except (BrokenProcessPool, RuntimeError):
            log.warning("a parse worker process died; starting new ones")
            self.cpu_pool.shutdown(wait=False, cancel_futures=True)
            self.cpu_pool = self._new_cpu_pool()
            job = self.cpu_pool.submit(work, fetched, target, self.settings.prepare, frozenset())
        self._parsing[job] = (target, fetched, tries, time.monotonic())

    def _add_ready(self, item: Fetched) -> None:
        if not self._ready:
            self._oldest_ready = time.monotonic()
        self._ready.append(item)

    def _group_due(self) -> bool:
        with_body = sum(item.parsed is not None for item in self._ready)
        return (
            len(self._ready) >= GROUP
            or with_body >= PARSED_GROUP
            or not (self._parsing or self.to_fetch)
            or time.monotonic() - self._oldest_ready >= GROUP_WAIT
        )

    def _record_ready(self) -> list[RefreshReport]:
        group, self._ready = self._ready, []
        try:
            return record(self.db, group, self.now(), self.settings)
        except DatabaseUnavailable as exc:
            log.warning("database unavailable, %d refreshes not recorded: %s", len(group), exc)
            self.deferred += [item.target.id for item in group]
            return []


def refresh_many(
    db: Database,
    source_ids: Sequence[int],
    *,
    fetcher: Fetcher,
    now: Callable[[], dt.datetime],
    settings: IngestSettings,
    threads: int = 16,
    processes: int | None = None,
    per_host: int = 0,
    on_done: Callable[[RefreshReport], None] | None = None,
) -> list[RefreshReport]:
    """Refresh the given sources now (`fetch --all`); `now` is read per group recorded."""
    with db.session(write=False) as session:
        targets = load_targets(session, source_ids)
    if not targets:
        return []
    reports: list[RefreshReport] = []
    with Refresher(
        db, fetcher, settings, now=now, threads=threads, processes=processes, per_host=per_host
    ) as driver:
        for target in targets:
            driver.submit(target)
        while driver.in_flight:
            for report in driver.step(timeout=GROUP_WAIT):
                reports.append(report)
                if on_done is not None:
                    on_done(report)
        driver.drain_articles(source_ids)
    if driver.deferred:
        raise DatabaseUnavailable(f"{len(driver.deferred)} refreshes could not be recorded")
    return reports


def fetch_articles_now(
    db: Database,
    source_ids: Sequence[int],
    *,
    fetcher: Fetcher,
    now: Callable[[], dt.datetime],
    settings: IngestSettings,
    per_host: int = 0,
) -> None:
    """The due full articles of these sources, fetched and recorded now
    (`feedsvc fetch ID`), in a parse process of their own."""
    with Refresher(db, fetcher, settings, now=now, threads=4, processes=1,
                   per_host=per_host) as driver:  # fmt: skip
        driver.drain_articles(source_ids)
