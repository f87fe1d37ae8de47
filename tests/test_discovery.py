"""Finding the feed behind a site's address, on pages served on 127.0.0.1."""

from __future__ import annotations

import pytest

from feedsvc.discovery import DiscoveryError, discover, preview
from feedsvc.ingest.fetch import Fetcher, FetchSettings
from tests.feedserver import ATOM_TYPE, RSS_TYPE, FeedServer, Reply, rss

HTML = {"Content-Type": "text/html; charset=utf-8"}
ITEMS = [{"guid": f"g{i}", "title": f"Entry {i}", "link": f"http://example.org/{i}",
          "pubDate": f"Mon, 0{i} Nov 2026 10:00:00 GMT"} for i in range(1, 8)]  # fmt: skip


def page(head: str, title: str = "A blog") -> Reply:
    return Reply(200, f"<!doctype html><html><head><title>{title}</title>{head}</head>"
                      "<body>hello</body></html>".encode(), HTML)  # fmt: skip


@pytest.fixture
def fetcher() -> Fetcher:
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
    candidates, shown = discover(fetcher, feed_server.url("/blog/"))
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
    candidates, shown = discover(fetcher, feed_server.url("/"))
    assert [c.url for c in candidates] == [feed_server.url("/sub/a.xml")]
    # A page naming one feed comes with that feed's preview: nothing to choose.
    assert shown is not None and shown.title == "Sub" and shown.feed_url == candidates[0].url


def test_a_page_naming_one_feed_that_fails_says_why(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.routes["/"] = page('<link rel="alternate" type="application/rss+xml" '
                                   'href="/gone.xml">')  # fmt: skip
    with pytest.raises(DiscoveryError, match=r"gone\.xml: the server answered HTTP 404"):
        discover(fetcher, feed_server.url("/"))


def test_a_feed_url_is_its_own_only_candidate_with_a_preview(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.routes["/feed.xml"] = Reply(200, rss("My feed", ITEMS), RSS_TYPE)
    candidates, shown = discover(fetcher, feed_server.url("/feed.xml"))
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
    candidates, shown = discover(fetcher, feed_server.url("/"))
    assert [c.url for c in candidates] == [feed_server.url("/atom.xml")]
    assert shown is not None and shown.title == "Found"


def test_a_page_with_no_feed_anywhere_says_what_it_found(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.routes["/"] = page("", title="Just a page")
    with pytest.raises(DiscoveryError) as error:
        discover(fetcher, feed_server.url("/"))
    assert error.value.kind == "not_a_feed"
    assert "Just a page" in str(error.value) and "names no feed" in str(error.value)


def test_something_neither_feed_nor_page(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.routes["/x.png"] = Reply(200, b"\x89PNG....", {"Content-Type": "image/png"})
    with pytest.raises(DiscoveryError, match="neither a feed nor a web page"):
        discover(fetcher, feed_server.url("/x.png"))
    with pytest.raises(DiscoveryError, match="is not a feed"):
        preview(fetcher, feed_server.url("/x.png"))


def test_unreachable_and_refused_addresses(feed_server: FeedServer) -> None:
    with (
        Fetcher(FetchSettings(timeout=5, allow_private=True)) as open_fetcher,
        pytest.raises(DiscoveryError) as missing,
    ):
        discover(open_fetcher, feed_server.url("/nothing-here"))
    assert missing.value.kind == "unreachable" and "404" in str(missing.value)
    with Fetcher(FetchSettings(timeout=5)) as guarded, pytest.raises(DiscoveryError) as refused:
        discover(guarded, feed_server.url("/"))
    assert refused.value.kind == "refused"
    assert feed_server.hits("/") == []  # refused before connecting
