"""The refresh pipeline: fetch → parse → prepare → process → plan → apply.

`refresh_source` is the story of one refresh, top to bottom. The stages
between fetching and planning are pure (`work`), so a driver may run them in
worker processes; `record` plans and applies in one transaction. Both drivers
— one source here, many at once in `driver.Refresher` — call these same functions.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from feedsvc import changes, metrics, webhooks
from feedsvc.db import Database
from feedsvc.dbfaults import DatabaseUnavailable, is_database_fault
from feedsvc.fetched import FetchResult
from feedsvc.fetcher import Fetcher
from feedsvc.ingest.apply import Applied, apply_plans
from feedsvc.ingest.load import load_existing, load_known_hashes, load_rows, load_target
from feedsvc.ingest.plan import Parsed, Plan, plan_crash, plan_refresh
from feedsvc.ingest.settings import IngestSettings
from feedsvc.ingest.types import Target
from feedsvc.ingest.work import work
from feedsvc.vocabulary import Result, WebhookEvent

log = logging.getLogger(__name__)
# One line per refresh, whichever driver ran it: operators filter on this name.
refresh_log = logging.getLogger("feedsvc.refresh")


@dataclass(frozen=True)
class RefreshReport:
    source_id: int
    result: Result
    new: int = 0
    updated: int = 0
    # For people: a sentence with a next step (messages.py).
    error: str | None = None
    status: int | None = None
    # For operators: the error as it came, as the fetch history keeps it.
    detail: str | None = None

    def describe(self) -> str:
        """How it went, in words: "ok, 3 new, 0 updated" or "error: HTTP 500"."""
        result = self.result.replace("_", " ")
        if self.error:
            return f"{result}: {self.error}"
        return f"{result}, {self.new} new, {self.updated} updated"


@dataclass(frozen=True)
class Fetched:
    """One source's fetch and what its body came to, ready to record."""

    target: Target
    fetched: FetchResult
    parsed: Parsed | None = None


def refresh_source(
    db: Database,
    source_id: int,
    *,
    fetcher: Fetcher,
    now: dt.datetime,
    settings: IngestSettings,
    jitter: float | None = None,
) -> RefreshReport:
    """Refresh one source now; never raises for anything an upstream sends.

    Raises LookupError for an unknown source, DatabaseUnavailable when the
    database went away (nothing is then recorded against the source).
    """
    with db.session(write=False) as session:
        target = load_target(session, source_id)
    fetched = fetcher.fetch(
        target.feed_url, target.etag, target.last_modified, options=target.options
    )
    known = known_hashes(db, target, fetched)
    parsed = work(fetched, target, settings.prepare, known)
    return record(db, [Fetched(target, fetched, parsed)], now, settings, jitter)[0]


def ingest_body(
    db: Database,
    source_id: int,
    body: bytes,
    *,
    now: dt.datetime,
    settings: IngestSettings,
    content_type: str | None = None,
    link: str | None = None,
) -> RefreshReport:
    """Ingest a body already in hand (a hub's content delivery, with its
    Content-Type and Link headers) as if fetched now.

    A body that is no feed is refused and recorded nowhere: the hub erred,
    not the source, whose errors and schedule are its fetches' alone."""
    with db.session(write=False) as session:
        target = load_target(session, source_id)
    headers = {name: value for name, value in (("content-type", content_type), ("link", link))
               if value}  # fmt: skip
    fetched = FetchResult(target.feed_url, target.feed_url, 200, headers, body, pushed=True)
    parsed = work(fetched, target, settings.prepare, known_hashes(db, target, fetched))
    if parsed is None or parsed.feed is None:
        error = parsed.error if parsed else "the body is empty"
        return RefreshReport(source_id, Result.ERROR, error=error, detail=error)
    return record(db, [Fetched(target, fetched, parsed)], now, settings)[0]


def known_hashes(db: Database, target: Target, fetched: FetchResult) -> frozenset[str]:
    """Entries stored unchanged need no preparing; only a body is worth the query."""
    if not fetched.has_body or target.fresh:
        return frozenset()
    try:
        with db.session(write=False) as session:
            return load_known_hashes(session, target)
    except Exception as exc:
        if not is_database_fault(exc):
            raise
        return frozenset()  # recording will meet the outage and say so


