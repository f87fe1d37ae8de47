"""The admin's webhook pages: the endpoints (add, with the secret shown once),
and one endpoint's settings and delivery log. Thin: feedsvc/webhooks.py rules."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from feedsvc import webhooks
from feedsvc.errors import FeedsvcError
from feedsvc.models import WebhookEndpoint
from feedsvc.web.auth import admins_only
from feedsvc.web.context import (
    current_time,
    get_or_404,
    get_session,
    html_page,
    settings,
    undo_changes,
)
from feedsvc.web.problems import STATUS

bp = Blueprint("webhooks", __name__, url_prefix="/admin")

admins_only(bp)


def _status(error: FeedsvcError) -> int:
    return STATUS.get(error.kind, (422, ""))[0]


def _list_page(status: int = 200, **context: Any) -> Response:
    session = get_session()
    endpoints = webhooks.list_endpoints(session)
    pending = {endpoint.id: webhooks.pending_count(session, endpoint.id) for endpoint in endpoints}
    context.setdefault("form", {})
    context.setdefault("checked", [])
    return html_page("admin/webhooks.html", status, endpoints=endpoints, pending=pending,
                     optional=webhooks.OPTIONAL, **context)  # fmt: skip


@bp.get("/webhooks")
def endpoint_list() -> Response:
    return _list_page()


@bp.post("/webhooks")
def endpoint_create() -> Response:
    form = request.form
    try:
        endpoint, secret = webhooks.create_endpoint(
            get_session(), form.get("url", ""), current_time(), guard=settings().fetch.guard(),
            secret_key=settings().secret_key, events=form.getlist("events"),
            description=form.get("description", ""),
        )  # fmt: skip
    except FeedsvcError as exc:
        return _list_page(_status(exc), error=exc, form=form, checked=form.getlist("events"))
    return _list_page(201, created=endpoint, secret=secret)


def _endpoint_page(
    endpoint: WebhookEndpoint, status: int = 200, error: FeedsvcError | None = None
) -> Response:
    session = get_session()
    return html_page("admin/webhook.html", status, endpoint=endpoint, error=error,
                     log=webhooks.delivery_log(session, endpoint.id),
                     pending=webhooks.pending_count(session, endpoint.id),
                     optional=webhooks.OPTIONAL)  # fmt: skip


@bp.get("/webhooks/<int:endpoint_id>")
def endpoint_detail(endpoint_id: int) -> Response:
    return _endpoint_page(get_or_404(WebhookEndpoint, endpoint_id))


@bp.post("/webhooks/<int:endpoint_id>")
def endpoint_update(endpoint_id: int) -> Response:
    session = get_session()
    endpoint = get_or_404(WebhookEndpoint, endpoint_id)
    form = request.form
    action = form.get("action", "save")
    try:
        if action == "delete":
            webhooks.delete_endpoint(session, endpoint)
            flash("The endpoint is deleted, with its queued messages and log.")
            return redirect(url_for("webhooks.endpoint_list"))
        webhooks.update_endpoint(
            session, endpoint, guard=settings().fetch.guard(),
            url=form.get("url") if action == "save" else None,
            events=form.getlist("events") if action == "save" else None,
            description=form.get("description") if action == "save" else None,
            enabled={"enable": True, "disable": False}.get(action),
        )  # fmt: skip
    except FeedsvcError as exc:
        undo_changes()
        return _endpoint_page(webhooks.get_endpoint(session, endpoint_id), _status(exc), exc)
    flash("Saved.")
    return redirect(url_for("webhooks.endpoint_detail", endpoint_id=endpoint_id))
