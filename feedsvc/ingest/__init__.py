"""The refresh pipeline: fetch → parse → decide → store, one source at a time.

`refresh_source` reads top to bottom as the story of one refresh. The network
call happens outside any transaction; everything it leads to is written in one
transaction, so a crash mid-way leaves the source as it was.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedsvc import changes, metrics
from feedsvc.db import Database
from feedsvc.ingest import policy
from feedsvc.ingest.fetch import Fetcher, FetchResult, FetchSettings
from feedsvc.ingest.parse import NotAFeed, ParsedFeed, parse_feed
from feedsvc.ingest.store import (
    PreparedPost,
    StoreReport,
    store_entries,
    store_prepared,
)
from feedsvc.models import SOURCE_GONE, FetchAttempt, Post, Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestSettings:
    schedule: policy.ScheduleSettings = field(default_factory=policy.ScheduleSettings)
    summary_length: int = 300


@dataclass(frozen=True)
class RefreshReport:
    source_id: int
    result: str
    new: int = 0
    updated: int = 0
    error: str | None = None
    status: int | None = None

    def describe(self) -> str:
        """How it went, in words: "ok, 3 new, 0 updated" or "error: HTTP 500"."""
        result = self.result.replace("_", " ")
        if self.error:
            return f"{result}: {self.error}"
        return f"{result}, {self.new} new, {self.updated} updated"


def refresh_source(
    db: Database,
    source_id: int,
    *,
    fetcher: Fetcher,
    now: dt.datetime,
    settings: IngestSettings,
    jitter: float | None = None,
    target: tuple[str, str | None, str | None] | None = None,
) -> RefreshReport:
    """Refresh one source; never raises for anything an upstream sends.

    `target` (feed URL, ETag, Last-Modified), when the caller has just read
    them while claiming the source, saves a transaction.
    """
    if target is None:
        with db.session() as session:
            source = session.get(Source, source_id)
            if source is None:
                raise LookupError(f"no source with id {source_id}")
            target = (source.feed_url, source.etag, source.last_modified)
    url, etag, last_modified = target
    fetched = fetcher.fetch(url, etag, last_modified)
    parsed, outcome = parse_outcome(fetched)
    return record_outcome(db, source_id, fetched, parsed, outcome, now, settings, jitter)


def record_outcome(
    db: Database,
    source_id: int,
    fetched: FetchResult,
    parsed: ParsedFeed | None,
    outcome: policy.Outcome,
    now: dt.datetime,
    settings: IngestSettings,
    jitter: float | None = None,
    prepared: list[PreparedPost] | None = None,
) -> RefreshReport:
    """Write everything a fetch led to, in one transaction; never raises."""
    try:
        with db.session() as session:
            return _record(
                session, source_id, fetched, parsed, outcome, now, settings, jitter, prepared
            )
    except Exception as exc:
        # A bug of ours must not stop the other sources; say what happened.
        log.exception("refresh of source %s failed", source_id)
        with db.session() as session:
            source = session.get(Source, source_id)
            if source is not None:
                source.last_error = f"internal error while storing: {type(exc).__name__}"
                source.error_count += 1
                source.next_check_at = now + dt.timedelta(
                    seconds=policy.backoff_seconds(source.error_count, settings.schedule, 0.5)
                )
                source.lease_until = None
        return RefreshReport(source_id, policy.ERROR, error=str(exc))


@dataclass(frozen=True)
class Fetched:
    """One source's fetch, parsed (when there was a body) and ready to record."""

    source_id: int
    fetched: FetchResult
    outcome: policy.Outcome
    parsed: ParsedFeed | None = None
    prepared: list[PreparedPost] | None = None


