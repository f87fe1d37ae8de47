"""Operations: /healthz for load balancers, /healthz/worker for the scheduler,
/metrics for Prometheus.

Liveness and the worker are told apart on purpose: a website whose worker has
stopped still serves its pages and feeds, so a load balancer must not pull it.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from feedsvc import heartbeats
from feedsvc.metrics import render_metrics
from feedsvc.web.context import current_time, get_db, settings

bp = Blueprint("health", __name__)

Health = dict[str, str | float | None]


def _check() -> tuple[Health, bool]:
    """The database's answer and the newest worker heartbeat; whether a worker beat in time."""
    try:
        with get_db().engine.connect() as connection:
            worker = heartbeats.worker_health(
                connection, current_time(), settings().worker.heartbeat_stale_seconds
            )
    except Exception as exc:
        down: Health = {"status": "unavailable", "database": "unreachable",
                        "error": type(exc).__name__}  # fmt: skip
        return down, False
    body: Health = {
        "status": "ok",
        "database": "ok",
        # No heartbeat at all means no worker has run lately: the feeds go stale.
        "worker": worker.state,
        "heartbeat_age_seconds": worker.age_seconds,
    }
    return body, worker.beating


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Liveness: 200 when the app runs and the database answers, else 503.

    The worker's state is in the body, for people; it never fails this check."""
    body, _ = _check()
    return jsonify(body), 200 if body["database"] == "ok" else 503


@bp.get("/healthz/worker")
def worker_health() -> tuple[Response, int]:
    """200 when a worker beat within HEARTBEAT_STALE_SECONDS, else 503: for monitoring."""
    body, beating = _check()
    if not beating:
        body["status"] = "unavailable"
    return jsonify(body), 200 if beating else 503


@bp.get("/metrics")
def metrics() -> Response:
    return Response(render_metrics(get_db(), current_time()), content_type=CONTENT_TYPE_LATEST)
