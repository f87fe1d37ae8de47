"""Popular posts: count real readers' views honestly, rank posts by window.

A view is counted once per visitor, post and UTC day. The visitor is the
client's address (an IPv4 address as it is, an IPv6 address by its /64), kept
only as an HMAC under a key derived from SECRET_KEY and the day, so the key
rotates daily and no address is ever stored. The User-Agent decides only
whether the client is a bot: varying it is free, so it must not make a visitor.

Counters: `post_views` (per post per day), `post_view_totals` (all time) and
`post_view_windows` (running 7d and 30d sums). A view increments all of them;
the first ranking of each UTC day subtracts the day that left each window, so
a ranking reads the top of an index instead of summing a month of rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, case, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from feedsvc import metrics
from feedsvc.db import for_writing
from feedsvc.models import (
    Counter,
    PopularRanking,
    Post,
    PostViewDay,
    PostViewTotal,
    PostViewWindow,
    ViewVisitor,
)
from feedsvc.settings import PopularSettings

WINDOW_DAYS = {"7d": 7, "30d": 30}
WINDOWS = ("7d", "30d", "all", "trending")


def _bot_pattern() -> re.Pattern[str]:
    """The maintained list in bots.txt, as one expression."""
    lines = (Path(__file__).with_name("bots.txt")).read_text(encoding="utf-8").splitlines()
    markers = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return re.compile("|".join(markers), re.IGNORECASE)


BOT_PATTERN = _bot_pattern()


def is_bot(user_agent: str | None) -> bool:
    """True for anything that is not a person's browser; an empty UA is a bot."""
    if not user_agent or not user_agent.strip():
        return True
    return BOT_PATTERN.search(user_agent) is not None


def client_address(remote_addr: str | None, forwarded_for: str | None, proxy_hops: int) -> str:
    """The client's address. X-Forwarded-For is believed only as far as
    `proxy_hops` proxies of our own appended to it; otherwise anyone could
    claim any address."""
    if proxy_hops > 0 and forwarded_for:
        hops = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if hops:
            return hops[-proxy_hops] if len(hops) >= proxy_hops else hops[0]
    return remote_addr or ""


