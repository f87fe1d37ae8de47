"""Finding the feed behind a site's address, on pages served on 127.0.0.1, within
discovery's time budget."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc.db import Database
from feedsvc.discovery import DiscoveryError, OutOfTime, discover, preview
from feedsvc.fetcher import Fetcher, FetchSettings
from tests.admin_helpers import bearer, make_admin, make_token
from tests.configured import reconfigure
from tests.feedserver import (
    ATOM_TYPE,
    RSS_TYPE,
    DripServer,
    FeedServer,
    Reply,
    drip_forever,
    response,
    rss,
)

HTML = {"Content-Type": "text/html; charset=utf-8"}
ITEMS = [{"guid": f"g{i}", "title": f"Entry {i}", "link": f"http://example.org/{i}",
          "pubDate": f"Mon, 0{i} Nov 2026 10:00:00 GMT"} for i in range(1, 8)]  # fmt: skip


# Ample for a loopback server; the tests of the budget itself use much less.
BUDGET = 10.0


def page(head: str, title: str = "A blog") -> Reply:
    return Reply(200, f"<!doctype html><html><head><title>{title}</title>{head}</head>"
                      "<body>hello</body></html>".encode(), HTML)  # fmt: skip


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as client:
        yield client


def test_a_site_page_names_its_feeds_and_they_are_all_offered(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.routes["/blog/"] = page(
        '<link rel="alternate" type="application/rss+xml" title="Posts (RSS)" href="feed.xml">'
        '<link rel="Alternate" type="application/atom+xml" href="/blog/atom.xml">'
        '<link rel="alternate" type="application/feed+json" title="JSON" href="/blog/feed.json">'
        '<link rel="alternate" type="text/html" href="/other">'
        '<link rel="stylesheet" type="application/rss+xml" href="/not-a-feed">'
        '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
        '<link rel="alternate" type="application/rss+xml" title="dup" href="/blog/feed.xml">'
    )
    candidates, shown = discover(fetcher, feed_server.url("/blog/"), budget=BUDGET)
    assert shown is None
    assert [(c.url, c.title, c.kind) for c in candidates] == [
        (feed_server.url("/blog/feed.xml"), "Posts (RSS)", "RSS"),
        (feed_server.url("/blog/atom.xml"), "Atom", "Atom"),
        (feed_server.url("/blog/feed.json"), "JSON", "JSON Feed"),
    ]


def test_a_base_href_is_honoured(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.routes["/"] = page('<base href="/sub/"><link rel="alternate" '
                                   'type="application/atom+xml" href="a.xml">')  # fmt: skip
    feed_server.routes["/sub/a.xml"] = Reply(200, rss("Sub", ITEMS[:2]), RSS_TYPE)
    candidates, shown = discover(fetcher, feed_server.url("/"), budget=BUDGET)
    assert [c.url for c in candidates] == [feed_server.url("/sub/a.xml")]
    # A page naming one feed comes with that feed's preview: nothing to choose.
    assert shown is not None and shown.title == "Sub" and shown.feed_url == candidates[0].url


def test_broken_urls_in_a_page_are_skipped_not_a_crash(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.routes["/"] = page(
        '<base href="http://[oops/"><link rel="alternate" type="application/rss+xml" '
        'href="http://[oops/feed"><link rel="alternate" type="application/atom+xml" '
        'href="/a.xml">'
    )  # fmt: skip
    feed_server.routes["/a.xml"] = Reply(200, rss("A", ITEMS[:1]), RSS_TYPE)
    candidates, _ = discover(fetcher, feed_server.url("/"), budget=BUDGET)
    assert [c.url for c in candidates] == [feed_server.url("/a.xml")]


def test_a_page_naming_one_feed_that_fails_says_why(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.routes["/"] = page('<link rel="alternate" type="application/rss+xml" '
                                   'href="/gone.xml">')  # fmt: skip
    with pytest.raises(DiscoveryError, match=r"has no feed at this address \(HTTP 404 Not Found\)"):
        discover(fetcher, feed_server.url("/"), budget=BUDGET)


def test_a_feed_url_is_its_own_only_candidate_with_a_preview(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.routes["/feed.xml"] = Reply(200, rss("My feed", ITEMS), RSS_TYPE)
    candidates, shown = discover(fetcher, feed_server.url("/feed.xml"), budget=BUDGET)
    assert [c.url for c in candidates] == [feed_server.url("/feed.xml")]
    assert shown is not None and shown.title == "My feed"
    # The five newest, newest first.
    assert [e.title for e in shown.entries] == ["Entry 7", "Entry 6", "Entry 5", "Entry 4",
                                                "Entry 3"]  # fmt: skip


def test_a_page_naming_no_feed_gets_the_usual_paths_tried(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.routes["/"] = page("")
    feed_server.routes["/atom.xml"] = Reply(200, rss("Found", ITEMS[:1]), ATOM_TYPE)
    candidates, shown = discover(fetcher, feed_server.url("/"), budget=BUDGET)
    assert [c.url for c in candidates] == [feed_server.url("/atom.xml")]
    assert shown is not None and shown.title == "Found"


def test_a_page_with_no_feed_anywhere_says_what_it_found(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.routes["/"] = page("", title="Just a page")
    with pytest.raises(DiscoveryError) as error:
        discover(fetcher, feed_server.url("/"), budget=BUDGET)
    assert error.value.kind == "not_a_feed"
    assert "Just a page" in str(error.value) and "names no feed" in str(error.value)


def test_something_neither_feed_nor_page(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.routes["/x.png"] = Reply(200, b"\x89PNG....", {"Content-Type": "image/png"})
    with pytest.raises(DiscoveryError, match="neither a feed nor a web page"):
        discover(fetcher, feed_server.url("/x.png"), budget=BUDGET)
    with pytest.raises(DiscoveryError, match="is not a feed"):
        preview(fetcher, feed_server.url("/x.png"), budget=BUDGET)


def test_unreachable_and_refused_addresses(feed_server: FeedServer) -> None:
    with (
        Fetcher(FetchSettings(timeout=5, allow_private=True)) as open_fetcher,
        pytest.raises(DiscoveryError) as missing,
    ):
        discover(open_fetcher, feed_server.url("/nothing-here"), budget=BUDGET)
    assert missing.value.kind == "unreachable" and "404" in str(missing.value)
    with Fetcher(FetchSettings(timeout=5)) as guarded, pytest.raises(DiscoveryError) as refused:
        discover(guarded, feed_server.url("/"), budget=BUDGET)
    assert refused.value.kind == "refused"
    assert feed_server.hits("/") == []  # refused before connecting


# Slow sites: every server below stops by itself, and every bound on wall time is
# several times the budget (correctness, not speed).
DRIPPED_HEADERS = b"HTTP/1.1 200 OK\r\nX-Slow: "


@pytest.fixture
def slow_site() -> Iterator[DripServer]:
    server = DripServer(lifetime=10).start()
    yield server
    server.stop()


def html_page(head: str) -> bytes:
    body = f"<!doctype html><html><head><title>Slow</title>{head}</head></html>".encode()
    return response(200, body, HTML)


def test_a_site_that_never_finishes_answering_runs_out_of_time(
    slow_site: DripServer, fetcher: Fetcher
) -> None:
    slow_site.routes["/"] = lambda: drip_forever(DRIPPED_HEADERS, 0.2)
    started = time.monotonic()
    with pytest.raises(OutOfTime) as error:
        discover(fetcher, slow_site.url("/"), budget=1)
    assert time.monotonic() - started < 5
    assert error.value.kind == "unreachable"
    assert "discovery ran out of time (it stops after 1 s)" in str(error.value)


def test_slow_usual_paths_are_tried_until_the_budget_is_spent(
    slow_site: DripServer, fetcher: Fetcher
) -> None:
    slow_site.routes["/"] = lambda: [html_page("")]
    for path in ("/feed", "/feed.xml", "/atom.xml", "/rss.xml", "/index.xml"):
        slow_site.routes[path] = lambda: [0.4, response(404, b"not here")]
    started = time.monotonic()
    with pytest.raises(OutOfTime) as error:
        discover(fetcher, slow_site.url("/"), budget=1)
    assert time.monotonic() - started < 5
    words = str(error.value)
    assert "(Slow) that names no feed; none was found at /feed" in words
    assert "before discovery ran out of time" in words
    assert slow_site.hits("/index.xml") == 0  # the last path was never reached


def test_a_named_feed_too_slow_to_preview_is_still_offered(
    slow_site: DripServer, fetcher: Fetcher
) -> None:
    named = '<link rel="alternate" type="application/rss+xml" title="Posts" href="/feed.xml">'
    slow_site.routes["/"] = lambda: [html_page(named)]
    slow_site.routes["/feed.xml"] = lambda: drip_forever(DRIPPED_HEADERS, 0.2)
    started = time.monotonic()
    candidates, shown = discover(fetcher, slow_site.url("/"), budget=1)
    assert time.monotonic() - started < 5
    assert [(c.url, c.title) for c in candidates] == [(slow_site.url("/feed.xml"), "Posts")]
    assert shown is None  # found in time; its preview was not


def test_the_api_answers_within_the_discovery_timeout(
    app: Flask, client: FlaskClient, db: Database, slow_site: DripServer
) -> None:
    reconfigure(app, DISCOVERY_TIMEOUT=1.0)
    make_admin(db)
    headers = bearer(make_token(db))
    slow_site.routes["/"] = lambda: drip_forever(DRIPPED_HEADERS, 0.2)
    for path in ("/discover", "/sources"):
        started = time.monotonic()
        answer = client.post(f"/api/v1{path}", json={"url": slow_site.url("/")}, headers=headers)
        assert time.monotonic() - started < 5, path
        assert answer.status_code == 422, answer.get_data(as_text=True)
        problem = answer.get_json(force=True)
        assert problem["field"] == "url"
        assert "discovery ran out of time (it stops after 1 s)" in problem["detail"]