def record_together(
    db: Database, items: list[Fetched], now: dt.datetime, settings: IngestSettings
) -> list[RefreshReport]:
    """Record several sources' outcomes in one transaction: fewer commits.

    Each source's writes stay all-or-nothing: if the group fails, each is
    recorded again on its own.
    """
    try:
        with db.session() as session:
            # One query loads them all; _record then finds each in the identity
            # map, which holds objects weakly: keep them referenced meanwhile.
            _loaded = session.scalars(
                select(Source).where(Source.id.in_([i.source_id for i in items]))
            ).all()
            # One flush at commit: the ORM then batches the group's source
            # UPDATEs and fetch-history INSERTs instead of a round trip each.
            changed: set[str] = set()
            with session.no_autoflush:
                reports = [
                    _record(session, i.source_id, i.fetched, i.parsed, i.outcome, now, settings,
                            None, i.prepared, changed)
                    for i in items
                ]  # fmt: skip
            # And the feeds they changed are noted once for the whole group.
            if changed:
                changes.note_changes(session, now, changed)
            return reports
    except Exception:
        log.exception("recording %d sources together failed; one by one instead", len(items))
        return [
            record_outcome(
                db, i.source_id, i.fetched, i.parsed, i.outcome, now, settings, prepared=i.prepared
            )
            for i in items
        ]


def parse_outcome(fetched: FetchResult) -> tuple[ParsedFeed | None, policy.Outcome]:
    """Parse a successful fetch; an unparseable body becomes an error outcome."""
    outcome = policy.Outcome(
        status=fetched.status,
        final_url=fetched.final_url,
        permanent_redirect=fetched.permanent_redirect,
        headers=fetched.headers,
        error_kind=fetched.error_kind,
        error=fetched.error,
    )
    if not fetched.has_body:
        return None, outcome
    try:
        parsed = parse_feed(fetched.content, fetched.final_url, fetched.headers.get("content-type"))
    except NotAFeed as exc:
        return None, policy.Outcome(
            status=fetched.status,
            final_url=fetched.final_url,
            headers=fetched.headers,
            error_kind="parse",
            error=str(exc),
        )
    except Exception as exc:  # feedparser on hostile bytes
        return None, policy.Outcome(
            status=fetched.status,
            final_url=fetched.final_url,
            headers=fetched.headers,
            error_kind="parse",
            error=f"the feed could not be parsed: {type(exc).__name__}",
        )
    return parsed, outcome


def _record(
    session: Session,
    source_id: int,
    fetched: FetchResult,
    parsed: ParsedFeed | None,
    outcome: policy.Outcome,
    now: dt.datetime,
    settings: IngestSettings,
    jitter: float | None,
    prepared: list[PreparedPost] | None = None,
    changed: set[str] | None = None,
) -> RefreshReport:
    """Write what one fetch led to. With `changed`, the feed scopes it changed
    are added there for the caller to note, instead of being noted here."""
    source = session.get(Source, source_id)
    if source is None:  # deleted while we fetched
        return RefreshReport(source_id, policy.ERROR, error="the source was deleted")
    # Never stored anything, so it has no posts: no need to look any up.
    fresh = source.last_success_at is None

    decision = policy.decide(
        policy.SourceState(
            feed_url=source.feed_url,
            error_count=source.error_count,
            interval_override=source.interval_override,
            hint_interval=parsed.hint_interval if parsed else source.hint_interval,
            previous_interval=_previous_interval(source),
        ),
        outcome,
        now,
        settings.schedule,
        # Not modified: nothing new to learn from, so skip the queries.
        entry_times=(
            None
            if outcome.status == 304
            else _recent_entry_times(session, source, parsed, now, fresh)
        ),
        jitter=random.random() if jitter is None else jitter,
    )

    metrics.FETCHES.labels(decision.result).inc()
    metrics.FETCH_SECONDS.observe(fetched.elapsed_ms / 1000)
    report = StoreReport()
    if decision.store_entries and parsed is not None:
        if prepared is None:
            report = store_entries(session, source, parsed.entries, now, settings.summary_length,
                                   fresh=fresh)  # fmt: skip
        else:
            report = store_prepared(session, source.id, prepared, now, fresh=fresh)
        _update_source_metadata(source, parsed)
        if report.new or report.updated:
            scopes = [changes.source_scope(source.id), *map(changes.tag_scope, report.tag_ids)]
            if changed is None:
                changes.note_changes(session, now, scopes)
            else:
                changed.update(scopes)
    if decision.result in (policy.OK, policy.NOT_MODIFIED):
        source.etag = fetched.headers.get("etag") or (
            source.etag if decision.result == policy.NOT_MODIFIED else None
        )
        source.last_modified = fetched.headers.get("last-modified") or (
            source.last_modified if decision.result == policy.NOT_MODIFIED else None
        )
        source.last_success_at = now
        source.last_error = parsed.problem if parsed else None
    else:
        source.last_error = decision.error
    if decision.new_feed_url and not _url_taken(session, decision.new_feed_url, source.id):
        source.feed_url = decision.new_feed_url
    if decision.result == policy.GONE:
        source.status = SOURCE_GONE
    source.error_count = decision.error_count
    source.next_check_at = decision.next_check_at
    source.last_checked_at = now
    source.lease_until = None
    source.lease_owner = None

    session.add(
        FetchAttempt(
            source_id=source.id,
            started_at=now,
            duration_ms=fetched.elapsed_ms,
            url=fetched.url,
            status_code=fetched.status,
            outcome=decision.result,
            bytes=len(fetched.content),
            new_count=report.new,
            updated_count=report.updated,
            error=source.last_error,
        )
    )
    return RefreshReport(
        source_id, decision.result, report.new, report.updated, source.last_error, fetched.status
    )


