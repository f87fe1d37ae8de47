"""The worker's side of the subscriber: ask hubs to subscribe, renew and
unsubscribe, through the guarded fetcher (its address guard, deadline and
size cap), never inside a transaction."""

from __future__ import annotations

import datetime as dt
import logging

from feedsvc.db import Database
from feedsvc.fetched import FetchResult
from feedsvc.fetcher import Fetcher
from feedsvc.push import store
from feedsvc.settings import PushSettings

log = logging.getLogger(__name__)


def sync(db: Database, fetcher: Fetcher, settings: PushSettings, now: dt.datetime) -> int:
    """Bring the subscriptions in line with the sources, then send the
    requests that are due; return how many were sent."""
    with db.session() as session:
        store.reconcile(session, now, settings.subscribe)
    # Claimed and committed before it is sent: a hub may verify before it answers.
    with db.session() as session:
        requests = store.claim_due(session, now, settings.callback_base)
    for request in requests:
        error = answer_problem(fetcher.post_form(request.hub, form_of(request, settings)))
        if error:
            log.warning("WebSub %s of <%s> at hub <%s>: %s", request.mode, request.topic,
                        request.hub, error)  # fmt: skip
        with db.session() as session:
            store.record_answer(session, request, error, now)
    return len(requests)


def form_of(request: store.HubRequest, settings: PushSettings) -> dict[str, str]:
    form = {"hub.mode": request.mode, "hub.topic": request.topic, "hub.callback": request.callback}
    if request.mode == store.SUBSCRIBE:
        form["hub.lease_seconds"] = str(settings.lease_seconds)
        form["hub.secret"] = request.secret
    return form


def answer_problem(answer: FetchResult) -> str | None:
    """None when the hub took the request (2xx), else what went wrong, in words."""
    if answer.error:
        return answer.error
    if answer.status is not None and 200 <= answer.status < 300:
        return None
    said = answer.content[:200].decode("utf-8", "replace").strip()
    return f"the hub answered HTTP {answer.status}" + (f": {said}" if said else "")
