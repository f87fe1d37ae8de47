"""Errors in sentences with a next step (messages.py): each fetch error kind,
each kind of HTTP answer, the causes read from raw detail, hostile URLs."""

from __future__ import annotations

import pytest

from feedsvc.messages import cause, fetch_problem, where
from feedsvc.vocabulary import FetchErrorKind

URL = "http://example.org:8080/feed.xml"


def test_the_issues_example_word_for_word() -> None:
    assert fetch_problem(
        FetchErrorKind.CONNECTION, URL, None, "could not connect: [Errno 111] Connection refused"
    ) == ("Could not connect to example.org:8080 (connection refused). "
          "Check the address, or try again later.")  # fmt: skip


@pytest.mark.parametrize(("kind", "status", "detail", "expected"), [
    (FetchErrorKind.CONNECTION, None, "[Errno -2] Name or service not known",
     "Could not find example.org:8080 (the name does not resolve). Check the address for typos"),
    (FetchErrorKind.REFUSED, None, "refused: cannot resolve nowhere.invalid: Name or service",
     "Could not find example.org:8080 (the name does not resolve)"),
    (FetchErrorKind.REFUSED, None, "refused: 10.0.0.1 is private, not a public address",
     "feedsvc refused to fetch example.org:8080 (10.0.0.1 is private, not a public address). "
     "Use the feed's public address."),
    (FetchErrorKind.TIMEOUT, None, "timed out after 20 s (the whole exchange)",
     "example.org:8080 did not answer in time. Try again later"),
    (FetchErrorKind.TLS, None, "TLS error: [SSL: CERTIFICATE_VERIFY_FAILED] certificate has "
     "expired (_ssl.c:1000)", "Could not make a secure connection to example.org:8080 "
     "(its certificate has expired). Check that the address names the right host"),
    (FetchErrorKind.TOO_LARGE, None, "the feed is larger than the 10485760 byte limit",
     "The feed at example.org:8080 is larger than feedsvc accepts. Ask the site"),
    (FetchErrorKind.TOO_MANY_REDIRECTS, None, "more than 5 redirects",
     "example.org:8080 redirected too many times. Open the address in a browser"),
    (FetchErrorKind.BAD_URL, None, "invalid URL: x", "The address is not a web address"),
    (FetchErrorKind.PARSE, 200, "not a feed: the server sent an HTML page (text/html)",
     "example.org:8080 answered with something that is not a feed (the server sent an HTML page "
     "(text/html)). Check that the address is the feed's"),
    (FetchErrorKind.INTERNAL, None, "internal error while storing: KeyError",
     "Something went wrong inside feedsvc (an internal error) while storing this feed."),
    (None, 404, "the server answered HTTP 404",
     "example.org:8080 has no feed at this address (HTTP 404 Not Found). Check the address"),
    (None, 403, "the server answered HTTP 403",
     "example.org:8080 refused access (HTTP 403 Forbidden). The feed may need a login"),
    (None, 410, "the feed is gone (HTTP 410)",
     "example.org:8080 says the feed is gone for good (HTTP 410 Gone), so it is no longer fetched. "
     "Find the site's new feed, or delete this source."),
    (None, 429, "the server asked us to slow down (HTTP 429)",
     "example.org:8080 asked feedsvc to slow down (HTTP 429 Too Many Requests). Nothing to do"),
    (None, 502, "the server answered HTTP 502",
     "example.org:8080 had a server error (HTTP 502 Bad Gateway). This is usually temporary"),
    (None, 418, "the server answered HTTP 418", "example.org:8080 answered HTTP 418 I'm a Teapot"),
    (None, 299, "the server answered HTTP 299", "example.org:8080 answered HTTP 299, not a feed."),
])  # fmt: skip
def test_each_kind_in_a_sentence_with_a_next_step(
    kind: FetchErrorKind | None, status: int | None, detail: str, expected: str
) -> None:
    said = fetch_problem(kind, URL, status, detail)
    assert said.startswith(expected), said
    # A sentence, and more than one: what happened, then what to do.
    assert said.endswith(".") and said.count(". ") >= 1
    # Raw system text stays in the history, not here.
    assert "Errno" not in said and "_ssl.c" not in said


@pytest.mark.parametrize(("detail", "words"), [
    ("[Errno 111] Connection refused", "connection refused"),
    ("[Errno 101] Network is unreachable", "the network is unreachable"),
    ("[Errno 104] Connection reset by peer", "the connection was reset"),
    ("Server disconnected without sending a response.", "the server hung up"),
    ("[SSL: CERTIFICATE_VERIFY_FAILED] self-signed certificate", "its certificate is self-signed"),
    ("hostname mismatch, certificate is not valid for 'x'", "its certificate is for another name"),
    ("something else entirely", None),
    (None, None),
])  # fmt: skip
def test_causes_read_from_raw_detail(detail: str | None, words: str | None) -> None:
    assert cause(detail) == words


@pytest.mark.parametrize(("url", "shown"), [
    ("https://Example.ORG/feed", "example.org"),
    ("http://example.org:8080/", "example.org:8080"),
    ("http://[::1]:99/", "[::1]:99"),
    ("http://[oops/", "http://[oops/"),
    ("http://example.org:99999/", "http://example.org:99999/"),
    ("", "the server"),
    ("not a url " + "x" * 500, ("not a url " + "x" * 500)[:200]),
])  # fmt: skip
def test_where_names_the_host_and_survives_hostile_urls(url: str, shown: str) -> None:
    assert where(url) == shown