def visitor_network(address: str) -> str:
    """What one visitor is: an IPv4 address, or an IPv6 address's /64 — one
    host or household gets a whole /64 and rotates its addresses within it.
    Anything that is not an address (nothing, junk) stands for itself."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def visitor_id(secret: str, day: dt.date, address: str) -> str:
    """A keyed hash of the visitor's network; the key changes every UTC day, so
    ids cannot be linked across days."""
    day_key = hmac.new(secret.encode(), f"views:{day.isoformat()}".encode(), hashlib.sha256)
    network = visitor_network(address)
    return hmac.new(day_key.digest(), network.encode(), hashlib.sha256).hexdigest()[:32]


def record_view(session: Session, post_id: int, visitor: str, day: dt.date) -> bool:
    """Count one view unless this visitor was counted for this post today.

    Every write is an atomic upsert, so concurrent requests lose no count.
    """
    first_time = _upsert(
        session, ViewVisitor, {"day": day, "post_id": post_id, "visitor": visitor}, {}
    )
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
    if session.execute(first_time.returning(ViewVisitor.post_id)).first() is None:
        return False
    session.execute(_upsert(session, PostViewDay, {"post_id": post_id, "day": day, "count": 1},
                            {"count": PostViewDay.count + 1}))  # fmt: skip
    session.execute(_upsert(session, PostViewTotal, {"post_id": post_id, "count": 1},
                            {"count": PostViewTotal.count + 1}))  # fmt: skip
    for window in WINDOW_DAYS:
        session.execute(
            _upsert(session, PostViewWindow, {"window": window, "post_id": post_id, "count": 1},
                    {"count": PostViewWindow.count + 1})
        )  # fmt: skip
    metrics.VIEWS_COUNTED.inc()
    return True


def _upsert(
    session: Session, model: type, values: dict[str, object], on_conflict: dict[str, Any]
) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    statement = dialect_insert(model).values(**values)
    keys = [column.name for column in model.__table__.primary_key.columns]  # type: ignore[attr-defined]
    if on_conflict:
        return statement.on_conflict_do_update(index_elements=keys, set_=on_conflict)
    return statement.on_conflict_do_nothing(index_elements=keys)


# --- keeping the windows exact -------------------------------------------------


def roll_windows(session: Session, today: dt.date) -> None:
    """Subtract the days that have left each window since the last roll.

    The guard row's conditional update makes one process do each roll, and
    the roll commits with it or not at all.
    """
    for window, days in WINDOW_DAYS.items():
        name = f"views_rolled:{window}"
        rolled = session.scalar(select(Counter.value).where(Counter.name == name))
        if rolled is None:
            rebuild_window(session, window, today)
            session.execute(insert(Counter).values(name=name, value=today.toordinal()))
            continue
        if rolled >= today.toordinal():
            continue
        claimed = session.execute(
            update(Counter)
            .where(Counter.name == name, Counter.value == rolled)
            .values(value=today.toordinal())
        ).rowcount  # type: ignore[attr-defined]
        if not claimed:
            continue
        # The day that leaves the window on day d is d - days.
        first = dt.date.fromordinal(rolled + 1) - dt.timedelta(days=days)
        last = today - dt.timedelta(days=days)
        in_leaving_days = and_(PostViewDay.day >= first, PostViewDay.day <= last)
        leaving = (
            select(func.sum(PostViewDay.count))
            .where(PostViewDay.post_id == PostViewWindow.post_id, in_leaving_days)
            .scalar_subquery()
        )
        # One statement, however many posts were read on the days that left.
        session.execute(
            update(PostViewWindow)
            .where(
                PostViewWindow.window == window,
                PostViewWindow.post_id.in_(select(PostViewDay.post_id).where(in_leaving_days)),
            )
            .values(count=PostViewWindow.count - leaving)
        )
        session.execute(
            delete(PostViewWindow).where(PostViewWindow.window == window, PostViewWindow.count <= 0)
        )


def _roll_if_behind(session: Session, today: dt.date) -> None:
    """Roll in a short transaction of its own: rankings are read in request
    sessions that never commit, and must not hold a write lock."""
    names = [f"views_rolled:{window}" for window in WINDOW_DAYS]
    rolled = session.scalars(select(Counter.value).where(Counter.name.in_(names))).all()
    if len(rolled) == len(names) and min(rolled) >= today.toordinal():
        return
    with Session(for_writing(session.get_bind().engine)) as writer, writer.begin():
        roll_windows(writer, today)


def rebuild_window(session: Session, window: str, today: dt.date) -> None:
    """Recompute one window's sums from the daily counters (first use, repairs)."""
    since = today - dt.timedelta(days=WINDOW_DAYS[window])
    session.execute(delete(PostViewWindow).where(PostViewWindow.window == window))
    session.execute(
        insert(PostViewWindow).from_select(
            ["window", "post_id", "count"],
            select(literal(window), PostViewDay.post_id, func.sum(PostViewDay.count))
            .where(PostViewDay.day > since, PostViewDay.day <= today)
            .group_by(PostViewDay.post_id),
        )
    )


# --- ranking ---------------------------------------------------------------------


