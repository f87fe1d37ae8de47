"""The address guard: nothing inward is ever reached unless deliberately allowed."""

from __future__ import annotations

import pytest

from feedsvc.fetcher import Fetcher, FetchSettings, non_public_reason
from feedsvc.vocabulary import FetchErrorKind
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss

FEED = rss("Feed", [])


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("::ffff:192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
    ],
)
def test_inward_addresses_are_named(address: str, reason: str) -> None:
    assert non_public_reason(address) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_pass(address: str) -> None:
    assert non_public_reason(address) is None


@pytest.fixture
def guarded() -> Fetcher:
    return Fetcher(FetchSettings(timeout=5, allow_private=False))


def test_loopback_url_is_refused_without_a_request(
    guarded: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    for host in ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]"):
        result = guarded.fetch(f"http://{host}:{feed_server.port}/f")
        assert result.error_kind == FetchErrorKind.REFUSED, host
        assert "not a public address" in (result.error or "")
    assert feed_server.requests == []


def test_allowed_host_port_is_reachable(feed_server: FeedServer) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    allowed = (f"127.0.0.1:{feed_server.port}",)
    with Fetcher(FetchSettings(timeout=5, allow_hosts=allowed)) as fetcher:
        assert fetcher.fetch(feed_server.url("/f")).ok
        # Same server by another name or port: still refused.
        other = fetcher.fetch(f"http://localhost:{feed_server.port}/f")
        assert other.error_kind == FetchErrorKind.REFUSED
    assert len(feed_server.requests) == 1


def test_redirect_to_a_disallowed_host_is_refused(feed_server: FeedServer) -> None:
    inner = FeedServer().start()
    try:
        inner.routes["/secret"] = Reply(200, b"internal", {"Content-Type": "text/plain"})
        feed_server.routes["/f"] = Reply(302, b"", {"Location": inner.url("/secret")})
        allowed = (f"127.0.0.1:{feed_server.port}",)
        with Fetcher(FetchSettings(timeout=5, allow_hosts=allowed)) as fetcher:
            result = fetcher.fetch(feed_server.url("/f"))
        assert result.error_kind == FetchErrorKind.REFUSED
        assert result.final_url == inner.url("/secret")
        assert len(feed_server.requests) == 1
        assert inner.requests == []
    finally:
        inner.stop()


def test_refusal_is_recorded_on_the_source(
    app: object, db: object, feed_server: FeedServer
) -> None:
    import datetime as dt

    from feedsvc.db import Database
    from feedsvc.ingest import IngestSettings, refresh_source
    from feedsvc.models import Source
    from feedsvc.sources import add_source

    assert isinstance(db, Database)
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    now = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    with db.session() as session:
        source_id = add_source(session, f"http://localhost:{feed_server.port}/f", now).id
    with Fetcher(FetchSettings(timeout=5)) as fetcher:
        report = refresh_source(
            db, source_id, fetcher=fetcher, now=now, settings=IngestSettings(), jitter=0.5
        )
    assert report.result == "refused"
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        assert source.last_error is not None
        assert "refused" in source.last_error and "not a public address" in source.last_error
    assert feed_server.requests == []
