"""WebSub: tell hubs which feeds changed, so subscribers need not poll.

Changed scopes (see feedsvc.changes) become one ping per hub and topic, queued
in `hub_pings`; a failed ping is retried with exponential backoff.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from feedsvc import changes
from feedsvc.db import Database
from feedsvc.models import HubPing, Tag
from feedsvc.publish import feeds, service
from feedsvc.settings import Settings
from feedsvc.version import __version__

log = logging.getLogger(__name__)

FIRST_RETRY = 60
MAX_RETRY = 6 * 3600
# After this many failures in a row a ping is dropped (about two days of tries).
MAX_ATTEMPTS = 15


def topics_for(session: Session, scopes: Iterable[str], settings: Settings) -> list[str]:
    """The canonical address (rel=self of the first page) of every feed in the scopes."""
    base = settings.site.base_url
    requests: list[service.FeedRequest] = []
    for scope in scopes:
        kind, _, key = scope.partition(":")
        for fmt in feeds.FORMATS:
            if kind == changes.ALL_POSTS:
                requests += [
                    service.FeedRequest(service.POSTS, fmt, settings.feeds.page_size),
                    service.FeedRequest(service.SUMMARY, fmt, settings.feeds.page_size),
                ]
                if fmt != feeds.JSON:  # Blogger's alt=json is its own shape, not JSON Feed
                    requests += [
                        service.FeedRequest(service.POSTS, fmt, settings.feeds.page_size,
                                            style=service.BLOGGER),
                        service.FeedRequest(service.SUMMARY, fmt, settings.feeds.page_size,
                                            style=service.BLOGGER),
                    ]  # fmt: skip
            elif kind == changes.ALL_COMMENTS:
                post_id = int(key) if key else None
                comment_kind = service.POST_COMMENTS if key else service.COMMENTS
                # Blogger's addresses: Atom and RSS (its alt=json is not JSON Feed).
                styles = [service.NATIVE] + [service.BLOGGER] * (fmt != feeds.JSON)
                requests += [service.FeedRequest(comment_kind, fmt, settings.feeds.page_size,
                                                 style=style, post_id=post_id)
                             for style in styles]  # fmt: skip
            elif kind == "source":
                requests.append(
                    service.FeedRequest(
                        service.SOURCE, fmt, settings.feeds.page_size, source_id=int(key)
                    )
                )
            elif kind == "tag":
                slug = session.scalar(select(Tag.slug).where(Tag.id == int(key)))
                if slug is not None:
                    requests.append(
                        service.FeedRequest(
                            service.TAG, fmt, settings.feeds.page_size, tag_slug=slug
                        )
                    )
    return sorted({service.feed_url(req, base, settings) for req in requests})


def queue_pings(
    session: Session, hubs: Sequence[str], topics: Iterable[str], now: dt.datetime
) -> int:
    """One pending ping per hub and topic; a newer change makes it due now."""
    rows = [{"hub": hub, "topic": topic} for hub in hubs for topic in topics]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = insert(HubPing).values(
        [{**row, "attempts": 0, "next_attempt_at": now} for row in rows]
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["hub", "topic"], set_={"attempts": 0, "next_attempt_at": now}
        )
    )
    return len(rows)


def send_due_pings(
    session: Session, client: httpx.Client, now: dt.datetime, limit: int = 100
) -> tuple[int, int]:
    """Send the pings that are due; return (sent, failed)."""
    due = session.scalars(
        select(HubPing)
        .where(HubPing.next_attempt_at <= now)
        .order_by(HubPing.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    sent = failed = 0
    for ping in due:
        error = _publish(client, ping.hub, ping.topic)
        if error is None:
            session.execute(delete(HubPing).where(HubPing.id == ping.id))
            sent += 1
            continue
        failed += 1
        ping.attempts += 1
        ping.last_error = error[:1000]
        if ping.attempts >= MAX_ATTEMPTS:
            log.warning("giving up on hub %s for %s: %s", ping.hub, ping.topic, error)
            session.delete(ping)
        else:
            delay = min(MAX_RETRY, FIRST_RETRY * 2 ** (ping.attempts - 1))
            ping.next_attempt_at = now + dt.timedelta(seconds=delay)
    return sent, failed


def _publish(client: httpx.Client, hub: str, topic: str) -> str | None:
    """POST hub.mode=publish; None on success, else what went wrong."""
    try:
        response = client.post(hub, data={"hub.mode": "publish", "hub.url": topic})
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"the hub answered HTTP {response.status_code}"


def make_client(timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(
        timeout=timeout, headers={"User-Agent": f"feedsvc/{__version__} (WebSub publisher)"}
    )


def announce_changes(
    db: Database, settings: Settings, client: httpx.Client, now: dt.datetime
) -> tuple[int, int]:
    """Turn changed scopes into queued pings, then send what is due."""
    hubs = settings.feeds.websub_hubs
    # Its own short transaction: writers upsert the same scope rows.
    with db.session(write=False) as session:
        scopes = changes.take_dirty_scopes(session)
        if hubs and scopes:
            queue_pings(session, hubs, topics_for(session, scopes, settings), now)
    if not hubs:
        return 0, 0
    with db.session() as session:
        return send_due_pings(session, client, now)
