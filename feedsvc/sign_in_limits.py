"""Sign-in attempts, counted where every process sees them and a restart forgets none.

An attempt counts in two buckets, the client's address (`addr:…`) and the
account tried (`user:…`), each under moving-window limits in the `limits`
syntax ("10 per minute;50 per hour"). The counts live in the database
(`sign_in_attempts`) by default, or in any storage the `limits` library
knows (`redis://…`). An attempt refused is not counted, so hammering a
limit does not push its end further away, and the wait told is the real
one: until the exhausted limit that frees up last allows one attempt again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import time
from collections.abc import Sequence
from typing import Protocol

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, func, or_, select

from feedsvc.content import normalize_space
from feedsvc.db import Database
from feedsvc.models import SignInAttempt

# A bucket and one of the limits that apply to it.
Check = tuple[str, RateLimitItem]


class AttemptStore(Protocol):
    def hit(self, checks: Sequence[Check], now: dt.datetime) -> float | None:
        """Count one attempt in every bucket if every limit allows it, and
        return None; else count nothing and return the seconds to wait."""


class DatabaseStore:
    """Attempts as rows: one per bucket and attempt, pruned once older than every window.

    Other limiters count in the same table (comments: `comment:…`), each
    pruning only its own buckets, named by their `prefixes`, by its own windows.

    The attempt is written and committed first and the windows counted after,
    so two processes racing for the last attempt of a window may both be
    refused, but never both allowed.
    """

    def __init__(self, db: Database, keep_seconds: int,
                 prefixes: Sequence[str] = ("addr:", "user:")) -> None:  # fmt: skip
        self.db = db
        self.keep = dt.timedelta(seconds=keep_seconds)  # the longest window of any bucket
        self.prefixes = tuple(prefixes)

    def hit(self, checks: Sequence[Check], now: dt.datetime) -> float | None:
        buckets = sorted({bucket for bucket, _ in checks})
        with self.db.session() as session:
            session.execute(
                delete(SignInAttempt).where(
                    SignInAttempt.attempted_at <= now - self.keep,
                    or_(*(SignInAttempt.bucket.startswith(p) for p in self.prefixes)),
                )
            )
            rows = [SignInAttempt(bucket=bucket, attempted_at=now) for bucket in buckets]
            session.add_all(rows)
        ids = [row.id for row in rows]
        with self.db.session() as session:
            waits = []
            for bucket, item in checks:
                since = now - dt.timedelta(seconds=item.get_expiry())
                in_window = select(SignInAttempt.attempted_at).where(
                    SignInAttempt.bucket == bucket,
                    SignInAttempt.attempted_at > since,
                    SignInAttempt.id.not_in(ids),
                )
                counted = session.scalar(select(func.count()).select_from(in_window.subquery()))
                if counted is not None and counted >= item.amount:
                    # The window frees a place when the amount-th newest attempt leaves it.
                    newest_first = in_window.order_by(SignInAttempt.attempted_at.desc())
                    freeing = session.scalar(newest_first.offset(item.amount - 1).limit(1))
                    if freeing is not None:
                        waits.append((freeing - since).total_seconds())
            if waits:
                session.execute(delete(SignInAttempt).where(SignInAttempt.id.in_(ids)))
                return max(waits)
        return None


class LimitsStore:
    """The `limits` library's moving windows in its storage (redis://, memory://).

    It keeps its own clock, so `now` is not used.
    """

    def __init__(self, uri: str, namespace: str = "feedsvc-sign-in") -> None:
        self.window = MovingWindowRateLimiter(storage_from_string(uri))
        self.namespace = namespace

    def hit(self, checks: Sequence[Check], now: dt.datetime) -> float | None:
        exhausted = [(bucket, item) for bucket, item in checks
                     if not self.window.test(item, self.namespace, bucket)]  # fmt: skip
        if exhausted:
            resets = [self.window.get_window_stats(item, self.namespace, bucket).reset_time
                      for bucket, item in exhausted]  # fmt: skip
            return max(resets) - time.time()
        for bucket, item in checks:
            self.window.hit(item, self.namespace, bucket)
        return None


def attempt_store(
    storage_uri: str,
    db: Database,
    limits: str,
    prefixes: Sequence[str] = ("addr:", "user:"),
    namespace: str = "feedsvc-sign-in",
) -> AttemptStore:
    """Where attempts under these limits are counted, for every process: the
    `limits` storage the URI names, else the database."""
    if storage_uri:
        return LimitsStore(storage_uri, namespace)
    longest = max(item.get_expiry() for item in parse_many(limits))
    return DatabaseStore(db, longest, prefixes)


class SignInLimiter:
    """Limits per client address and per account tried, in one store."""

    def __init__(self, store: AttemptStore, address_limits: str, account_limits: str,
                 secret: str) -> None:  # fmt: skip
        self.store = store
        self.address_limits = parse_many(address_limits)
        self.account_limits = parse_many(account_limits)
        self.secret = secret.encode()

    @classmethod
    def configured(cls, storage_uri: str, db: Database, address_limits: str,
                   account_limits: str, secret: str) -> SignInLimiter:  # fmt: skip
        """Counting in the database when no storage URI is set, else in the
        `limits` storage it names."""
        store = attempt_store(storage_uri, db, f"{address_limits};{account_limits}")
        return cls(store, address_limits, account_limits, secret)

    def attempt(self, address: str, username: str, now: dt.datetime) -> int | None:
        """Count one attempt; None when allowed, else the whole seconds to wait."""
        checks = [("addr:" + address[:200], item) for item in self.address_limits]
        username = normalize_space(username)
        if username:
            checks += [(self.account_bucket(username), item) for item in self.account_limits]
        wait = self.store.hit(checks, now)
        return None if wait is None else max(1, math.ceil(wait))

    def account_bucket(self, username: str) -> str:
        # Keyed hash: people type passwords into the username field, and those
        # must not be stored in the clear (nor can PostgreSQL store a NUL).
        digest = hmac.new(self.secret, username.encode(errors="replace"), hashlib.sha256)
        return "user:" + digest.hexdigest()[:32]
