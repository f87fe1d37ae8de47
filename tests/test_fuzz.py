"""No input is answered with a server error. Hypothesis sends every GET route
(the site, the feeds, the API, the admin signed in, the sign-in page) made-up
path segments and query strings, and the API's JSON operations made-up
bodies; each answer must be below 500. On SQLite and on PostgreSQL (set
FEEDSVC_TEST_DATABASE_URL), which refuses more (NUL in text, integers out of
its columns' range).

tests/test_api_schema.py checks the API against its OpenAPI document besides.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feedsvc import posts, sources
from feedsvc.db import Database
from tests.admin_helpers import bearer, make_admin, make_token, sign_in
from tests.test_api_schema import no_lookups  # noqa: F401 - a fixture

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
SETTINGS = settings(max_examples=1500, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))  # fmt: skip
PLACEHOLDER = re.compile(r"<(?:[^<>:]+:)?[^<>]+>")

# The numbers that broke things, and the text that breaks databases.
NUMBERS = st.one_of(
    st.integers(min_value=-2, max_value=5).map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["0", "1", "2", str(2**31 - 1), str(2**31), str(2**62), str(2**63),
                     "9" * 5000, "²", "٣", "1e3", "0x10", " 1", "+1", "1_0", "-0"]),
)  # fmt: skip
TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "python", "last", "default", "a\x00b", "\u202e", "%", "..", "7d"]),
)
VALUES = st.one_of(NUMBERS, TEXT)
PARAMS = ["page", "limit", "window", "alt", "start-index", "max-results", "per_page", "q",
          "state", "source_id", "keep_posts", "next", "kind", "callback", "orderby",
          "published-min", "published-max", "updated-min", "updated-max"]  # fmt: skip
QUERIES = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(PARAMS), st.text(max_size=8)), VALUES, max_size=4)
    .map(urlencode),
    # Raw: stray escapes, invalid UTF-8, NUL.
    st.binary(max_size=40).map(lambda raw: quote_from_bytes(raw, safe="=&")),
)  # fmt: skip

# The API's JSON operations (refresh and OPML take no JSON; they fetch or parse files).
BODY_ROUTES = [("POST", "/api/v1/sources"), ("PATCH", "/api/v1/sources/1"),
               ("POST", "/api/v1/discover"), ("POST", "/api/v1/posts"),
               ("PATCH", "/api/v1/posts/1")]  # fmt: skip
FIELDS = ["url", "title", "tags", "mode", "interval", "check", "site_url", "paused", "content",
          "author", "hidden", "popular_excluded"]  # fmt: skip
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
              st.floats(allow_nan=False, allow_infinity=False), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)  # fmt: skip
OBJECTS = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), JSON_VALUES, max_size=6
).map(lambda obj: {"check": False, **obj})  # never fetch what it names
BODIES = st.one_of(
    OBJECTS.map(lambda obj: json.dumps(obj).encode()),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.integers(min_value=1, max_value=50_000).map(lambda n: b"[" * n + b"]" * n),
    st.binary(max_size=60),
    OBJECTS.map(lambda obj: json.dumps(obj).encode()[:-3]),  # cut short
)


def get_routes(app: Flask) -> list[str]:
    """Every route a GET reaches, placeholders left in; but the health checks,
    whose 503 says no worker is beating (none runs here)."""
    rules = [rule for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())]
    return sorted({rule.rule for rule in rules if not rule.rule.startswith("/healthz")})


@pytest.fixture
def fuzzed(client: FlaskClient, db: Database, no_lookups: None) -> dict[str, str]:  # noqa: F811
    """Something to find: a source, a tagged post, an admin signed in; the token's header."""
    make_admin(db)
    with db.session() as session:
        sources.add_source(session, "http://127.0.0.1:9/feed", NOW, title="Source")
        posts.create_local_post(session, title="Hello", body_html="<p>Hi</p>", now=NOW,
                                summary_length=100, tags=["python"])  # fmt: skip
    sign_in(client)
    return bearer(make_token(db))


def assert_answered(response: Any, request: str) -> None:
    assert response.status_code < 500, f"{request} → {response.status_code}"
    if response.status_code >= 400 and request.split()[1].startswith("/api/"):
        assert response.mimetype == "application/problem+json", request


def test_no_path_or_query_string_is_a_server_error(
    app: Flask, client: FlaskClient, fuzzed: dict[str, str]
) -> None:
    routes = get_routes(app)

    @given(route=st.sampled_from(routes), segments=st.lists(VALUES, min_size=3, max_size=3),
           query=QUERIES)  # fmt: skip
    @example(route="/", segments=[], query="page=99999999999999999999")
    @example(route="/tags/<slug:tag_slug>", segments=["python"], query="page=4611686018427387904")
    @example(route="/tags/<slug:tag_slug>", segments=["a\x00b"], query="")
    @example(route="/posts/<int:post_id>", segments=["100000000000000000000"], query="")
    @example(route="/sources/<int:source_id>", segments=["100000000000000000000"], query="")
    @example(route="/feeds/sources/<int:source_id>.<fmt>", segments=[str(10**20), "atom"],
             query="")  # fmt: skip
    @example(route="/api/v1/sources/<int:source_id>", segments=[str(2**31)], query="")
    @example(route="/api/v1/posts", segments=[], query="page=%C2%B2")
    @example(route="/feeds/posts/<any(default, summary):variant>", segments=["default"],
             query="start-index=1000000000000000000001&max-results=1")  # fmt: skip
    @example(route="/admin/posts", segments=[], query="page=99999999999999999999")
    @example(route="/admin/sign-in", segments=[], query="next=/%0A/x")
    @SETTINGS
    def check(route: str, segments: list[str], query: str) -> None:
        filled = iter(segments)
        path = PLACEHOLDER.sub(lambda _: quote(next(filled, "1"), safe=""), route)
        response = client.get(path, query_string=query, headers=fuzzed)
        assert_answered(response, f"GET {path}?{query}")

    check()


def test_no_api_body_is_a_server_error(client: FlaskClient, fuzzed: dict[str, str]) -> None:
    @given(route=st.sampled_from(BODY_ROUTES), body=BODIES)
    @example(route=("POST", "/api/v1/posts"), body=b"[" * 100_000 + b"]" * 100_000)
    @example(route=("PATCH", "/api/v1/sources/1"), body=b'{"tags": ["\\u65e5\\u672c"]}')
    @example(route=("POST", "/api/v1/posts"), body=b'{"title": "a\\u0000", "content": ""}')
    @SETTINGS
    def check(route: tuple[str, str], body: bytes) -> None:
        method, path = route
        response = client.open(path, method=method, data=body, headers=fuzzed,
                               content_type="application/json")  # fmt: skip
        assert_answered(response, f"{method} {path} {body[:80]!r}")

    check()
