"""The subscriptions to upstream hubs (`hub_subscriptions`), over a session passed in.

Each row goes SUBSCRIBING → (the hub verifies) LIVE → (renewal) SUBSCRIBING
→ LIVE …, and UNSUBSCRIBING → UNSUBSCRIBED (or the row goes, with its
source) once the source is paused or deleted, its feed names another hub,
or subscribing is turned off. `reconcile` decides which rows should stand;
`claim_due` hands the worker the requests to send.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from feedsvc.models import HubSubscription, Source
from feedsvc.push import policy
from feedsvc.vocabulary import PushState, SourceStatus

SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
# Rows that stand for a subscription (or one wanted again once the hub agrees).
STANDING = (PushState.SUBSCRIBING, PushState.LIVE, PushState.DENIED)
# PostgreSQL advisory lock held by `reconcile`: one worker at a time decides
# (SQLite's writer lock does the same there), so none subscribes a source twice.
RECONCILE_LOCK = 0x57EB5B


@dataclass(frozen=True)
class HubRequest:
    """One request for the worker to send to a hub."""

    subscription_id: int
    mode: str
    hub: str
    topic: str
    callback: str
    secret: str
    # When it was claimed: its answer is recorded only if no newer request went since.
    requested_at: dt.datetime


def reconcile(session: Session, now: dt.datetime, enabled: bool) -> None:
    """Make the rows match what is wanted: a subscription for each active
    source whose feed names a hub and itself (when `enabled`), none otherwise."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RECONCILE_LOCK})
    rows = session.execute(
        select(HubSubscription, Source)
        .outerjoin(Source, Source.id == HubSubscription.source_id)
        .where(HubSubscription.state != PushState.UNSUBSCRIBING)
    ).all()
    covered = set()
    for sub, source in rows:
        keep = source is not None and policy.wanted(
            enabled, sub.hub, sub.topic, source.status == SourceStatus.ACTIVE,
            source.websub_hub, source.websub_topic,
        )  # fmt: skip
        if keep:
            covered.add(sub.source_id)
            if sub.state == PushState.UNSUBSCRIBED:
                _ask(sub, PushState.SUBSCRIBING, now)
        elif sub.state == PushState.UNSUBSCRIBED:
            if source is None or (source.websub_hub, source.websub_topic) != (sub.hub, sub.topic):
                session.delete(sub)
        elif sub.requested_at is None or sub.state == PushState.DENIED:
            session.delete(sub)  # the hub knows of no subscription to end
        else:
            _ask(sub, PushState.UNSUBSCRIBING, now)
    if not enabled:
        return
    missing = session.execute(
        select(Source.id, Source.websub_hub, Source.websub_topic).where(
            Source.status == SourceStatus.ACTIVE,
            Source.websub_hub.is_not(None),
            Source.websub_topic.is_not(None),
        )
    ).all()
    for source_id, hub, topic in missing:
        if source_id not in covered:
            session.add(HubSubscription(
                source_id=source_id, hub=hub, topic=topic,
                callback=policy.new_callback_token(), secret=policy.new_secret(),
                state=PushState.SUBSCRIBING, next_action_at=now, attempts=0, created_at=now,
            ))  # fmt: skip


def _ask(sub: HubSubscription, state: PushState, now: dt.datetime) -> None:
    sub.state = state
    sub.attempts = 0
    sub.next_action_at = now


