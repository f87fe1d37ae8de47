"""API errors as problem+json (RFC 9457): the one shape every API failure takes."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from feedsvc.web.api_models import Problem


class ApiProblem(Exception):
    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = Problem(title=title, status=status, detail=detail, **extra)
    response = Response(body.model_dump_json(exclude_none=True), status=status,
                        content_type="application/problem+json")  # fmt: skip
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="feedsvc"'
    return response
