"""The OpenAPI document is kept true: schemathesis generates requests from it
and checks every answer against it. No 5xx, no undocumented status, no
response that breaks its schema."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from feedsvc.db import Database
from feedsvc.web.api_models import openapi_document
from tests.admin_helpers import bearer, make_admin, make_token
from tests.configured import reconfigure

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


# One test per operation, listed from the document itself.
OPERATIONS = [
    op.ok().label
    for op in schemathesis.openapi.from_dict(
        openapi_document("http://feeds.test/api/v1")
    ).get_all_operations()
]


@pytest.fixture
def no_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated URLs name hosts anywhere: resolve none of them, so the
    fetcher sends nothing beyond 127.0.0.1."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, "no lookups in tests")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# Not negative_data_rejection: unknown query parameters are ignored, as most APIs do.
NEGATIVE_CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
                   checks.content_type_conformance]  # fmt: skip


def run_cases(
    app: Flask, db: Database, label: str, mode: GenerationMode, wanted: list[Any]
) -> None:
    """Thirty generated calls of one operation, as an admin, each held to `wanted`."""
    reconfigure(app, FETCH_TIMEOUT=2.0)
    make_admin(db)
    headers = bearer(make_token(db))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema.find_operation_by_label(label)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=wanted)

    check()


@pytest.mark.parametrize("label", OPERATIONS)
def test_the_api_refuses_what_its_openapi_document_rules_out(
    app: Flask, db: Database, no_lookups: None, label: str
) -> None:
    """Negative cases: ids, pages and bodies the document rules out get a 4xx."""
    run_cases(app, db, label, GenerationMode.NEGATIVE, NEGATIVE_CHECKS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_the_api_answers_as_its_openapi_document_says(
    app: Flask, db: Database, no_lookups: None, label: str
) -> None:
    run_cases(app, db, label, GenerationMode.POSITIVE, CHECKS)


def test_the_document_is_openapi_3_1_and_covers_every_route(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    documented = {(path, method.upper()) for path, ops in document["paths"].items()
                  for method in ops if method != "parameters"}  # fmt: skip
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json":
            path = rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace(">", "}")
            served |= {(path, m) for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    assert documented == served
