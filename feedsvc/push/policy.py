"""The subscriber's rules, pure: signatures, leases, retries, callback addresses."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

# Callbacks are <base URL>/websub/<token>.
CALLBACK_PREFIX = "/websub/"
# X-Hub-Signature methods the spec names, the strongest first (sha1 is allowed).
SIGNATURE_METHODS: dict[str, Callable[..., Any]] = {
    "sha512": hashlib.sha512, "sha384": hashlib.sha384,
    "sha256": hashlib.sha256, "sha1": hashlib.sha1,
}  # fmt: skip
# How long a hub has to verify a request it accepted before it is sent again.
VERIFY_WAIT = dt.timedelta(minutes=10)
# A failed request is tried again after a delay doubling from this, up to a day.
FIRST_RETRY = 60
MAX_RETRY = 86400
# An unsubscription the hub never verifies is given up after this many requests.
MAX_UNSUBSCRIBE_ATTEMPTS = 5
# A denied subscription is asked for again after this long.
DENIED_RETRY = dt.timedelta(days=1)
# Leases a hub grants are believed within these bounds.
MIN_LEASE = 60
MAX_LEASE = 365 * 86400
# hub.challenge values echoed back at most this long.
MAX_CHALLENGE = 1000


def new_callback_token() -> str:
    """The unguessable path of one subscription's callback (256 bits)."""
    return secrets.token_urlsafe(32)


def new_secret() -> str:
    """hub.secret: the HMAC key of one subscription (the spec allows < 200 bytes)."""
    return secrets.token_urlsafe(48)


def callback_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{CALLBACK_PREFIX}{token}"


def signature_problem(header: str | None, body: bytes, secret: str) -> str | None:
    """Why X-Hub-Signature does not sign `body` with `secret`; None when it does.

    The digests are compared in constant time (hmac.compare_digest)."""
    if not header:
        return "the delivery has no X-Hub-Signature"
    method, _, given = header.strip().partition("=")
    digest = SIGNATURE_METHODS.get(method.strip().lower())
    if digest is None:
        return f"X-Hub-Signature method {method[:20]!r} is none of {', '.join(SIGNATURE_METHODS)}"
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        return "X-Hub-Signature does not match the delivery"
    return None


def granted_lease(value: str | None, asked: int) -> int:
    """hub.lease_seconds of a verification, within bounds; what we asked for
    when the hub gave none or nonsense."""
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return asked
    return min(max(int(text), MIN_LEASE), MAX_LEASE)


def renew_at(verified: dt.datetime, lease_seconds: int) -> dt.datetime:
    """When to ask for the next lease: four fifths into this one, so that a
    hub slow to verify (or down for a while) still has time."""
    return verified + dt.timedelta(seconds=lease_seconds * 4 // 5)


def retry_delay(attempts: int) -> dt.timedelta:
    """After the `attempts`-th request in a row without a verification."""
    return dt.timedelta(seconds=min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 20), MAX_RETRY))


def wanted(
    enabled: bool,
    hub: str,
    topic: str,
    source_active: bool,
    source_hub: str | None,
    source_topic: str | None,
) -> bool:
    """Whether a subscription to `hub` for `topic` should stand for its source
    (False for one whose source was deleted: pass source_active=False)."""
    return enabled and source_active and (source_hub, source_topic) == (hub, topic)
