"""The WebSub callbacks: /websub/<token>, one unguessable address per
subscription to an upstream hub (feedsvc/push/). Hubs carry no cookie: no CSRF."""

from __future__ import annotations

from flask import Blueprint, Response, request

from feedsvc.push import receive
from feedsvc.push.policy import CALLBACK_PREFIX
from feedsvc.web.auth import csrf
from feedsvc.web.context import current_time, get_db, get_session, settings

bp = Blueprint("websub", __name__, url_prefix=CALLBACK_PREFIX.rstrip("/"))
csrf.exempt(bp)


@bp.get("/<token>")
def verify(token: str) -> Response:
    return _plain(receive.verify(get_session(), token, request.args, current_time(), settings()))


@bp.post("/<token>")
def deliver(token: str) -> Response:
    cap = settings().push.max_bytes
    if (request.content_length or 0) > cap:
        return _plain(receive.Answer(413, f"the delivery is larger than {cap} bytes\n"))
    body = request.stream.read(cap + 1)
    if len(body) > cap:
        return _plain(receive.Answer(413, f"the delivery is larger than {cap} bytes\n"))
    headers = {name: request.headers[name] for name in receive.HEADERS if name in request.headers}
    return _plain(receive.deliver(get_db(), token, body, headers, current_time(), settings()))


def _plain(answer: receive.Answer) -> Response:
    return Response(answer.text, status=answer.status, content_type="text/plain; charset=utf-8")
