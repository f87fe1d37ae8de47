"""The reads a refresh needs, each a plain value for the pure stages.

Runs in the caller's session; `load_row` and `load_existing` in the same
transaction as the writes that follow them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedsvc.fetched import FetchResult, fetch_options_of
from feedsvc.ingest import policy
from feedsvc.ingest.plan import Existing, SourceRow, StoredPost
from feedsvc.ingest.prepare import PreparedFeed
from feedsvc.ingest.types import Target
from feedsvc.models import HubSubscription, Post, PrunedEntry, Source
from feedsvc.rulebook import RuleBook, load_rules
from feedsvc.vocabulary import PushState

CHUNK = 500
WEEK = dt.timedelta(days=7)
# Entry hashes looked up per changed feed: feeds list their newest entries.
KNOWN_HASHES = 2000


def load_target(session: Session, source_id: int) -> Target:
    """Raises LookupError when there is no such source."""
    source = session.get(Source, source_id)
    if source is None:
        raise LookupError(f"no source with id {source_id}")
    return target_of(source, load_rules(session))


def load_targets(session: Session, source_ids: Sequence[int]) -> list[Target]:
    """Those that exist, in the order given."""
    sources = session.scalars(select(Source).where(Source.id.in_(list(source_ids))))
    rules = load_rules(session)
    by_id = {source.id: target_of(source, rules) for source in sources}
    return [by_id[i] for i in source_ids if i in by_id]


# What a Target is made of: a claim selects just these (`leases.claim_due_sources`).
TARGET_COLUMNS = (
    Source.id, Source.feed_url, Source.etag, Source.last_modified, Source.site_url,
    Source.last_success_at, Source.strip_selectors, Source.fetch_full, Source.ignore_validators,
    Source.fetch_user_agent, Source.fetch_headers, Source.fetch_cookie, Source.fetch_credentials,
    Source.fetch_as_browser, Source.keep_categories, Source.category_names,
)  # fmt: skip


# A Source, or a row of TARGET_COLUMNS: the same attribute names.
SourceLike = Any


def target_of(source: SourceLike, rules: RuleBook) -> Target:
    """A source's Target, from its row or from a row of TARGET_COLUMNS."""
    keep_validators = not source.ignore_validators
    return Target(
        id=source.id,
        feed_url=source.feed_url,
        etag=source.etag if keep_validators else None,
        last_modified=source.last_modified if keep_validators else None,
        site_url=source.site_url,
        fresh=source.last_success_at is None,
        strip_selectors=tuple(source.strip_selectors or ()),
        rules=rules.for_source(source.id),
        fetch_full=bool(source.fetch_full),
        keep_categories=bool(source.keep_categories),
        category_names=tuple((source.category_names or {}).items()),
        options=fetch_options_of(source),
    )


def load_known_hashes(session: Session, target: Target) -> frozenset[str]:
    """Entry hashes of the source's newest posts: those entries need no preparing."""
    if target.fresh:
        return frozenset()
    rows = session.scalars(
        select(Post.entry_hash)
        .where(Post.source_id == target.id, Post.entry_hash.is_not(None))
        .order_by(Post.id.desc())
        .limit(KNOWN_HASHES)
    )
    return frozenset(h for h in rows if h)


def load_rows(session: Session, source_ids: Iterable[int]) -> dict[int, SourceRow]:
    """The sources as they stand (a deleted one is missing)."""
    ids = list(source_ids)
    query = select(*ROW_COLUMNS).where(Source.id.in_(ids))
    pushed = _push_leases(session, ids)
    return {source.id: row_of(source, pushed.get(source.id)) for source in session.execute(query)}


# What a SourceRow is made of: the rows of a group are read as just these, not
# as ORM objects, which the writes (bulk UPDATEs by primary key) never use.
ROW_COLUMNS = (
    Source.id, Source.feed_url, Source.status, Source.error_count, Source.interval_override,
    Source.hint_interval, Source.last_checked_at, Source.next_check_at, Source.etag,
    Source.last_modified, Source.last_success_at, Source.title, Source.site_url,
    Source.description,
)  # fmt: skip


def _push_leases(session: Session, source_ids: list[int]) -> dict[int, dt.datetime]:
    """When the lease of each source's WebSub subscription ends, for those with one."""
    rows = session.execute(
        select(HubSubscription.source_id, func.max(HubSubscription.expires_at))
        .where(HubSubscription.source_id.in_(source_ids),
               HubSubscription.state.in_([PushState.LIVE, PushState.SUBSCRIBING]),
               HubSubscription.expires_at.is_not(None))
        .group_by(HubSubscription.source_id)
    )  # fmt: skip
    return {source_id: until for source_id, until in rows if source_id and until}


