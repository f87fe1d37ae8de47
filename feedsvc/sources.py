"""Source management: add, list and look up the upstream feeds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from types import EllipsisType
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from feedsvc import content
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.fetch_options import (
    FetchOptionError,
    FetchOptionsWanted,
    check_cookie,
    check_credentials,
    check_headers,
    check_user_agent,
)
from feedsvc.fetched import FetchOptions, fetch_options_of
from feedsvc.fields import check_category_names
from feedsvc.models import FetchAttempt, Post, Source, post_tags
from feedsvc.sealing import SOURCE_SECRETS, Sealer
from feedsvc.selectors import BadSelector, check_selector, check_selectors
from feedsvc.urls import NotWebUrl, check_web_url
from feedsvc.vocabulary import (
    FAILING_AFTER,
    MAX_FIXED_INTERVAL,
    MIN_INTERVAL,
    PostMode,
    SourceState,
    SourceStatus,
    WebhookEvent,
)  # fmt: skip


class SourceError(FeedsvcError):
    """A source cannot be added or changed; the message says why, `field` what."""


class SourceExists(SourceError):
    kind = ErrorKind.CONFLICT

    def __init__(self, source: Source) -> None:
        super().__init__(f"a source with this feed URL exists already (id {source.id})", "url")
        self.source = source


def normalize_feed_url(url: str) -> str:
    """Check a feed URL is absolute http(s); return it without surrounding space."""
    try:
        return check_web_url(url)
    except NotWebUrl as exc:
        raise SourceError(str(exc), "url") from None


def normalize_site_url(url: str | None) -> str | None:
    """Check a site URL an admin gives: blank means none, else absolute http(s)."""
    if url is None or not url.strip():
        return None
    try:
        return check_web_url(url)
    except NotWebUrl as exc:
        raise SourceError(f"site URL: {exc}", "site_url") from None


def check_interval(interval: object, minimum: int) -> int | None:
    """An admin's fixed interval in seconds (None: adapt to the feed), from
    `minimum` (FEEDSVC_FETCH_MIN_INTERVAL) to a year."""
    if interval is None:
        return None
    if not isinstance(interval, int) or isinstance(interval, bool):
        raise SourceError("the interval is a whole number of seconds", "interval")
    if interval < minimum:
        raise SourceError(
            f"the interval must be at least {minimum} seconds ({minimum / 60:g} minutes); "
            "choose a longer one, or let it adapt to the feed", "interval",
        )  # fmt: skip
    if interval > MAX_FIXED_INTERVAL:
        raise SourceError("the interval must be at most a year (31536000 seconds)", "interval")
    return interval


def add_source(
    session: Session,
    feed_url: str,
    now: dt.datetime,
    *,
    title: str = "",
    site_url: str | None = None,
    interval: int | None = None,
    min_interval: int = MIN_INTERVAL,
    fetch_full: bool = False,
) -> Source:
    feed_url = normalize_feed_url(feed_url)
    site_url = normalize_site_url(site_url)
    interval = check_interval(interval, min_interval)
    existing = session.scalar(select(Source).where(Source.feed_url == feed_url))
    if existing is not None:
        raise SourceExists(existing)
    source = Source(
        feed_url=feed_url,
        title=content.normalize_space(title)[:500],
        site_url=site_url,
        interval_override=interval,
        next_check_at=now,
        created_at=now,
        error_count=0,
        fetch_full=fetch_full,
    )
    try:
        # A savepoint: losing a race to a concurrent add undoes only this.
        with session.begin_nested():
            session.add(source)
    except IntegrityError:
        raise SourceExists(
            session.scalars(select(Source).where(Source.feed_url == feed_url)).one()
        ) from None
    return source


def list_sources(
    session: Session, state: str | None = None, limit: int | None = None, offset: int = 0
) -> list[tuple[Source, int]]:
    """Sources (all, or those in one state) with their post counts, oldest first."""
    counts = select(Post.source_id, func.count().label("posts")).group_by(Post.source_id).subquery()
    query = (
        select(Source, func.coalesce(counts.c.posts, 0))
        .outerjoin(counts, counts.c.source_id == Source.id)
        .options(selectinload(Source.tags))
        .order_by(Source.id)
        .limit(limit)
        .offset(offset)
    )
    if state is not None:
        query = query.where(in_state(state))
    return [(source, int(count)) for source, count in session.execute(query)]


def count_sources(session: Session, state: str | None = None) -> int:
    query = select(func.count()).select_from(Source)
    if state is not None:
        query = query.where(in_state(state))
    return int(session.scalar(query) or 0)


STATES = tuple(SourceState)


def in_state(state: str) -> Any:
    """The SQL condition for `source_state(source) == state`."""
    active = Source.status == SourceStatus.ACTIVE
    failing = Source.error_count >= FAILING_AFTER
    if state == SourceState.ACTIVE:
        return active & (Source.error_count == 0)
    if state == SourceState.WARNING:
        return active & (Source.error_count > 0) & ~failing
    if state == SourceState.FAILING:
        return active & failing
    if state in STATES:
        return Source.status == state
    raise SourceError(f"the state is one of {', '.join(STATES)}", "state")


def source_state(source: Source) -> SourceState:
    """active; warning from its first error in a row; failing from FAILING_AFTER
    errors (still tried, at the backoff cap); paused or gone."""
    if source.status != SourceStatus.ACTIVE:
        return SourceState(source.status)
    if source.error_count >= FAILING_AFTER:
        return SourceState.FAILING
    if source.error_count > 0:
        return SourceState.WARNING
    return SourceState.ACTIVE


def attention_order(source: Source) -> tuple[int, int]:
    """Sort key: failing first, then warning, active, paused, gone; oldest first within."""
    return STATES.index(source_state(source)), source.id


# Admin changes to a source. Each takes the session of the caller's transaction.

MODES = (PostMode.FULL, PostMode.SUMMARY, PostMode.LINK)


def update_source(
    session: Session,
    source: Source,
    now: dt.datetime,
    *,
    title: str | None = None,
    site_url: str | None = None,
    tags: Iterable[str] | None = None,
    interval: int | EllipsisType | None = ...,
    min_interval: int = MIN_INTERVAL,
    mode: str | None = None,
    strip_selectors: Sequence[str] | None = None,
    retain_days: int | EllipsisType | None = ...,
    retain_per_source: int | EllipsisType | None = ...,
    fetch_full: bool | None = None,
    article_selector: str | None = None,
    keep_categories: bool | None = None,
    category_names: object = None,
) -> Source:
    """Change what an admin may change; arguments left out stay as they are
    (for the retention limits, None means "follow the global setting"; an
    empty `article_selector` leaves the article to the extractor). The
    category options apply to the entries of the source's next fetch, which
    processes them all again (they are part of the entry hash)."""
    from feedsvc import changes
    from feedsvc.tags import tags_named

    if title is not None:
        source.title = content.normalize_space(title)[:500]
    if site_url is not None:
        source.site_url = normalize_site_url(site_url)
    if interval is not ...:
        interval = check_interval(interval, min_interval)
        source.interval_override = interval
        if interval is not None:
            # The new interval applies from now, not after the old one ran out.
            source.next_check_at = min(source.next_check_at, now + dt.timedelta(seconds=interval))
    if mode is not None:
        if mode not in MODES:
            raise SourceError(f"the mode is one of {', '.join(MODES)}", "mode")
        if mode != source.mode:
            source.mode = mode
            # What its feeds publish of its posts changes.
            changes.note_changes(session, now, [changes.source_scope(source.id)])
    if strip_selectors is not None:
        try:
            source.strip_selectors = check_selectors(strip_selectors)
        except BadSelector as exc:
            raise SourceError(str(exc), "strip_selectors") from None
    if fetch_full is not None:
        if not isinstance(fetch_full, bool):
            raise SourceError("fetch_full is true or false", "fetch_full")
        source.fetch_full = fetch_full
    if article_selector is not None:
        try:
            selector = check_selector(article_selector, "article_selector")
        except BadSelector as exc:
            raise SourceError(str(exc), "article_selector") from None
        source.article_selector = selector or None
    if retain_days is not ...:
        source.retain_days = _retention_limit(retain_days, "retain_days")
    if retain_per_source is not ...:
        source.retain_per_source = _retention_limit(retain_per_source, "retain_per_source")
    if keep_categories is not None:
        if not isinstance(keep_categories, bool):
            raise SourceError("keep_categories is true or false", "keep_categories")
        source.keep_categories = keep_categories
    if category_names is not None:
        source.category_names = check_category_names(category_names)
    if tags is not None:
        source.tags = tags_named(session, [name.strip() for name in tags if name.strip()])
    return source


def set_fetch_options(source: Source, wanted: FetchOptionsWanted, secret_key: str) -> None:
    """Change how a source is fetched; the cookie and credentials are sealed
    with a key derived from `secret_key`. Options left as None stay."""
    if wanted.user_agent is not None:
        source.fetch_user_agent = check_user_agent(wanted.user_agent)
        # A User-Agent set or cleared by an admin starts over: the browser-like one is forgotten.
        source.fetch_as_browser = False
    if wanted.headers is not None:
        source.fetch_headers = [[name, value] for name, value in check_headers(wanted.headers)]
    if wanted.cookie is not None:
        source.fetch_cookie = _sealed(check_cookie(wanted.cookie), secret_key)
    if wanted.username is not None:
        source.fetch_credentials = _sealed(
            check_credentials(wanted.username, wanted.password or ""), secret_key
        )
    elif wanted.password is not None:
        raise FetchOptionError("give the username with the password", "username")
    if wanted.ignore_validators is not None:
        source.ignore_validators = bool(wanted.ignore_validators)


def options_to_try(wanted: FetchOptionsWanted | None, secret_key: str) -> FetchOptions:
    """The options a source about to be added is fetched with, checked and
    sealed as they will be stored (discovery fetches with them)."""
    if wanted is None:
        return FetchOptions()
    probe = Source(fetch_headers=[], fetch_as_browser=False)
    set_fetch_options(probe, wanted, secret_key)
    return fetch_options_of(probe)


def _sealed(value: str | None, secret_key: str) -> str | None:
    if value is None:
        return None
    if not secret_key:
        raise FetchOptionError("a cookie or credentials need FEEDSVC_SECRET_KEY to be set")
    return Sealer(secret_key, SOURCE_SECRETS).seal(value)


def _retention_limit(value: object, field: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SourceError(f"{field} is a whole number, 0 or more (0 keeps all)", field)
    return value


def pause_source(source: Source) -> None:
    source.status = SourceStatus.PAUSED
    source.lease_until = None


def resume_source(source: Source, now: dt.datetime) -> None:
    """Back to the schedule, due now; an admin re-enabling a gone source clears its errors."""
    source.status = SourceStatus.ACTIVE
    source.error_count = 0
    source.last_error = None
    source.next_check_at = now


def delete_source(session: Session, source: Source, now: dt.datetime, *, keep_posts: bool) -> int:
    """Delete a source; its posts stay (as posts of no source) or go. Returns how many went."""
    from feedsvc import changes, webhooks

    removed = 0
    scopes = [changes.source_scope(source.id)]
    if not keep_posts:
        # The tag feeds those posts were in change too.
        tagged = select(post_tags.c.tag_id).join(Post, Post.id == post_tags.c.post_id)
        tag_ids = session.scalars(tagged.where(Post.source_id == source.id).distinct())
        scopes += [changes.tag_scope(tag_id) for tag_id in tag_ids]
        doomed = session.scalars(select(Post.id).where(Post.source_id == source.id)).all()
        webhooks.note_posts(session, WebhookEvent.POST_DELETED, doomed, now)
        result = session.execute(delete(Post).where(Post.source_id == source.id))
        removed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.delete(source)
    session.flush()
    changes.note_changes(session, now, scopes)
    return removed


def active_source_ids(session: Session) -> list[int]:
    """Every active source's id, oldest first."""
    query = select(Source.id).where(Source.status == SourceStatus.ACTIVE).order_by(Source.id)
    return list(session.scalars(query))


def unknown_source_ids(session: Session, ids: Iterable[int]) -> list[int]:
    """Those of `ids` that no source has."""
    ids = list(ids)
    known = set(session.scalars(select(Source.id).where(Source.id.in_(ids))))
    return [source_id for source_id in ids if source_id not in known]


def any_fetch_full(session: Session, ids: Iterable[int]) -> bool:
    """Whether any of these sources fetches its entries' full articles."""
    query = select(Source.id).where(Source.id.in_(list(ids)), Source.fetch_full).limit(1)
    return session.scalar(query) is not None


def fetch_history(session: Session, source_id: int, limit: int = 50) -> Sequence[FetchAttempt]:
    return session.scalars(
        select(FetchAttempt)
        .where(FetchAttempt.source_id == source_id)
        .order_by(FetchAttempt.started_at.desc(), FetchAttempt.id.desc())
        .limit(limit)
    ).all()
