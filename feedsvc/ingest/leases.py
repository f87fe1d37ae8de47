"""Claims on due sources: leases, so that any number of workers share the work.

On PostgreSQL the rows are locked with SKIP LOCKED, so concurrent workers
never claim the same source; an expired lease (a dead worker) is fair game.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from feedsvc.ingest.load import TARGET_COLUMNS, target_of
from feedsvc.ingest.types import Target, host_of
from feedsvc.models import Source
from feedsvc.rulebook import RuleBook, load_rules
from feedsvc.vocabulary import SourceStatus

# Built once, with parameters: a claim runs several times a second while
# sources fall due, and making each statement and its cache key anew cost more
# than running it.
_DUE = (
    Source.status == SourceStatus.ACTIVE,
    Source.next_check_at <= bindparam("now"),
    or_(Source.lease_until.is_(None), Source.lease_until < bindparam("now")),
)
_DUE_URLS = (
    select(Source.id, Source.feed_url).where(*_DUE).order_by(Source.next_check_at)
    .limit(bindparam("window"))
)  # fmt: skip
# Locked as they are read; one another worker holds is passed over.
_OLDEST_DUE = (
    select(*TARGET_COLUMNS).where(*_DUE).order_by(Source.next_check_at)
    .limit(bindparam("limit")).with_for_update(skip_locked=True)
)  # fmt: skip
_THESE_IF_DUE = (
    select(*TARGET_COLUMNS).where(Source.id.in_(bindparam("ids", expanding=True)), *_DUE)
    .order_by(Source.next_check_at).with_for_update(skip_locked=True)
)  # fmt: skip
_LEASE = (
    update(Source).where(Source.id.in_(bindparam("ids", expanding=True)))
    .values(lease_until=bindparam("until"), lease_owner=bindparam("owner"))
    .execution_options(synchronize_session=False)
)  # fmt: skip


def claim_due_sources(
    session: Session,
    now: dt.datetime,
    limit: int,
    owner: str,
    lease_seconds: int,
    *,
    per_host: int = 0,
    busy_hosts: Mapping[str, int] | None = None,
) -> list[Target]:
    """Lease up to `limit` due sources to `owner`, each with what its fetch needs.

    With `per_host`, no host gets more than that many sources counting those
    already `busy_hosts` — the oldest due sources of other hosts come first.
    """
    if limit <= 0:
        return []
    if per_host:
        ids = _spread_over_hosts(session, now, limit, per_host, busy_hosts or {})
        if not ids:
            return []
        rows = session.execute(_THESE_IF_DUE, {"ids": ids, "now": now}).all()
    else:
        rows = session.execute(_OLDEST_DUE, {"now": now, "limit": limit}).all()
    rules = load_rules(session) if rows else RuleBook()
    picked = [target_of(source, rules) for source in rows]
    if picked:
        until = now + dt.timedelta(seconds=lease_seconds)
        session.execute(_LEASE, {"ids": [target.id for target in picked], "until": until,
                                 "owner": owner})  # fmt: skip
    return picked


def _spread_over_hosts(
    session: Session, now: dt.datetime, limit: int, per_host: int, busy: Mapping[str, int]
) -> list[int]:
    """Up to `limit` due sources, oldest first, none beyond `per_host` of a host
    counting its `busy` ones. Read by URL alone, and ten times as many as taken,
    so that a crowded host cannot fill a claim; only those taken are locked."""
    candidates = session.execute(_DUE_URLS, {"now": now, "window": limit * 10})
    counts = dict(busy)
    ids = []
    for source_id, feed_url in candidates:
        host = host_of(feed_url)
        if counts.get(host, 0) >= per_host:
            continue
        counts[host] = counts.get(host, 0) + 1
        ids.append(source_id)
        if len(ids) == limit:
            break
    return ids


def release_leases(session: Session, owner: str, source_ids: Iterable[int] | None = None) -> int:
    """Give back leases (all of the owner's, or just these) so others may claim them."""
    query = update(Source).where(Source.lease_owner == owner)
    if source_ids is not None:
        query = query.where(Source.id.in_(list(source_ids)))
    result = session.execute(query.values(lease_until=None, lease_owner=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def renew_leases(
    session: Session, owner: str, source_ids: Iterable[int], until: dt.datetime
) -> int:
    """Push the owner's leases on these sources to `until`: a source waiting its
    turn behind others of its host must not be claimed by another worker.
    A lease already lost to another worker stays theirs."""
    ids = list(source_ids)
    if not ids:
        return 0
    result = session.execute(
        update(Source)
        .where(Source.lease_owner == owner, Source.id.in_(ids))
        .values(lease_until=until)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