def claim_due(
    session: Session, now: dt.datetime, callback_base: str, limit: int = 50
) -> list[HubRequest]:
    """The requests due now, each marked sent (and due again after a retry
    delay, in case the hub never answers or never verifies)."""
    due = session.scalars(
        select(HubSubscription)
        .where(HubSubscription.next_action_at <= now,
               HubSubscription.state != PushState.UNSUBSCRIBED)
        .order_by(HubSubscription.next_action_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()  # fmt: skip
    requests = []
    for sub in due:
        if sub.state == PushState.UNSUBSCRIBING:
            if sub.attempts >= policy.MAX_UNSUBSCRIBE_ATTEMPTS:
                _unsubscribed(session, sub)  # the hub's lease will end it
                continue
            mode = UNSUBSCRIBE
        else:
            # A live one due is renewed; a denied one asked for again.
            sub.state = PushState.SUBSCRIBING
            mode = SUBSCRIBE
        sub.attempts += 1
        sub.requested_at = now
        sub.next_action_at = now + policy.retry_delay(sub.attempts)
        requests.append(HubRequest(
            sub.id, mode, sub.hub, sub.topic, policy.callback_url(callback_base, sub.callback),
            sub.secret, now,
        ))  # fmt: skip
    return requests


def record_answer(
    session: Session, request: HubRequest, error: str | None, now: dt.datetime
) -> None:
    """What the hub answered a request: an error is kept in words (the retry
    is due already); an acceptance waits VERIFY_WAIT for the verification."""
    sub = session.get(HubSubscription, request.subscription_id)
    if sub is None or sub.requested_at != request.requested_at:
        return  # gone, or asked again since
    sub.last_error = error
    pending = PushState.UNSUBSCRIBING if request.mode == UNSUBSCRIBE else PushState.SUBSCRIBING
    if error is None and sub.state == pending:
        sub.next_action_at = max(sub.next_action_at, now + policy.VERIFY_WAIT)


def by_callback(session: Session, token: str) -> HubSubscription | None:
    if not token or len(token) > 64:
        return None
    return session.scalar(select(HubSubscription).where(HubSubscription.callback == token))


def confirm(
    session: Session, sub: HubSubscription, mode: str, lease: str | None, now: dt.datetime,
    asked_lease: int,
) -> None:  # fmt: skip
    """The hub verified the request pending (the caller checked it is the one)."""
    sub.attempts = 0
    sub.last_error = None
    sub.verified_at = now
    if mode == UNSUBSCRIBE:
        _unsubscribed(session, sub)
        return
    seconds = policy.granted_lease(lease, asked_lease)
    sub.state = PushState.LIVE
    sub.lease_seconds = seconds
    sub.expires_at = now + dt.timedelta(seconds=seconds)
    sub.next_action_at = policy.renew_at(now, seconds)


def deny(sub: HubSubscription, reason: str, now: dt.datetime) -> None:
    sub.state = PushState.DENIED
    sub.expires_at = None
    sub.last_error = f"the hub refused the subscription: {reason}" if reason else (
        "the hub refused the subscription")  # fmt: skip
    sub.next_action_at = now + policy.DENIED_RETRY


def _unsubscribed(session: Session, sub: HubSubscription) -> None:
    """Ended: kept to show while its source is there, else forgotten."""
    if sub.source_id is None:
        session.delete(sub)
        return
    sub.state = PushState.UNSUBSCRIBED
    sub.expires_at = None


def pending_mode(sub: HubSubscription) -> str | None:
    """The mode of the request awaiting the hub's verification, if any."""
    if sub.state == PushState.SUBSCRIBING and sub.requested_at is not None:
        return SUBSCRIBE
    if sub.state == PushState.UNSUBSCRIBING and sub.requested_at is not None:
        return UNSUBSCRIBE
    return None


def accepts_deliveries(session: Session, sub: HubSubscription, now: dt.datetime) -> bool:
    """A subscription the hub verified, whose lease runs (being renewed, too),
    for a source that is active (a paused one is unsubscribed at the next turn)."""
    if sub.state not in (PushState.LIVE, PushState.SUBSCRIBING) or sub.source_id is None:
        return False
    if sub.expires_at is None or sub.expires_at <= now:
        return False
    source = session.get(Source, sub.source_id)
    return source is not None and source.status == SourceStatus.ACTIVE


def delivered(session: Session, subscription_id: int, now: dt.datetime) -> None:
    sub = session.get(HubSubscription, subscription_id)
    if sub is not None:
        sub.delivered_at = now


def by_source(session: Session, source_ids: Iterable[int]) -> dict[int, HubSubscription]:
    """Each source's subscription: the standing one, else the newest."""
    rows = session.scalars(
        select(HubSubscription)
        .where(HubSubscription.source_id.in_(list(source_ids)))
        .order_by(HubSubscription.id)
    )
    found: dict[int, HubSubscription] = {}
    for sub in rows:
        assert sub.source_id is not None
        current = found.get(sub.source_id)
        if current is None or current.state not in STANDING or sub.state in STANDING:
            found[sub.source_id] = sub
    return found


def describe(sub: HubSubscription | None, now: dt.datetime) -> str:
    """The subscription's state in words, for the admin."""
    if sub is None:
        return "none"
    lease = sub.expires_at.strftime("%Y-%m-%d %H:%M") if sub.expires_at else None
    if sub.state == PushState.LIVE and lease:
        words = f"live until {lease}"
    elif sub.state == PushState.SUBSCRIBING and sub.expires_at and sub.expires_at > now:
        words = f"live until {lease}, renewing"
    elif sub.state == PushState.SUBSCRIBING:
        words = "subscribing, awaiting the hub" if sub.requested_at else "subscribing"
    else:
        words = str(sub.state)
    return f"{words} ({sub.last_error})" if sub.last_error else words


def describe_sources(
    session: Session, source_ids: Iterable[int], now: dt.datetime
) -> dict[int, str]:
    """Each source's subscription in words (only those with one)."""
    return {
        source_id: describe(sub, now) for source_id, sub in by_source(session, source_ids).items()
    }
