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
from dataclasses import dataclass

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


@dataclass(frozen=True)
class _Target:
    id: int
    url: str
    etag: str | None
    last_modified: str | None
    base: str


def parse_and_prepare(
    fetched: FetchResult, base: str, summary_length: int
) -> tuple[ParsedFeed | None, policy.Outcome, list[PreparedPost] | None]:
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
    reports: list[RefreshReport] = []
    workers = processes or max(os.cpu_count() or 1, 1)
    context = multiprocessing.get_context("forkserver")
    cpu_pool: ProcessPoolExecutor | None = None  # started on the first body to parse
    with ThreadPoolExecutor(threads, thread_name_prefix="fetch") as io_pool:
        fetching: dict[Future[FetchResult], _Target] = {
            io_pool.submit(fetcher.fetch, t.url, t.etag, t.last_modified): t for t in targets
        }
        parsing: dict[Future[tuple[ParsedFeed | None, policy.Outcome, list[PreparedPost] | None]],
                      tuple[_Target, FetchResult]] = {}  # fmt: skip
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
            done, _ = wait_for([*fetching, *parsing], return_when=FIRST_COMPLETED)
            for future in done:
                if future in fetching:
                    target = fetching.pop(future)  # type: ignore[call-overload]
                    fetched = future.result()
                    if fetched.ok and fetched.status != 204:
                        if cpu_pool is None:
                            cpu_pool = ProcessPoolExecutor(workers, mp_context=context)
                        job = cpu_pool.submit(
                            parse_and_prepare, fetched, target.base, settings.summary_length
                        )
                        parsing[job] = (target, fetched)
                    else:
                        _, outcome = parse_outcome(fetched)
                        ready.append(Fetched(target.id, fetched, outcome))
                else:
                    target, fetched = parsing.pop(future)  # type: ignore[call-overload]
                    try:
                        parsed, outcome, prepared = future.result()
                    except Exception:  # a worker died on hostile bytes: parse here instead
                        parsed, outcome = parse_outcome(fetched)
                        prepared = None
                    ready.append(Fetched(target.id, fetched, outcome, parsed, prepared))
    if cpu_pool is not None:
        cpu_pool.shutdown()
    return reports


def _load_targets(db: Database, source_ids: Sequence[int]) -> list[_Target]:
    with db.session() as session:
        rows = session.execute(
            select(Source.id, Source.feed_url, Source.etag, Source.last_modified,
                   Source.site_url).where(Source.id.in_(list(source_ids)))
        ).all()  # fmt: skip
    by_id = {row[0]: _Target(row[0], row[1], row[2], row[3], row[4] or row[1]) for row in rows}
    return [by_id[i] for i in source_ids if i in by_id]
