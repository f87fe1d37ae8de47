"""Webhooks out: the endpoints, and the messages queued for them.

An admin sets endpoints (the admin pages, the API): an http(s) URL the fetch
guard allows — a private address only through FEEDSVC_FETCH_ALLOW_HOSTS or
FEEDSVC_FETCH_ALLOW_PRIVATE — and the events it wants; new posts always.
Each endpoint has a signing secret ("whsec_…", Standard Webhooks), sealed
with a key from the secret key and shown once, when it is made.

Events are queued in the transaction that makes them (an outbox: a post and
its message commit or roll back together), one message per endpoint, its
body fixed then. The worker sends what is due (`webhook_sender.py`); a
failed attempt is tried again after 30 s, 2 min, 8 min … up to 6 h, eight
attempts in all; an endpoint whose attempts fail DISABLE_AFTER times in a
row is disabled, with the reason, until an admin enables it again.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.fetcher import AddressGuard, AddressRefused, vetted_addresses
from feedsvc.models import (
    Comment,
    Post,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    new_uid,
)
from feedsvc.sealing import WEBHOOK_SECRETS, Sealer
from feedsvc.urls import NotWebUrl, check_web_url
from feedsvc.vocabulary import DeliveryState, WebhookEvent

# Every endpoint is told of new posts; these it may ask for besides.
ALWAYS = (WebhookEvent.POST_CREATED,)
OPTIONAL = (WebhookEvent.POST_UPDATED, WebhookEvent.POST_DELETED, WebhookEvent.COMMENT_CREATED)
MAX_ATTEMPTS = 8
FIRST_RETRY = 30
MAX_RETRY = 6 * 3600
# Failed attempts in a row (of any of its messages) that disable an endpoint.
DISABLE_AFTER = 10
# A claimed message is another worker's to send only after this long.
CLAIM_SECONDS = 300
MAX_DESCRIPTION = 200


class WebhookError(FeedsvcError):
    """An endpoint cannot be set as asked; the message says why, `field` what."""


@dataclass(frozen=True)
class Due:
    """A message claimed for sending: what the sender needs, read in the claim."""

    delivery_id: int
    endpoint_id: int
    url: str
    sealed_secret: str
    message_id: str
    event: str
    payload: str
    attempts: int


# Endpoints.


def check_target(url: str, guard: AddressGuard) -> str:
    """An endpoint's URL: absolute http(s), to a host the fetch guard allows."""
    try:
        url = check_web_url(url)
    except NotWebUrl as exc:
        raise WebhookError(str(exc), "url") from None
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    if not guard.allows_any(host, port):
        try:
            vetted_addresses(guard, host, port)
        except AddressRefused as exc:
            raise WebhookError(
                f"refused: {exc} (an internal endpoint needs FEEDSVC_FETCH_ALLOW_HOSTS)",
                "url", kind=ErrorKind.REFUSED,
            ) from None  # fmt: skip
    return url


