"""Sign-in limits that hold: shared by every process, kept across restarts,
per address and per account, with the real wait in Retry-After."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from limits import parse_many
from sqlalchemy import func, select

from feedsvc import create_app
from feedsvc.db import Database
from feedsvc.models import SignInAttempt
from feedsvc.sign_in_limits import DatabaseStore
from tests.admin_helpers import PASSWORD, csrf_token, make_admin

REDIS_URI = "redis://127.0.0.1:6379"


@pytest.fixture
def make_app(app_config: dict[str, Any]) -> Iterator[Any]:
    """Apps on the test database, as separate processes or a restart would make them."""
    made: list[Flask] = []

    def build(**settings: Any) -> Flask:
        app = create_app({**app_config, **settings}, env="testing")
        made.append(app)
        return app

    yield build
    for app in made:
        app.extensions["feedsvc.db"].dispose()


def attempt(app: Flask, username: str = "admin", password: str = "wrong wrong wrong",
            address: str = "127.0.0.1") -> Any:  # fmt: skip
    client = app.test_client()
    token = csrf_token(client, "/admin/sign-in")
    form = {"csrf_token": token, "username": username, "password": password}
    return client.post("/admin/sign-in", environ_base={"REMOTE_ADDR": address}, data=form)


def shared_and_kept(
    make_app: Any, address: str, other_address: str, username: str, **settings: Any
) -> None:
    limits = {"LOGIN_RATE_LIMIT": "3 per hour", "LOGIN_ACCOUNT_RATE_LIMIT": "100 per hour"}
    first, second = make_app(**limits, **settings), make_app(**limits, **settings)
    codes = [attempt(app, username, address=address).status_code
             for app in (first, second, first)]  # fmt: skip
    assert codes == [400, 400, 400]
    # The other process counted the first's attempts…
    assert attempt(second, username, address=address).status_code == 429
    # …and a restart forgets none of them, not even for the right password.
    restarted = make_app(**limits, **settings)
    assert attempt(restarted, username, PASSWORD, address).status_code == 429
    assert attempt(restarted, username, PASSWORD, other_address).status_code == 302


def test_limits_are_shared_by_processes_and_survive_a_restart(make_app: Any, db: Database) -> None:
    make_admin(db)
    shared_and_kept(make_app, "127.0.0.1", "127.0.0.2", "admin")


def test_limits_in_redis_are_shared_and_survive_a_restart(make_app: Any, db: Database) -> None:
    redis = pytest.importorskip("redis", reason="pip install redis")
    try:
        redis.Redis.from_url(REDIS_URI).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis server at {REDIS_URI}")
    name = "admin-" + uuid.uuid4().hex[:8]  # counts from earlier runs stay in Redis
    make_admin(db, name)
    addresses = ["redis-test-1-" + name, "redis-test-2-" + name]
    shared_and_kept(make_app, *addresses, name, RATELIMIT_STORAGE_URI=REDIS_URI)


def test_an_account_is_limited_whatever_the_address(make_app: Any, db: Database) -> None:
    make_admin(db)
    app = make_app(LOGIN_RATE_LIMIT="100 per hour", LOGIN_ACCOUNT_RATE_LIMIT="3 per hour")
    codes = [attempt(app, address=f"10.0.0.{i}").status_code for i in range(1, 6)]
    assert codes == [400, 400, 400, 429, 429]
    assert attempt(app, password=PASSWORD, address="10.0.0.9").status_code == 429
    # Another account from the same addresses is not held back.
    make_admin(db, "ann")
    assert attempt(app, "ann", PASSWORD, address="10.0.0.1").status_code == 302


def test_retry_after_is_the_wait_of_the_limit_used_up(make_app: Any, db: Database) -> None:
    make_admin(db)
    app = make_app(LOGIN_RATE_LIMIT="2 per minute;50 per hour")
    assert [attempt(app).status_code for _ in range(2)] == [400, 400]
    limited = attempt(app)
    assert limited.status_code == 429
    # The minute is used up, not the hour: the wait is under a minute.
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


T0 = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def test_the_database_store_tells_the_real_wait_and_counts_no_refusal(db: Database) -> None:
    store = DatabaseStore(db, keep_seconds=3600)
    checks = [("addr:a", item) for item in parse_many("2 per minute;5 per hour")]
    at = lambda seconds: T0 + dt.timedelta(seconds=seconds)  # noqa: E731
    assert store.hit(checks, at(0)) is None
    assert store.hit(checks, at(10)) is None
    assert store.hit(checks, at(20)) == 40  # when the attempt at 0 leaves the minute
    assert store.hit(checks, at(59)) == 1
    assert store.hit(checks, at(60)) is None  # refusals were not counted
    assert store.hit(checks, at(70)) is None
    assert store.hit(checks, at(130)) is None
    # Five in the hour: the next place frees when the attempt at 0 leaves it.
    assert store.hit(checks, at(200)) == 3400
    # Other buckets are untouched; rows older than the longest window are pruned.
    assert store.hit([("addr:b", checks[0][1])], at(3700)) is None
    with db.session() as session:
        kept = session.scalars(select(SignInAttempt.attempted_at)).all()
        assert min(kept) > at(100)
        assert session.scalar(select(func.count()).select_from(SignInAttempt)) == 2


def test_attempted_usernames_are_not_stored_in_the_clear(make_app: Any, db: Database) -> None:
    app = make_app()
    assert attempt(app, "my secret password\x00").status_code == 400
    with db.session() as session:
        buckets = session.scalars(select(SignInAttempt.bucket)).all()
    assert sorted(bucket.split(":")[0] for bucket in buckets) == ["addr", "user"]
    assert not any("secret" in bucket for bucket in buckets)


def test_each_limiter_prunes_only_its_own_buckets(db: Database) -> None:
    """Comments count in the same table under `comment:`; a shorter window there
    must not prune the sign-in attempts an hour's window still needs."""
    sign_in = DatabaseStore(db, keep_seconds=3600)
    commenting = DatabaseStore(db, keep_seconds=60, prefixes=("comment:",))
    hour = parse_many("5 per hour")[0]
    minute = parse_many("5 per minute")[0]
    assert sign_in.hit([("addr:a", hour)], T0) is None
    assert commenting.hit([("comment:a", minute)], T0) is None
    assert commenting.hit([("comment:a", minute)], T0 + dt.timedelta(minutes=5)) is None
    with db.session() as session:
        buckets = sorted(session.scalars(select(SignInAttempt.bucket)))
    assert buckets == ["addr:a", "comment:a"]
    assert sign_in.hit([("addr:a", hour)], T0 + dt.timedelta(minutes=10)) is None
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SignInAttempt)) == 3
