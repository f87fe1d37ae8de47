"""Figures for the dashboard and the API's /stats: posts per day, sources by state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedsvc.models import Post, Source
from feedsvc.sources import STATES, in_state


def posts_per_day(
    session: Session, today: dt.date, days: int, source_id: int | None = None,
    *, published: bool = False,
) -> dict[int | None, list[int]]:
    """Posts per day over the last `days` days (oldest first), by source.

    Counted by when we stored them (a backlog ingested at once shows as such),
    or with `published` by when their feeds say they were published: a
    source's own rhythm, the same for a new source as an old one.
    """
    start = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(), dt.UTC)
    dated = Post.published_at if published else Post.created_at
    day = func.date(dated)
    query = (
        select(Post.source_id, day, func.count())
        .where(dated >= start, dated < start + dt.timedelta(days=days))
        .group_by(Post.source_id, day)
    )  # fmt: skip
    if source_id is not None:
        query = query.where(Post.source_id == source_id)
    series: dict[int | None, list[int]] = {}
    for owner, stored_on, count in session.execute(query):
        # SQLite's date() gives text, PostgreSQL's a date.
        stored = dt.date.fromisoformat(stored_on) if isinstance(stored_on, str) else stored_on
        index = (stored - start.date()).days
        if 0 <= index < days:
            series.setdefault(owner, [0] * days)[index] += count
    return series


def state_counts(session: Session) -> dict[str, int]:
    """Sources in each state (`sources.STATES`, in their order)."""
    counted = select(func.count()).select_from(Source)
    return {state: int(session.scalar(counted.where(in_state(state))) or 0) for state in STATES}


def post_count(session: Session, *, hidden_only: bool = False) -> int:
    """All stored posts, or the hidden ones."""
    query = select(func.count()).select_from(Post)
    if hidden_only:
        query = query.where(Post.hidden)
    return int(session.scalar(query) or 0)


def sources_with_errors(session: Session, limit: int = 20) -> Sequence[Source]:
    """The sources whose last fetches failed, most errors first."""
    query = (
        select(Source)
        .where(Source.error_count > 0)
        .order_by(Source.error_count.desc(), Source.id)
        .limit(limit)
    )
    return session.scalars(query).all()