def record(
    db: Database,
    items: Sequence[Fetched],
    now: dt.datetime,
    settings: IngestSettings,
    jitter: float | None = None,
) -> list[RefreshReport]:
    """Plan and apply several refreshes in one transaction: one commit for many.

    Each source stays all-or-nothing: if the group fails, each is recorded
    alone; one that fails alone is recorded as our error, and backs off.
    Raises DatabaseUnavailable, having written nothing, when the database is away.
    """
    try:
        with db.session() as session:
            reports = _plan_and_apply(session, items, now, settings, jitter)
    except Exception as exc:
        if is_database_fault(exc):
            raise DatabaseUnavailable.because(exc) from exc
        if len(items) > 1:
            log.warning("recording %d sources together failed; one by one instead", len(items))
            return [report for item in items for report in record(db, [item], now, settings)]
        log.exception("refresh of source %s failed", items[0].target.id)
        return [_record_crash(db, items[0], f"{type(exc).__name__}", now, settings)]
    for item, report in zip(items, reports, strict=True):
        metrics.FETCHES.labels(report.result).inc()
        metrics.FETCH_SECONDS.observe(item.fetched.elapsed_ms / 1000)
        log_refresh(item, report)
    return reports


def log_refresh(item: Fetched, report: RefreshReport) -> None:
    """The refresh's line: INFO when it went well, WARNING with the reason when not."""
    failed = not report.result.succeeded
    seconds = round(item.fetched.elapsed_ms / 1000, 3)
    refresh_log.log(
        logging.WARNING if failed else logging.INFO,
        "source %s <%s>: %s (HTTP %s, %.2f s)",
        report.source_id, item.target.feed_url,
        f"{report.result}: {report.detail}" if report.detail else report.describe(),
        report.status or "-", seconds,
        extra={"source_id": report.source_id, "url": item.target.feed_url,
               "status": report.status, "result": report.result, "new": report.new,
               "updated": report.updated, "duration_seconds": seconds,
               "error": report.detail or report.error},
    )  # fmt: skip


def _plan_and_apply(
    session: Session,
    items: Sequence[Fetched],
    now: dt.datetime,
    settings: IngestSettings,
    jitter: float | None,
) -> list[RefreshReport]:
    rows = load_rows(session, [item.target.id for item in items])
    # Replaced below for every source still there; one deleted while we fetched keeps it.
    reports = [RefreshReport(i.target.id, Result.ERROR, error="the source was deleted")
               for i in items]  # fmt: skip
    plans: list[tuple[int, Plan]] = []
    for index, item in enumerate(items):
        source_id = item.target.id
        row = rows.get(source_id)
        if row is None:
            continue
        feed = item.parsed.feed if item.parsed else None
        existing = load_existing(session, source_id, row, item.fetched, feed, now)
        plan = plan_refresh(
            source_id, row, item.fetched, item.parsed, existing, now, settings.schedule,
            random.random() if jitter is None else jitter, item.target.rules,
        )  # fmt: skip
        plans.append((index, plan))
    applied = apply_plans(session, [plan for _, plan in plans], now)
    webhooks.note_posts(session, WebhookEvent.POST_CREATED,
                        [i for done in applied for i in done.new_ids], now)  # fmt: skip
    webhooks.note_posts(session, WebhookEvent.POST_UPDATED,
                        [i for done in applied for i in done.changed_ids], now)  # fmt: skip
    scopes = frozenset[str]().union(*(done.scopes for done in applied))
    if scopes:
        changes.note_changes(session, now, scopes)
    for (index, plan), done in zip(plans, applied, strict=True):
        reports[index] = report_of(plan, done, items[index].fetched)
    return reports


def _record_crash(
    db: Database, item: Fetched, error: str, now: dt.datetime, settings: IngestSettings
) -> RefreshReport:
    try:
        with db.session() as session:
            row = load_rows(session, [item.target.id]).get(item.target.id)
            if row is None:
                return RefreshReport(item.target.id, Result.ERROR, error="the source was deleted")
            plan = plan_crash(item.target.id, row, item.fetched, error, now, settings.schedule,
                              random.random())  # fmt: skip
            (applied,) = apply_plans(session, [plan], now)
    except Exception as exc:
        if is_database_fault(exc):
            raise DatabaseUnavailable.because(exc) from exc
        raise
    return report_of(plan, applied, item.fetched)


def report_of(plan: Plan, applied: Applied, fetched: FetchResult) -> RefreshReport:
    return RefreshReport(
        plan.source_id, plan.result, applied.new, applied.updated, plan.source.last_error,
        fetched.status, plan.attempt.error,
    )  # fmt: skip
