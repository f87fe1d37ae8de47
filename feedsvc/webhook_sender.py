"""Send the webhook messages that are due: signed JSON POSTs, through the fetcher.

Each message is signed as Standard Webhooks says (the `standardwebhooks`
library): `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the
endpoint's secret, so a receiver checks who sent it, that the body is whole
and that it is not a replay. The POST goes through the fetcher: the address
guard applies at the socket (a host that resolves to a private address now
is refused however it resolved when the endpoint was saved), one deadline
bounds it, and a redirect is an answer, not followed.

Claims, sends and records are apart: the claim is one short transaction, the
POSTs run outside any, each result is recorded in one of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

from standardwebhooks.webhooks import Webhook

from feedsvc.db import Database
from feedsvc.fetcher import Fetcher
from feedsvc.sealing import CannotOpen
from feedsvc.version import __version__
from feedsvc.webhooks import Due, claim_due, open_secret, record_attempt

log = logging.getLogger(__name__)

# Seconds one POST may take, all of it.
TIMEOUT = 10.0
# Messages claimed per round.
BATCH = 20
USER_AGENT = f"feedsvc/{__version__} (webhooks)"


def deliver_due(
    db: Database, fetcher: Fetcher, now: dt.datetime, *, secret_key: str, base_url: str,
    limit: int = BATCH,
) -> tuple[int, int]:  # fmt: skip
    """Send what is due now; (delivered, failed)."""
    with db.session() as session:
        due = claim_due(session, now, limit)
    delivered = failed = 0
    # An endpoint disabled by this round's failures is sent no more of it.
    disabled: set[int] = set()
    for item in due:
        if item.endpoint_id in disabled:
            continue
        status, error, duration_ms = send(fetcher, item, now, secret_key, base_url)
        with db.session() as session:
            if not record_attempt(session, item, now, status=status, error=error,
                                  duration_ms=duration_ms):  # fmt: skip
                disabled.add(item.endpoint_id)
        if error is None and status is not None and 200 <= status < 300:
            delivered += 1
        else:
            failed += 1
            log.warning("webhook %s to %s: %s", item.message_id, item.url,
                        error or f"HTTP {status}")  # fmt: skip
    return delivered, failed


def send(
    fetcher: Fetcher, item: Due, now: dt.datetime, secret_key: str, base_url: str
) -> tuple[int | None, str | None, int]:
    """POST one message: (HTTP status, error in words, milliseconds)."""
    try:
        secret = open_secret(item.sealed_secret, secret_key)
    except CannotOpen as exc:
        return None, str(exc), 0
    body = render(item.payload, base_url)
    sent_at = now.replace(microsecond=0)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": item.message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(item.message_id, sent_at, body),
    }
    result = fetcher.post(item.url, headers, content=body.encode(),
                          deadline=time.monotonic() + TIMEOUT)  # fmt: skip
    return result.status, result.error, result.elapsed_ms


def render(payload: str, base_url: str) -> str:
    """The body sent: the stored message with its post's page as an absolute `url`
    (the same body at every attempt, while the site's address stays)."""
    message = json.loads(payload)
    data = message.get("data") or {}
    if isinstance(data.get("path"), str):
        data["url"] = base_url.rstrip("/") + data["path"]
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)
