"""What the fetcher puts on the wire, header line by header line: the names, their
case and their order, so a change in how requests are built shows here first.
And that a cookie a server sets never goes back to any server."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from feedsvc.fetched import FetchOptions
from feedsvc.fetcher import ACCEPT, BROWSER_USER_AGENT, USER_AGENT, Fetcher, FetchSettings
from feedsvc.sealing import SOURCE_SECRETS, Sealer
from tests.feedserver import RSS_TYPE, FeedServer, Reply, Seen, rss

KEY = "a-secret-key-for-these-tests-only-0123456789"
FEED = rss("Feed", [{"guid": "1", "title": "One"}])
COOKIE = "session=c00k1e"
BASIC = "Basic " + base64.b64encode(b"reader:pa55").decode()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(timeout=5, allow_private=True, secret_key=KEY)) as instance:
        yield instance


def sealed(value: str) -> str:
    return Sealer(KEY, SOURCE_SECRETS).seal(value)


def host(server: FeedServer) -> tuple[str, str]:
    return ("Host", f"127.0.0.1:{server.port}")


def common(agent: str = USER_AGENT) -> list[tuple[str, str]]:
    return [
        ("Connection", "keep-alive"),
        ("User-Agent", agent),
        ("Accept", ACCEPT),
        ("Accept-Encoding", "gzip, deflate"),
    ]


def test_a_fetch_sends_these_lines(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    assert fetcher.fetch(feed_server.url("/f")).ok
    (seen,) = feed_server.hits("/f")
    assert (seen.method, seen.path) == ("GET", "/f")
    assert seen.lines == [host(feed_server), *common()]


def test_a_conditional_fetch_adds_its_validators_last(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(304)
    stamp = "Tue, 24 Nov 2026 12:00:00 GMT"
    assert fetcher.fetch(feed_server.url("/f"), '"v1"', stamp).not_modified
    (seen,) = feed_server.hits("/f")
    assert seen.lines == [
        host(feed_server), *common(), ("If-None-Match", '"v1"'), ("If-Modified-Since", stamp),
    ]  # fmt: skip


def test_the_browser_retry_sends_its_agent_after_the_validators(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    def browser_only(seen: Seen) -> Reply:
        if seen.headers["user-agent"] != BROWSER_USER_AGENT:
            return Reply(403, b"no bots", {"Content-Type": "text/plain"})
        return Reply(200, FEED, RSS_TYPE)

    feed_server.routes["/f"] = browser_only
    assert fetcher.fetch(feed_server.url("/f"), '"v1"').browser_agent
    ours, browser = feed_server.hits("/f")
    assert ours.lines == [host(feed_server), *common(), ("If-None-Match", '"v1"')]
    assert browser.lines == [
        host(feed_server), *common()[:1], *common()[2:],
        ("If-None-Match", '"v1"'), ("User-Agent", BROWSER_USER_AGENT),
    ]  # fmt: skip


def test_a_sources_headers_cookie_and_credentials_come_after_ours(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    options = FetchOptions(
        headers=(("X-Api-Key", "k3y"),), cookie=sealed(COOKIE), credentials=sealed("reader:pa55")
    )
    assert fetcher.fetch(feed_server.url("/f"), options=options).ok
    (seen,) = feed_server.hits("/f")
    assert seen.lines == [
        host(feed_server), *common(),
        ("X-Api-Key", "k3y"), ("Cookie", COOKIE), ("Authorization", BASIC),
    ]  # fmt: skip


def test_a_source_header_named_as_ours_replaces_it(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    options = FetchOptions(headers=(("accept", "application/rss+xml"),))
    assert fetcher.fetch(feed_server.url("/f"), options=options).ok
    (seen,) = feed_server.hits("/f")
    assert seen.lines == [
        host(feed_server), *common()[:2], *common()[3:], ("accept", "application/rss+xml"),
    ]  # fmt: skip


def test_credentials_in_the_url_are_sent_as_basic_auth(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    url = feed_server.url("/f").replace("http://", "http://reader:pa55@")
    assert fetcher.fetch(url).ok
    (seen,) = feed_server.hits("/f")
    assert seen.lines == [host(feed_server), *common(), ("Authorization", BASIC)]


def test_a_form_post_sends_these_lines_and_body(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.routes["/hub"] = Reply(202)
    form = {"hub.mode": "publish", "hub.url": "http://example.org/feed?a=1&b=é"}
    assert fetcher.post_form(feed_server.url("/hub"), form).status == 202
    (seen,) = feed_server.hits("/hub")
    body = b"hub.mode=publish&hub.url=http%3A%2F%2Fexample.org%2Ffeed%3Fa%3D1%26b%3D%C3%A9"
    assert (seen.method, seen.body) == ("POST", body)
    assert seen.lines == [
        host(feed_server), *common(),
        ("Content-Length", str(len(body))),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ]  # fmt: skip


def test_a_body_post_sends_these_lines_and_body(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.routes["/hook"] = Reply(204)
    headers = {"Content-Type": "application/json", "X-Signature": "sha256=00"}
    assert fetcher.post(feed_server.url("/hook"), headers, content=b'{"a": 1}').status == 204
    (seen,) = feed_server.hits("/hook")
    assert (seen.method, seen.body) == ("POST", b'{"a": 1}')
    assert seen.lines == [
        host(feed_server), *common(),
        ("Content-Type", "application/json"), ("X-Signature", "sha256=00"),
        ("Content-Length", "8"),
    ]  # fmt: skip


def test_a_cookie_a_server_sets_is_never_sent_back(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    """Not to the server that set it, not on a redirect, not to another path."""
    cookie = {"Set-Cookie": "sid=abc; Path=/", "Set-Cookie2": 'x=1; Version="1"'}
    feed_server.routes["/set"] = Reply(200, FEED, {**RSS_TYPE, **cookie})
    feed_server.routes["/moved"] = Reply(302, b"", {"Location": "/set", **cookie})
    feed_server.routes["/other"] = Reply(304, b"", cookie)
    assert fetcher.fetch(feed_server.url("/set")).ok
    assert fetcher.fetch(feed_server.url("/moved")).ok
    assert fetcher.fetch(feed_server.url("/set")).ok
    assert fetcher.fetch(feed_server.url("/other"), '"v1"').not_modified
    assert fetcher.fetch(feed_server.url("/other"), '"v1"').not_modified
    assert len(feed_server.requests) == 6
    for seen in feed_server.requests:
        assert "cookie" not in seen.headers


def test_a_cookie_a_server_sets_does_not_join_the_sources(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, {**RSS_TYPE, "Set-Cookie": "sid=abc; Path=/"})
    options = FetchOptions(cookie=sealed(COOKIE))
    assert fetcher.fetch(feed_server.url("/f"), options=options).ok
    assert fetcher.fetch(feed_server.url("/f"), options=options).ok
    assert [seen.headers["cookie"] for seen in feed_server.hits("/f")] == [COOKIE, COOKIE]