def check_events(events: Iterable[str]) -> list[str]:
    """The events asked for, new posts always among them, in the vocabulary's order."""
    wanted = set(events)
    unknown = wanted - {event.value for event in WebhookEvent}
    if unknown:
        names = ", ".join(event.value for event in WebhookEvent)
        raise WebhookError(f"unknown event {sorted(unknown)[0]!r}: the events are {names}",
                           "events")  # fmt: skip
    return [event.value for event in WebhookEvent if event in ALWAYS or event in wanted]


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes one: whsec_ and 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def create_endpoint(
    session: Session,
    url: str,
    now: dt.datetime,
    *,
    guard: AddressGuard,
    secret_key: str,
    events: Iterable[str] = (),
    description: str = "",
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint, and its signing secret: shown to the caller this once."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        url=check_target(url, guard), events=check_events(events), enabled=True, failures=0,
        description=_description(description), secret=_sealer(secret_key).seal(secret),
        created_at=now,
    )  # fmt: skip
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def update_endpoint(
    session: Session,
    endpoint: WebhookEndpoint,
    *,
    guard: AddressGuard,
    url: str | None = None,
    events: Iterable[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given; enabling an endpoint again forgets its failures."""
    if url is not None:
        endpoint.url = check_target(url, guard)
    if events is not None:
        endpoint.events = check_events(events)
    if description is not None:
        endpoint.description = _description(description)
    if enabled is True and not endpoint.enabled:
        endpoint.enabled, endpoint.failures, endpoint.disabled_reason = True, 0, None
    elif enabled is False and endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason = False, "disabled by an admin"
    return endpoint


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookError(f"no webhook endpoint with id {endpoint_id}", kind=ErrorKind.NOT_FOUND)
    return endpoint


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    """The endpoint goes, and its queued messages and log with it."""
    session.delete(endpoint)
    session.flush()


def delivery_log(session: Session, endpoint_id: int, limit: int = 50) -> list[WebhookAttempt]:
    """Its attempts, newest first: time, event, HTTP status, duration, error."""
    return list(session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint_id)
        .order_by(WebhookAttempt.attempted_at.desc(), WebhookAttempt.id.desc()).limit(limit)
    ))  # fmt: skip


def pending_count(session: Session, endpoint_id: int) -> int:
    query = select(func.count()).where(
        WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.state == DeliveryState.PENDING,
    )
    return int(session.scalar(query) or 0)


def open_secret(sealed: str, secret_key: str) -> str:
    return _sealer(secret_key).open(sealed)


def _sealer(secret_key: str) -> Sealer:
    if not secret_key:
        raise WebhookError("webhooks need FEEDSVC_SECRET_KEY: their secrets are sealed with it")
    return Sealer(secret_key, WEBHOOK_SECRETS)


def _description(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_DESCRIPTION:
        raise WebhookError(f"the description is longer than {MAX_DESCRIPTION} characters",
                           "description")  # fmt: skip
    return text


# Events: queued in the caller's transaction.


def note_posts(
    session: Session, event: WebhookEvent, post_ids: Iterable[int], now: dt.datetime
) -> int:
    """Queue `event` (new or updated) for these posts, those shown only; how
    many messages were queued."""
    ids = sorted(set(post_ids))
    endpoints = _listening(session, event) if ids else []
    if not endpoints:
        return 0
    posts = session.scalars(
        select(Post).where(Post.id.in_(ids), Post.hidden.is_(False))
        .options(selectinload(Post.tags)).order_by(Post.id)
    )  # fmt: skip
    return _queue(session, endpoints, event, [post_data(post) for post in posts], now)


def note_deleted(session: Session, posts: Sequence[Post], now: dt.datetime) -> int:
    """Queue post.deleted for posts about to be deleted (their data is read now)."""
    endpoints = _listening(session, WebhookEvent.POST_DELETED) if posts else []
    if not endpoints:
        return 0
    datas = [post_data(post) for post in posts]
    return _queue(session, endpoints, WebhookEvent.POST_DELETED, datas, now)


def note_comments(session: Session, comment_ids: Iterable[int], now: dt.datetime) -> int:
    """Queue comment.created for comments now shown (approved, or an admin's)."""
    ids = sorted(set(comment_ids))
    endpoints = _listening(session, WebhookEvent.COMMENT_CREATED) if ids else []
    if not endpoints:
        return 0
    found = session.scalars(select(Comment).where(Comment.id.in_(ids)).order_by(Comment.id))
    datas = [comment_data(comment) for comment in found]
    return _queue(session, endpoints, WebhookEvent.COMMENT_CREATED, datas, now)


def post_data(post: Post) -> dict[str, Any]:
    """A post as a message's `data`: `path` is joined to the site's address when sent."""
    source = post.source
    return {
        "id": post.id, "uid": post.uid, "path": post.path, "title": post.title,
        "link": post.link, "author": post.author, "summary": post.summary,
        "tags": sorted(tag.name for tag in post.tags),
        "published_at": post.published_at.isoformat(), "updated_at": post.updated_at.isoformat(),
        "source": None if source is None else {
            "id": source.id, "title": source.display_title, "feed_url": source.feed_url,
        },
    }  # fmt: skip


def comment_data(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id, "uid": comment.uid, "post_id": comment.post_id,
        "parent_id": comment.parent_id, "author_name": comment.author_name,
        "author_url": comment.author_url, "body": comment.body, "by_admin": comment.by_admin,
        "created_at": comment.created_at.isoformat(),
    }  # fmt: skip


def _listening(session: Session, event: WebhookEvent) -> list[int]:
    """The enabled endpoints that asked for `event` (few rows: filtered here)."""
    rows = session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events).where(WebhookEndpoint.enabled)
    )
    return [endpoint_id for endpoint_id, events in rows if event.value in (events or ())]


def _queue(
    session: Session, endpoints: Sequence[int], event: WebhookEvent,
    datas: Sequence[dict[str, Any]], now: dt.datetime,
) -> int:  # fmt: skip
    rows = [
        {"endpoint_id": endpoint_id, "message_id": f"msg_{new_uid()}", "event": event.value,
         "payload": json.dumps({"type": event.value, "timestamp": now.isoformat(), "data": data},
                               separators=(",", ":"), ensure_ascii=False),
         "state": DeliveryState.PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
        for endpoint_id in endpoints for data in datas
    ]  # fmt: skip
    if rows:
        session.execute(insert(WebhookDelivery), rows)
    return len(rows)


# Sending: claimed in one transaction, each result recorded in another.


def claim_due(session: Session, now: dt.datetime, limit: int) -> list[Due]:
    """Lease up to `limit` due messages of enabled endpoints (SKIP LOCKED on
    PostgreSQL, so workers never send one message twice at once)."""
    rows = session.execute(
        select(WebhookDelivery, WebhookEndpoint.url, WebhookEndpoint.secret)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.state == DeliveryState.PENDING,
               WebhookDelivery.next_attempt_at <= now, WebhookEndpoint.enabled)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    ).all()  # fmt: skip
    due = [Due(d.id, d.endpoint_id, url, sealed, d.message_id, d.event, d.payload, d.attempts)
           for d, url, sealed in rows]  # fmt: skip
    if due:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([item.delivery_id for item in due]))
            .values(next_attempt_at=now + dt.timedelta(seconds=CLAIM_SECONDS))
        )
    return due


