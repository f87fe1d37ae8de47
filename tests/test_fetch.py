"""The fetcher against a fault server on 127.0.0.1: what it sent, what it kept."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest

from feedsvc.fetcher import USER_AGENT, Fetcher, FetchSettings
from feedsvc.vocabulary import FetchErrorKind
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss

FEED = rss("Feed", [{"guid": "1", "title": "One"}])


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as instance:
        yield instance


def test_sends_user_agent_accept_and_encoding(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    result = fetcher.fetch(feed_server.url("/f"))
    assert result.ok and result.content == FEED
    seen = feed_server.hits("/f")[0].headers
    assert seen["user-agent"] == USER_AGENT and "feedsvc/" in USER_AGENT
    assert "application/atom+xml" in seen["accept"]
    assert "gzip" in seen["accept-encoding"]
    assert "if-none-match" not in seen


def test_conditional_get_sends_validators(fetcher: Fetcher, feed_server: FeedServer) -> None:
    def reply(seen: object) -> Reply:
        headers = seen.headers  # type: ignore[attr-defined]
        if headers.get("if-none-match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        return Reply(200, FEED, {**RSS_TYPE, "ETag": '"v1"'})

    feed_server.routes["/f"] = reply
    first = fetcher.fetch(feed_server.url("/f"))
    assert first.status == 200 and first.headers["etag"] == '"v1"'
    second = fetcher.fetch(feed_server.url("/f"), '"v1"', "Mon, 23 Nov 2026 10:00:00 GMT")
    assert second.not_modified and second.content == b""
    sent = feed_server.hits("/f")[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 23 Nov 2026 10:00:00 GMT"


def test_gzip_and_deflate_bodies_are_decoded(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.routes["/gz"] = Reply(
        200, gzip.compress(FEED), {**RSS_TYPE, "Content-Encoding": "gzip"}
    )
    raw_deflate = zlib.compressobj(wbits=-15)
    body = raw_deflate.compress(FEED) + raw_deflate.flush()
    feed_server.routes["/raw"] = Reply(200, body, {**RSS_TYPE, "Content-Encoding": "deflate"})
    feed_server.routes["/zlib"] = Reply(
        200, zlib.compress(FEED), {**RSS_TYPE, "Content-Encoding": "deflate"}
    )
    for path in ("/gz", "/raw", "/zlib"):
        assert fetcher.fetch(feed_server.url(path)).content == FEED, path


def test_redirect_chain_permanent_and_temporary(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.routes["/a"] = Reply(301, b"", {"Location": "/b"})
    feed_server.routes["/b"] = Reply(308, b"", {"Location": feed_server.url("/c")})
    feed_server.routes["/c"] = Reply(200, FEED, RSS_TYPE)
    feed_server.routes["/t"] = Reply(302, b"", {"Location": "/c"})
    permanent = fetcher.fetch(feed_server.url("/a"))
    assert permanent.ok and permanent.final_url == feed_server.url("/c")
    assert permanent.permanent_redirect
    temporary = fetcher.fetch(feed_server.url("/t"))
    assert temporary.ok and temporary.final_url == feed_server.url("/c")
    assert not temporary.permanent_redirect


def test_304s_and_redirects_leave_their_connection_for_the_next_poll(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    """A poll answered 304 (or a redirect) has a body we never keep; reading it
    out lets the next poll reuse the connection instead of opening another."""
    feed_server.routes["/f"] = Reply(304, headers={"ETag": '"v1"'})
    feed_server.routes["/moved"] = Reply(302, b"see /f", {"Location": "/f"})
    for _ in range(3):
        assert fetcher.fetch(feed_server.url("/moved"), etag='"v1"').status == 304
    assert len(feed_server.requests) == 6
    assert len({seen.peer for seen in feed_server.requests}) == 1


def test_a_redirect_to_an_invalid_location_fails_in_words(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    """The redirecting URL is the last one reached, and nothing further is asked.
    A Location of the same scheme and no host is a relative reference, as a
    browser reads it."""
    feed_server.routes["/unparsable"] = Reply(302, b"", {"Location": "http://[::1/feed"})
    feed_server.routes["/no-host"] = Reply(301, b"", {"Location": "http:feed"})
    feed_server.routes["/feed"] = Reply(200, FEED, RSS_TYPE)
    unparsable = fetcher.fetch(feed_server.url("/unparsable"))
    assert unparsable.error_kind == FetchErrorKind.BAD_URL
    assert unparsable.final_url == feed_server.url("/unparsable")
    assert (unparsable.error or "").startswith("the server redirected to an invalid URL")
    assert len(feed_server.requests) == 1
    relative = fetcher.fetch(feed_server.url("/no-host"))
    assert (relative.status, relative.final_url) == (200, feed_server.url("/feed"))


def test_a_closed_fetcher_sends_nothing(feed_server: FeedServer) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    fetcher = Fetcher(FetchSettings(timeout=5, allow_private=True))
    fetcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        fetcher.fetch(feed_server.url("/f"))
    assert feed_server.requests == []


def test_redirect_loop_stops(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.routes["/loop"] = Reply(302, b"", {"Location": "/loop"})
    result = fetcher.fetch(feed_server.url("/loop"))
    assert result.error_kind == FetchErrorKind.TOO_MANY_REDIRECTS
    assert len(feed_server.hits("/loop")) == 6  # the first request and 5 redirects


def test_slow_drip_times_out(feed_server: FeedServer) -> None:
    def drip() -> Iterator[bytes]:
        for _ in range(100):
            yield b" "
            time.sleep(0.05)

    feed_server.routes["/slow"] = Reply(200, headers=RSS_TYPE, stream=drip)
    with Fetcher(FetchSettings(timeout=1.0, allow_private=True)) as fetcher:
        started = time.monotonic()
        result = fetcher.fetch(feed_server.url("/slow"))
    assert result.error_kind == FetchErrorKind.TIMEOUT
    assert "timed out" in (result.error or "")
    assert time.monotonic() - started < 3


def test_huge_body_is_cut_at_the_cap(feed_server: FeedServer) -> None:
    chunk = b"x" * (1024 * 1024)
    feed_server.routes["/big"] = Reply(200, headers=RSS_TYPE, stream=lambda: [chunk] * 50)
    with Fetcher(FetchSettings(timeout=10, allow_private=True)) as fetcher:
        tracemalloc.start()
        result = fetcher.fetch(feed_server.url("/big"))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert result.error_kind == FetchErrorKind.TOO_LARGE
    assert "10485760 byte limit" in (result.error or "")
    assert peak < 30 * 1024 * 1024  # a 50 MB body, never held whole


def test_gzip_bomb_stops_at_the_cap(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)  # 200 MB inflated
    assert len(bomb) < 300 * 1024
    feed_server.routes["/bomb"] = Reply(200, bomb, {**RSS_TYPE, "Content-Encoding": "gzip"})
    with Fetcher(FetchSettings(timeout=10, allow_private=True, max_bytes=1024 * 1024)) as f:
        tracemalloc.start()
        result = f.fetch(feed_server.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert result.error_kind == FetchErrorKind.TOO_LARGE
    assert peak < 8 * 1024 * 1024


def test_corrupt_gzip_is_an_error_in_words(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.routes["/bad"] = Reply(
        200, b"this is not gzip", {**RSS_TYPE, "Content-Encoding": "gzip"}
    )
    result = fetcher.fetch(feed_server.url("/bad"))
    assert not result.ok and "gzip body is corrupt" in (result.error or "")


def test_connection_refused_is_reported(fetcher: Fetcher, feed_server: FeedServer) -> None:
    url = feed_server.url("/gone")
    feed_server.stop()
    result = fetcher.fetch(url)
    assert result.error_kind == "connection"
    assert (result.error or "").startswith("could not connect")


def test_non_http_scheme_is_refused(fetcher: Fetcher) -> None:
    for url in ("file:///etc/passwd", "ftp://example.org/feed", "gopher://x/"):
        result = fetcher.fetch(url)
        assert result.error_kind == FetchErrorKind.REFUSED, url
        assert "only http and https" in (result.error or "")
