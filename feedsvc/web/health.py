"""Operations: /healthz for load balancers and supervisors, /metrics for Prometheus."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from feedsvc.metrics import render_metrics
from feedsvc.models import WorkerHeartbeat
from feedsvc.web.context import get_db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers and a worker beat recently, else 503."""
    try:
        with get_db().engine.connect() as connection:
            newest = connection.execute(select(func.max(WorkerHeartbeat.beat_at))).scalar()
    except Exception as exc:
        down = {"status": "unavailable", "database": "unreachable", "error": type(exc).__name__}
        return jsonify(down), 503
    stale_after = int(current_app.config["HEARTBEAT_STALE_SECONDS"])
    age = None
    if newest is not None:
        age = round((dt.datetime.now(dt.UTC) - newest).total_seconds(), 1)
    healthy = age is not None and age <= stale_after
    body: dict[str, str | float | None] = {
        "status": "ok" if healthy else "unavailable",
        "database": "ok",
        # No heartbeat at all means no worker has ever run: the feeds go stale.
        "worker": "ok" if healthy else ("missing" if age is None else "stale"),
        "heartbeat_age_seconds": age,
    }
    return jsonify(body), 200 if healthy else 503


@bp.get("/metrics")
def metrics() -> Response:
    return Response(render_metrics(get_db()), content_type=CONTENT_TYPE_LATEST)