def next_try(attempts: int) -> int:
    """Seconds before the next attempt after `attempts` failed ones: ×4 each time."""
    return min(MAX_RETRY, FIRST_RETRY * 4 ** (attempts - 1))


def record_attempt(
    session: Session, due: Due, now: dt.datetime, *, status: int | None, error: str | None,
    duration_ms: int,
) -> bool:  # fmt: skip
    """Log an attempt; a 2xx delivers the message, anything else schedules the
    next try (or gives up), and counts against its endpoint. Whether the
    endpoint is still enabled."""
    delivered = error is None and status is not None and 200 <= status < 300
    if not delivered and error is None:
        error = f"the endpoint answered HTTP {status}"
    session.add(WebhookAttempt(
        endpoint_id=due.endpoint_id, delivery_id=due.delivery_id, attempted_at=now,
        status_code=status, duration_ms=duration_ms, error=error[:1000] if error else None,
    ))  # fmt: skip
    attempts = due.attempts + 1
    if delivered:
        state, next_at = DeliveryState.DELIVERED, None
    elif attempts >= MAX_ATTEMPTS:
        state, next_at = DeliveryState.FAILED, None
    else:
        state, next_at = DeliveryState.PENDING, now + dt.timedelta(seconds=next_try(attempts))
    session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == due.delivery_id)
        .values(state=state, attempts=attempts, next_attempt_at=next_at)
    )  # fmt: skip
    endpoint = session.get(WebhookEndpoint, due.endpoint_id)
    if endpoint is None:
        return False
    if delivered:
        endpoint.failures = 0
        return endpoint.enabled
    endpoint.failures += 1
    if endpoint.enabled and endpoint.failures >= DISABLE_AFTER:
        endpoint.enabled = False
        endpoint.disabled_reason = (f"disabled after {endpoint.failures} failed attempts in a "
                                    f"row; the last: {error}")[:1000]  # fmt: skip
    return endpoint.enabled


def prune(session: Session, before: dt.datetime) -> int:
    """Forget messages made before `before` that are no longer pending (their
    log goes with them)."""
    result = session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.created_at < before, WebhookDelivery.state != DeliveryState.PENDING
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
