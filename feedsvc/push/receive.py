"""What a subscription's callback hears from its hub: verifications of intent
(GET) and content deliveries (POST). Each call returns the answer to give.

A verification is agreed to only for the request pending at that callback,
with the same topic; a delivery is stored only with a valid X-Hub-Signature
by the subscription's secret, and goes through the same pipeline as a fetched
body, announced like one (render caches, hub pings, static files).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from feedsvc.db import Database
from feedsvc.ingest.pipeline import RefreshReport, ingest_body
from feedsvc.publish import static
from feedsvc.push import policy, store
from feedsvc.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    report: RefreshReport | None = None


# The headers of a delivery that matter.
HEADERS = ("Content-Encoding", "Content-Type", "Link", "X-Hub-Signature")
NO_SUBSCRIPTION = Answer(404, "no subscription has this callback\n")


def verify(
    session: Session, token: str, args: Mapping[str, str], now: dt.datetime, settings: Settings
) -> Answer:
    """A hub's GET: agree (echo hub.challenge) only to the request pending here."""
    sub = store.by_callback(session, token)
    if sub is None:
        return NO_SUBSCRIPTION
    mode = args.get("hub.mode", "")
    topic = args.get("hub.topic", "")
    if topic != sub.topic:
        return Answer(404, "hub.topic is not the topic subscribed to here\n")
    if mode == "denied":
        store.deny(sub, args.get("hub.reason", "")[:500], now)
        log.warning("WebSub: hub <%s> refused the subscription to <%s>: %s", sub.hub, sub.topic,
                    args.get("hub.reason", "")[:500])  # fmt: skip
        return Answer(200, "noted\n")
    if mode not in (store.SUBSCRIBE, store.UNSUBSCRIBE):
        return Answer(404, "hub.mode is none of subscribe, unsubscribe and denied\n")
    if store.pending_mode(sub) != mode:
        log.warning("WebSub: refused an unsolicited %s verification for <%s>", mode, topic)
        return Answer(404, f"no {mode} request is pending here\n")
    challenge = args.get("hub.challenge", "")
    if not challenge or len(challenge) > policy.MAX_CHALLENGE:
        return Answer(404, f"hub.challenge is missing or longer than {policy.MAX_CHALLENGE}\n")
    store.confirm(session, sub, mode, args.get("hub.lease_seconds"), now,
                  settings.push.lease_seconds)  # fmt: skip
    return Answer(200, challenge)


def deliver(
    db: Database,
    token: str,
    body: bytes,
    headers: Mapping[str, str],
    now: dt.datetime,
    settings: Settings,
) -> Answer:
    """A hub's POST: check the signature, then ingest the body as if fetched now.

    `headers` are the request's (Content-Type, Link, X-Hub-Signature); the
    caller has held `body` to the size cap."""
    with db.session(write=False) as session:
        sub = store.by_callback(session, token)
        if sub is None:
            return NO_SUBSCRIPTION
        if not store.accepts_deliveries(session, sub, now):
            return Answer(410, "this subscription is not live\n")
        sub_id, source_id, secret, topic = sub.id, sub.source_id, sub.secret, sub.topic
    assert source_id is not None  # accepts_deliveries
    if headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        # Never inflated here (no decompression bomb): a hub sends the feed as is.
        return Answer(415, "send the delivery without a Content-Encoding\n")
    problem = policy.signature_problem(headers.get("X-Hub-Signature"), body, secret)
    if problem:
        log.warning("WebSub: delivery for <%s> refused, nothing stored: %s", topic, problem)
        return Answer(403, f"refused: {problem}\n")
    try:
        report = ingest_body(
            db, source_id, body, now=now, settings=settings.ingest,
            content_type=headers.get("Content-Type"), link=headers.get("Link"),
        )  # fmt: skip
    except LookupError:
        return Answer(410, "the source of this subscription is gone\n")
    with db.session() as session:
        store.delivered(session, sub_id, now)
    if (report.new or report.updated) and settings.feeds.static_dir:
        # The static feeds are rewritten here, not at the worker's next turn:
        # a pushed post is in every copy of the feed at once.
        static.publish_static(db, settings, now)
    if not report.result.succeeded:
        return Answer(422, f"not stored: {report.describe()}\n", report)
    return Answer(200, f"{report.describe()}\n", report)
