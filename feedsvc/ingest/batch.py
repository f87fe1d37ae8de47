"""Refresh many sources at once, using both cores.

Fetching is I/O and runs on threads; parsing (feedparser) and preparing posts
(nh3, summaries) are CPU-bound and run in worker processes, since threads
cannot lift Python's parse ceiling; writes stay in this process, one
transaction per source.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.ingest import (
    Fetched,
    IngestSettings,
    RefreshReport,
    parse_outcome,
    policy,
    record_together,
)
from feedsvc.ingest.fetch import Fetcher, FetchResult
from feedsvc.ingest.parse import ParsedFeed
from feedsvc.ingest.store import PreparedPost, prepare_all
from feedsvc.models import Source

# At most this many sources per transaction, and this many with new posts.
GROUP = 100
PARSED_GROUP = 10


Parsed = tuple[ParsedFeed | None, policy.Outcome, list[PreparedPost] | None]


@dataclass(frozen=True)
class _Target:
    id: int
    url: str
    etag: str | None
    last_modified: str | None
    base: str


def parse_and_prepare(fetched: FetchResult, base: str, summary_length: int) -> Parsed:
    """Runs in a worker process: bytes to posts ready to store."""
    parsed, outcome = parse_outcome(fetched)
    if parsed is None:
        return None, outcome, None
    return parsed, outcome, prepare_all(parsed.entries, base, summary_length)


def refresh_many(
    db: Database,
    source_ids: Sequence[int],
    *,
    fetcher: Fetcher,
    now: Callable[[], dt.datetime],
    settings: IngestSettings,
    threads: int = 16,
    processes: int | None = None,
    on_done: Callable[[RefreshReport], None] | None = None,
) -> list[RefreshReport]:
    """Refresh the given sources; `now` is called per source as it is recorded."""
    targets = _load_targets(db, source_ids)
    if not targets:
        return []
    reports: list[RefreshReport] = []
    workers = processes or max(os.cpu_count() or 1, 1)
    context = multiprocessing.get_context("forkserver")
    # The fork server imports the parsing code once; each worker forked from it
    # then starts at once instead of spending ~0.6 s of CPU importing it again.
    context.set_forkserver_preload([__name__])
    with (
        ProcessPoolExecutor(workers, mp_context=context) as cpu_pool,
        ThreadPoolExecutor(threads, thread_name_prefix="fetch") as io_pool,
    ):

        def fetch_then_parse(target: _Target) -> tuple[FetchResult, Future[Parsed] | None]:
            # Handing the body to a parser from this thread keeps the parsers
            # busy while the main thread is writing to the database.
            fetched = fetcher.fetch(target.url, target.etag, target.last_modified)
            if fetched.has_body:
                try:
                    job = cpu_pool.submit(parse_and_prepare, fetched, target.base,
                                          settings.summary_length)  # fmt: skip
                except BrokenProcessPool:  # a worker died on hostile bytes: parse in-process
                    return fetched, None
                return fetched, job
            return fetched, None

        fetching = {io_pool.submit(fetch_then_parse, t): t for t in targets}
        parsing: dict[Future[Parsed], tuple[_Target, FetchResult]] = {}
        # Outcomes are recorded in groups: one commit for many sources, not one each.
        ready: list[Fetched] = []
        while fetching or parsing or ready:
            if ready and (len(ready) >= GROUP or not (fetching or parsing)
                          or sum(i.parsed is not None for i in ready) >= PARSED_GROUP):  # fmt: skip
                for report in record_together(db, ready, now(), settings):
                    reports.append(report)
                    if on_done is not None:
                        on_done(report)
                ready = []
                continue
            pending: list[Future[Any]] = [*fetching, *parsing]
            done, _ = wait_for(pending, return_when=FIRST_COMPLETED)
            for future in done:
                if future in fetching:
                    target = fetching.pop(future)  # type: ignore[call-overload]
                    fetched, job = future.result()
                    if job is not None:
                        parsing[job] = (target, fetched)
                    else:
                        parsed, outcome = parse_outcome(fetched)
                        ready.append(Fetched(target.id, fetched, outcome, parsed))
                else:
                    target, fetched = parsing.pop(future)  # type: ignore[call-overload]
                    try:
                        parsed, outcome, prepared = future.result()
                    except Exception:  # a worker died on hostile bytes: parse here instead
                        parsed, outcome = parse_outcome(fetched)
                        prepared = None
                    ready.append(Fetched(target.id, fetched, outcome, parsed, prepared))
    return reports


def _load_targets(db: Database, source_ids: Sequence[int]) -> list[_Target]:
    with db.session() as session:
        rows = session.execute(
            select(Source.id, Source.feed_url, Source.etag, Source.last_modified,
                   Source.site_url).where(Source.id.in_(list(source_ids)))
        ).all()  # fmt: skip
    by_id = {row[0]: _Target(row[0], row[1], row[2], row[3], row[4] or row[1]) for row in rows}
    return [by_id[i] for i in source_ids if i in by_id]
