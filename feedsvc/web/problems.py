"""API errors as problem+json (RFC 9457): the one shape every API failure takes."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.web.api_models import Problem

# The HTTP status and title of each kind of error.
STATUS = {
    ErrorKind.INVALID: (422, "Invalid request"),
    ErrorKind.NOT_FOUND: (404, "Not found"),
    ErrorKind.CONFLICT: (409, "Conflict"),
    ErrorKind.REFUSED: (400, "Address refused"),
    ErrorKind.UNREACHABLE: (422, "Feed unreachable"),
    ErrorKind.NOT_A_FEED: (422, "Not a feed"),
    ErrorKind.NEEDS_CHOICE: (422, "Not a feed"),
}


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


def error_problem(error: FeedsvcError) -> Response:
    """A service's error as problem+json, with the field at fault and what it adds."""
    status, title = STATUS.get(error.kind, STATUS[ErrorKind.INVALID])
    return problem(status, error.title or title, str(error), field=error.field, **error.extra())