def row_of(source: SourceLike, push_until: dt.datetime | None = None) -> SourceRow:
    previous = None
    if source.last_checked_at is not None:
        previous = int((source.next_check_at - source.last_checked_at).total_seconds()) or None
    return SourceRow(
        feed_url=source.feed_url,
        status=source.status,
        error_count=source.error_count,
        interval_override=source.interval_override,
        hint_interval=source.hint_interval,
        previous_interval=previous,
        etag=source.etag,
        last_modified=source.last_modified,
        last_success_at=source.last_success_at,
        title=source.title,
        site_url=source.site_url,
        description=source.description,
        push_until=push_until,
    )


def load_existing(
    session: Session,
    source_id: int,
    row: SourceRow,
    fetched: FetchResult,
    feed: PreparedFeed | None,
    now: dt.datetime,
) -> Existing:
    """The stored posts this fetch's entries may match, and the learning history."""
    new_url_taken = fetched.permanent_redirect and _url_taken(session, fetched.final_url, source_id)
    if feed is None or row.fresh:
        # Never stored anything, or nothing to match: no queries.
        return Existing(entry_times=() if feed is not None else None, new_url_taken=new_url_taken)
    keys = [entry.key for entry in feed.entries]
    by_key = _posts_by(session, source_id, Post.entry_key, keys)
    links = [e.values["link"] for e in feed.entries if e.key not in by_key and e.values["link"]]
    by_link = _posts_by(session, source_id, Post.link, links)
    unmatched = [e.key for e in feed.entries
                 if e.key not in by_key and e.values["link"] not in by_link]  # fmt: skip
    return Existing(
        by_key=by_key,
        by_link=by_link,
        entry_times=recent_times(session, source_id, now),
        new_url_taken=new_url_taken,
        pruned=_pruned(session, source_id, unmatched),
    )


def _pruned(session: Session, source_id: int, keys: list[str]) -> frozenset[str]:
    """Those of the keys whose posts retention deleted."""
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        found.update(session.scalars(
            select(PrunedEntry.entry_key).where(
                PrunedEntry.source_id == source_id,
                PrunedEntry.entry_key.in_(keys[start : start + CHUNK]),
            )
        ))  # fmt: skip
    return frozenset(found)


def _posts_by(
    session: Session, source_id: int, column: object, values: list[str]
) -> dict[str, StoredPost]:
    found: dict[str, StoredPost] = {}
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        rows = session.execute(
            select(column, Post.id, Post.content_hash, Post.entry_hash, Post.entry_key,  # type: ignore[call-overload]
                   Post.hidden, Post.hidden_by_rule)
            .where(Post.source_id == source_id, column.in_(chunk))  # type: ignore[attr-defined]
            .order_by(Post.id)
        )  # fmt: skip
        for value, *stored in rows:
            if value is not None:
                found.setdefault(value, StoredPost(*stored))
    return found


def explain_schedule(
    session: Session, source: Source, now: dt.datetime, settings: policy.ScheduleSettings
) -> policy.Schedule:
    """How often a source is checked while its fetches succeed, and why: the
    schedule's own rule (`policy.schedule`) on what is stored of it."""
    row = row_of(source)
    state = policy.SourceState(
        feed_url=row.feed_url, interval_override=row.interval_override,
        hint_interval=row.hint_interval,
        pushed=row.push_until is not None and row.push_until > now,
    )  # fmt: skip
    return policy.schedule(state, {}, now, settings, recent_times(session, source.id, now))


def recent_times(session: Session, source_id: int, now: dt.datetime) -> tuple[dt.datetime, ...]:
    """Publication times of last week's posts and the newest one."""
    times = set(
        session.scalars(
            select(Post.published_at).where(
                Post.source_id == source_id, Post.published_at >= now - WEEK
            )
        )
    )
    newest = session.scalar(select(func.max(Post.published_at)).where(Post.source_id == source_id))
    if newest is not None:
        times.add(newest)
    return tuple(sorted(times))


def _url_taken(session: Session, url: str, source_id: int) -> bool:
    other = session.scalar(select(Source.id).where(Source.feed_url == url))
    return other is not None and other != source_id