def rank(
    session: Session, window: str, limit: int, now: dt.datetime, half_life_days: float = 2.0
) -> list[int]:
    """Post ids, most viewed first; ties go to the newer post. Uncached."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}")
    today = now.astimezone(dt.UTC).date()
    if window in WINDOW_DAYS:
        _roll_if_behind(session, today)
        return _top(session, PostViewWindow.count, PostViewWindow.post_id, limit,
                    PostViewWindow.window == window)  # fmt: skip
    if window == "all":
        return _top(session, PostViewTotal.count, PostViewTotal.post_id, limit)
    return _trending(session, today, limit, half_life_days)


def _rankable(query: Select, post_id: object) -> Select:  # type: ignore[type-arg]
    return query.join(Post, Post.id == post_id).where(
        Post.hidden.is_(False), Post.popular_excluded.is_(False)
    )


def _top(session: Session, count: Any, post_id: Any, limit: int, *where: Any) -> list[int]:
    """Read the top of the count index: first the limit-th count, then
    everything at or above it in full order (so ties are broken right)."""
    base = _rankable(select(count).where(*where), post_id)
    threshold = session.scalar(base.order_by(count.desc()).offset(limit - 1).limit(1))
    query = _rankable(select(post_id).where(*where), post_id)
    if threshold is not None:
        query = query.where(count >= threshold)
    query = query.order_by(count.desc(), Post.published_at.desc(), Post.id.desc()).limit(limit)
    return list(session.scalars(query))


def _trending(session: Session, today: dt.date, limit: int, half_life_days: float) -> list[int]:
    """Views weighted by age: a view `half_life_days` old counts half."""
    horizon = max(1, math.ceil(half_life_days * 4))
    weights = {
        today - dt.timedelta(days=age): 0.5 ** (age / half_life_days) for age in range(horizon)
    }
    weight = case(*[(PostViewDay.day == day, value) for day, value in weights.items()], else_=0.0)
    score = func.sum(PostViewDay.count * weight).label("score")
    query = _rankable(
        select(PostViewDay.post_id, score).where(
            PostViewDay.day > today - dt.timedelta(days=horizon)
        ),
        PostViewDay.post_id,
    ).group_by(PostViewDay.post_id, Post.published_at, Post.id)
    query = query.order_by(score.desc(), Post.published_at.desc(), Post.id.desc()).limit(limit)
    return [post_id for post_id, _ in session.execute(query)]


# --- the shared ranking ------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    """A window's ranking as every process shows it. `version` changes with
    every new ranking, so what is rendered from it can be cached under it."""

    window: str
    version: int
    post_ids: tuple[int, ...]


def shared_ranking(
    session: Session, window: str, now: dt.datetime, settings: PopularSettings
) -> Ranking:
    """The window's ranking, stored in `popular_rankings` so that every process
    (the sidebar in one gunicorn worker, /popular in another, the feed) shows
    the same one; ranked again by the first request after `cache_seconds`.

    `settings.depth` posts are kept, enough for the deepest list asked of it.
    Ranking again writes in a short transaction of its own (the request's
    session never commits); of two processes ranking at once, the first to
    write wins and the other returns its ranking."""
    if settings.cache_seconds <= 0:  # kept nowhere: every request ranks afresh
        ids = rank(session, window, settings.depth, now, settings.half_life_days)
        return Ranking(window, 0, tuple(ids))
    stored = session.execute(
        select(PopularRanking.version, PopularRanking.post_ids, PopularRanking.ranked_at)
        .where(PopularRanking.window == window)
    ).first()  # fmt: skip
    # Fresh within the period either way: a row from a clock that ran ahead
    # (or ours set back) is not kept until that future time.
    period = dt.timedelta(seconds=settings.cache_seconds)
    if stored is not None and abs(now - stored.ranked_at) < period:
        return Ranking(window, stored.version, tuple(stored.post_ids))
    ids = rank(session, window, settings.depth, now, settings.half_life_days)
    seen = None if stored is None else stored.version
    with Session(for_writing(session.get_bind().engine)) as writer, writer.begin():
        return _store_ranking(writer, window, seen, ids, now)


def _store_ranking(
    writer: Session, window: str, seen: int | None, ids: list[int], now: dt.datetime
) -> Ranking:
    """Replace the ranking we saw (version `seen`, None: none yet) unless
    another process did first; the ranking stored either way."""
    if seen is None:
        first = {"window": window, "version": 1, "post_ids": ids, "ranked_at": now}
        statement = _upsert(writer, PopularRanking, first, {})
        won = writer.execute(statement.returning(PopularRanking.version)).first() is not None
    else:
        won = bool(writer.execute(
            update(PopularRanking)
            .where(PopularRanking.window == window, PopularRanking.version == seen)
            .values(version=seen + 1, post_ids=ids, ranked_at=now)
        ).rowcount)  # type: ignore[attr-defined]  # fmt: skip
    if won:
        return Ranking(window, 1 if seen is None else seen + 1, tuple(ids))
    version, post_ids = writer.execute(
        select(PopularRanking.version, PopularRanking.post_ids)
        .where(PopularRanking.window == window)
    ).one()  # fmt: skip
    return Ranking(window, version, tuple(post_ids))


def posts_by_ids(session: Session, ids: Sequence[int]) -> list[Post]:
    """The posts, in the order given, skipping any hidden since they were ranked."""
    if not ids:
        return []
    rows = session.scalars(
        select(Post)
        .where(Post.id.in_(ids), Post.hidden.is_(False))
        .options(joinedload(Post.source), selectinload(Post.tags))
    ).unique()
    by_id = {post.id: post for post in rows}
    return [by_id[post_id] for post_id in ids if post_id in by_id]
