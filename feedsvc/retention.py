"""Retention: old posts of upstream sources are deleted, in batches, once a day.

Two limits, each global (`FEEDSVC_RETAIN_DAYS`, `FEEDSVC_RETAIN_PER_SOURCE`)
and overridable per source (`Source.retain_days`, `Source.retain_per_source`:
None follows the global value, 0 keeps everything): posts published more than
N days ago go, and so do a source's posts beyond its newest N. Duplicates go
with their original (a foreign key's cascade), and count toward no limit.

Always kept, whatever the limits say:
- local posts (written here; they have no source);
- posts in a current popular list (the top `keep_popular` of every window);
- posts with comments — there is no comments table yet: when there is, its
  post ids join `protected_ids`, and nothing else changes.

A deletion is announced like any change (`changes.note_changes`): render
caches, WebSub pings and static files follow. Each deleted entry's key is kept
(`pruned_entries`, for a year): while its feed still lists it, the ingest
does not store it again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from feedsvc import changes, popularity, webhooks
from feedsvc.db import Database
from feedsvc.models import LOCAL_KEY_PREFIX, Comment, Counter, Post, PrunedEntry, Source, post_tags
from feedsvc.settings import RetentionSettings
from feedsvc.vocabulary import WebhookEvent

BATCH = 500
LAST_RUN = "retention:last_day"
# How long a deleted entry's key keeps it from being stored again.
TOMBSTONE_DAYS = 365


@dataclass(frozen=True)
class Doomed:
    """A post retention would delete."""

    id: int
    source_id: int | None
    title: str
    published_at: dt.datetime


def protected_ids(session: Session, settings: RetentionSettings, now: dt.datetime) -> set[int]:
    """Posts kept whatever their age: those in a current popular list, and
    those with comments (any, pending too: a reader's words are not pruned)."""
    kept: set[int] = set(session.scalars(select(Comment.post_id).distinct()))
    for window in popularity.WINDOWS:
        kept.update(popularity.rank(session, window, settings.keep_popular, now,
                                    settings.half_life_days))  # fmt: skip
    return kept


def doomed_posts(session: Session, settings: RetentionSettings, now: dt.datetime) -> list[Doomed]:
    """What retention would delete now, oldest first."""
    ids = _over_age(session, settings.days, now) | _over_count(session, settings.per_source)
    ids -= protected_ids(session, settings, now)
    found: list[Doomed] = []
    wanted = sorted(ids)
    for start in range(0, len(wanted), BATCH):
        rows = session.execute(
            select(Post.id, Post.source_id, Post.title, Post.published_at).where(
                Post.id.in_(wanted[start : start + BATCH])
            )
        )
        found.extend(Doomed(*row) for row in rows)
    found.sort(key=lambda doomed: (doomed.published_at, doomed.id))
    return found


def _prunable() -> list[ColumnElement[bool]]:
    """Originals of upstream sources: never a local post, never a duplicate."""
    return [Post.duplicate_of_id.is_(None), ~Post.entry_key.startswith(LOCAL_KEY_PREFIX)]


def _over_age(session: Session, global_days: int, now: dt.datetime) -> set[int]:
    query = select(Source.retain_days).where(Source.retain_days > 0).distinct()
    overrides = {days for days in session.scalars(query) if days}
    ids: set[int] = set()
    for days in overrides:
        ids.update(session.scalars(
            select(Post.id).join(Source, Source.id == Post.source_id).where(
                Source.retain_days == days, Post.published_at < now - dt.timedelta(days=days),
                *_prunable(),
            )
        ))  # fmt: skip
    if global_days > 0:
        cutoff = now - dt.timedelta(days=global_days)
        # Sources that follow the global value, and posts whose source was deleted.
        follows = select(Source.id).where(Source.retain_days.is_(None))
        ids.update(session.scalars(
            select(Post.id).where(
                Post.published_at < cutoff, *_prunable(),
                Post.source_id.in_(follows) | Post.source_id.is_(None),
            )
        ))  # fmt: skip
    return ids


def _over_count(session: Session, global_count: int) -> set[int]:
    """A source's posts beyond its newest N (its own N, else the global one)."""
    cap = func.coalesce(Source.retain_per_source, global_count)
    ranked = (
        select(
            Post.id.label("id"),
            Post.source_id.label("source_id"),
            func.row_number()
            .over(partition_by=Post.source_id, order_by=(Post.published_at.desc(), Post.id.desc()))
            .label("position"),
        )
        .where(Post.source_id.is_not(None), *_prunable())
        .subquery()
    )
    query = (
        select(ranked.c.id)
        .join(Source, Source.id == ranked.c.source_id)
        .where(cap > 0, ranked.c.position > cap)
    )
    return set(session.scalars(query))


def delete_posts(session: Session, post_ids: Sequence[int], now: dt.datetime) -> int:
    """Delete these posts (their duplicates go with them) and announce the
    feeds they were in."""
    if not post_ids:
        return 0
    ids = list(post_ids)
    keys = session.execute(
        select(Post.source_id, Post.entry_key).where(Post.id.in_(ids), Post.source_id.is_not(None))
    ).all()
    if keys:
        _tombstones(session, [(s, key) for s, key in keys if s is not None], now)
    sources = session.scalars(select(Post.source_id).where(Post.id.in_(ids)).distinct())
    tags = session.scalars(
        select(post_tags.c.tag_id).where(post_tags.c.post_id.in_(ids)).distinct()
    )
    scopes = [changes.source_scope(s) for s in sources if s is not None]
    scopes += [changes.tag_scope(t) for t in tags]
    # Read before they go: what each shown one was goes out with post.deleted.
    webhooks.note_posts(session, WebhookEvent.POST_DELETED, ids, now)
    result = session.execute(
        delete(Post).where(Post.id.in_(ids)), execution_options={"synchronize_session": False}
    )
    changes.note_changes(session, now, scopes)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _tombstones(session: Session, keys: Sequence[tuple[int, str]], now: dt.datetime) -> None:
    rows = [{"source_id": source_id, "entry_key": key, "pruned_at": now} for source_id, key in keys]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    statement = upsert(PrunedEntry).on_conflict_do_update(
        index_elements=["source_id", "entry_key"], set_={"pruned_at": now}
    )
    session.execute(statement, rows)


def forget_tombstones(session: Session, now: dt.datetime) -> int:
    """Forget deleted entries' keys after a year; how many went."""
    result = session.execute(
        delete(PrunedEntry).where(PrunedEntry.pruned_at < now - dt.timedelta(days=TOMBSTONE_DAYS))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prune(db: Database, settings: RetentionSettings, now: dt.datetime) -> int:
    """Delete what retention says, a batch per transaction; how many went."""
    if not settings.active and not _has_overrides(db):
        return 0
    with db.session(write=False) as session:
        doomed = [post.id for post in doomed_posts(session, settings, now)]
    removed = 0
    for batch in _batches(doomed, BATCH):
        with db.session() as session:
            removed += delete_posts(session, batch, now)
    return removed


def _has_overrides(db: Database) -> bool:
    with db.session(write=False) as session:
        query = select(Source.id).where((Source.retain_days > 0) | (Source.retain_per_source > 0))
        return session.scalar(query.limit(1)) is not None


def _batches(ids: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def claim_daily_run(session: Session, today: dt.date) -> bool:
    """True for the one caller (of any worker) that prunes today."""
    day = today.toordinal()
    claimed = session.execute(
        update(Counter).where(Counter.name == LAST_RUN, Counter.value < day).values(value=day)
    )
    if claimed.rowcount:  # type: ignore[attr-defined]
        return True
    if session.get(Counter, LAST_RUN) is not None:
        return False
    with session.begin_nested():
        session.execute(insert(Counter).values(name=LAST_RUN, value=day))
    return True