def _update_source_metadata(source: Source, parsed: ParsedFeed) -> None:
    if not source.title and parsed.title:
        source.title = parsed.title[:500]
    if not source.site_url and parsed.link:
        source.site_url = parsed.link[:2048]
    if not source.description and parsed.description:
        source.description = parsed.description
    source.upstream_id = (parsed.upstream_id or "")[:2048] or None
    source.upstream_updated = parsed.updated
    source.hint_interval = parsed.hint_interval


def _previous_interval(source: Source) -> int | None:
    if source.last_checked_at is None:
        return None
    return int((source.next_check_at - source.last_checked_at).total_seconds()) or None


def _recent_entry_times(
    session: Session, source: Source, parsed: ParsedFeed | None, now: dt.datetime, fresh: bool
) -> list[dt.datetime]:
    """Publication times the adaptive interval learns from: last week's posts,
    the newest post, and the entries just fetched."""
    if fresh:
        return sorted({e.published for e in parsed.entries if e.published} if parsed else set())
    stored = session.scalars(
        select(Post.published_at).where(
            Post.source_id == source.id, Post.published_at >= now - policy.WEEK
        )
    ).all()
    times = set(stored)
    newest = session.scalar(select(func.max(Post.published_at)).where(Post.source_id == source.id))
    if newest is not None:
        times.add(newest)
    if parsed is not None:
        times.update(e.published for e in parsed.entries if e.published)
    return sorted(times)


def _url_taken(session: Session, url: str, source_id: int) -> bool:
    other = session.scalar(select(Source.id).where(Source.feed_url == url))
    return other is not None and other != source_id


def probe_feed(fetcher: Fetcher, url: str) -> tuple[FetchResult, ParsedFeed]:
    """Fetch and parse a URL once, to check it is a feed before adding it.

    Raises `ValueError` with the reason in words when it is not.
    """
    fetched = fetcher.fetch(url)
    if fetched.error:
        raise ValueError(f"{url}: {fetched.error}")
    if not fetched.ok:
        raise ValueError(f"{url}: the server answered HTTP {fetched.status}")
    parsed, outcome = parse_outcome(fetched)
    if parsed is None:
        raise ValueError(f"{url}: {outcome.error}")
    return fetched, parsed


def settings_from_config(cfg: Mapping[str, Any]) -> tuple[FetchSettings, IngestSettings]:
    """The fetcher's and the pipeline's settings, from the app's configuration."""
    fetch = FetchSettings(
        timeout=float(cfg["FETCH_TIMEOUT"]),
        max_bytes=int(cfg["FETCH_MAX_BYTES"]),
        max_redirects=int(cfg["FETCH_MAX_REDIRECTS"]),
        allow_private=bool(cfg["FETCH_ALLOW_PRIVATE"]),
        allow_hosts=tuple(cfg["FETCH_ALLOW_HOSTS"]),
    )
    ingest = IngestSettings(
        schedule=policy.ScheduleSettings(
            min_interval=int(cfg["FETCH_MIN_INTERVAL"]),
            max_interval=int(cfg["FETCH_MAX_INTERVAL"]),
            default_interval=int(cfg["FETCH_DEFAULT_INTERVAL"]),
            max_backoff=int(cfg["FETCH_MAX_BACKOFF"]),
        ),
        summary_length=int(cfg["SUMMARY_LENGTH"]),
    )
    return fetch, ingest
