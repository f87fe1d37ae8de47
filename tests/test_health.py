"""/healthz and /metrics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from feedsvc import create_app
from feedsvc.db import Database
from feedsvc.models import WorkerHeartbeat
from feedsvc.posts import create_local_post
from feedsvc.scheduler import Worker
from feedsvc.sources import add_source
from tests.configured import settings_of


def beat(db: Database, age: dt.timedelta) -> None:
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        session.merge(WorkerHeartbeat(name="w1", beat_at=now - age, started_at=now - age))


def test_healthy_with_a_fresh_heartbeat(client: FlaskClient, db: Database) -> None:
    beat(db, dt.timedelta(seconds=10))
    for path in ("/healthz", "/healthz/worker"):
        response = client.get(path)
        assert response.status_code == 200
        body = response.get_json()
        assert body["status"] == "ok" and body["database"] == "ok" and body["worker"] == "ok"
        assert 9 <= body["heartbeat_age_seconds"] < 60


def test_the_site_is_alive_without_a_worker(client: FlaskClient, db: Database) -> None:
    """A load balancer must not pull a website whose worker is away."""
    missing = client.get("/healthz")
    assert missing.status_code == 200
    assert missing.get_json()["status"] == "ok" and missing.get_json()["worker"] == "missing"
    beat(db, dt.timedelta(minutes=10))
    stale = client.get("/healthz")
    assert stale.status_code == 200 and stale.get_json()["worker"] == "stale"


def test_worker_health_follows_the_heartbeat(client: FlaskClient, db: Database) -> None:
    missing = client.get("/healthz/worker")
    assert missing.status_code == 503 and missing.get_json()["worker"] == "missing"
    beat(db, dt.timedelta(minutes=10))
    stale = client.get("/healthz/worker")
    assert stale.status_code == 503
    assert stale.get_json()["worker"] == "stale"
    assert stale.get_json()["heartbeat_age_seconds"] >= 600
    beat(db, dt.timedelta(seconds=1))
    assert client.get("/healthz/worker").status_code == 200


def test_unreachable_database_is_503(app_config: dict[str, Any], tmp_path: Any) -> None:
    broken = create_app(
        {**app_config, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"},
        env="testing",
    )
    for path in ("/healthz", "/healthz/worker"):
        response = broken.test_client().get(path)
        assert response.status_code == 503
        assert response.get_json()["database"] == "unreachable"
    broken.extensions["feedsvc.db"].dispose()


def metric_values(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def test_metrics_count_renders_hits_and_304s(app: Flask, client: FlaskClient, db: Database) -> None:
    with db.session() as session:
        create_local_post(session, title="Hello", body_html="<p>x</p>",
                          now=dt.datetime.now(dt.UTC), summary_length=300)  # fmt: skip
    before = metric_values(client)
    first = client.get("/feeds/posts.atom")
    client.get("/feeds/posts.atom")
    client.get("/feeds/posts.atom", headers={"If-None-Match": first.headers["ETag"]})
    after = metric_values(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("feedsvc_feed_renders_total", feed="posts") == 1
    assert delta("feedsvc_render_cache_hits_total") == 2
    assert delta("feedsvc_not_modified_total") == 1


def test_metrics_report_the_schedule_from_the_database(client: FlaskClient, db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        for n, late in enumerate((dt.timedelta(minutes=30), dt.timedelta(seconds=5))):
            source = add_source(session, f"http://example.org/{n}.xml", now)
            source.next_check_at = now - late
        add_source(session, "http://example.org/later.xml", now).next_check_at = now + dt.timedelta(
            hours=1
        )
    values = metric_values(client)
    assert values[("feedsvc_sources_due", ())] == 2
    assert values[("feedsvc_sources_overdue", ())] == 1
    assert 1795 <= values[("feedsvc_schedule_lag_seconds", ())] < 1900


def test_a_beating_worker_forgets_workers_long_silent(app: Flask, db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        for name, age in (("gone", 600), ("alive", 5)):
            then = now - dt.timedelta(seconds=age)
            session.add(WorkerHeartbeat(name=name, beat_at=then, started_at=then))
    worker = Worker(db, settings_of(app, HEARTBEAT_STALE_SECONDS=120), name="beating")
    try:
        worker.heartbeat()
    finally:
        worker.shutdown()
    with db.session() as session:
        names = session.scalars(select(WorkerHeartbeat.name).order_by(WorkerHeartbeat.name))
        assert list(names) == ["alive", "beating"]
