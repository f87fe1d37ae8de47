"""parse_feed: JSON Feed 1.0/1.1 mapped to the entry type the XML path gives,
hostile JSON read as far as it goes or refused in words, XML as before."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any
from urllib.parse import urljoin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.fetcher import Fetcher, FetchSettings
from feedsvc.ingest import IngestSettings, refresh_source
from feedsvc.ingest.parse import (
    Enclosure,
    NotAFeed,
    ParsedEntry,
    ParsedFeed,
    _join,
    parse_feed,
)
from feedsvc.ingest.policy import ScheduleSettings
from feedsvc.models import Post, Source
from feedsvc.sources import add_source
from tests.feedserver import FeedServer, Reply, rss
from tests.url_samples import JOIN_BASES, JOIN_URIS, generated_uris

URL = "https://example.org/blog/feed.json"
JSON_FEED = "application/feed+json"
V1 = "https://jsonfeed.org/version/1"
V11 = "https://jsonfeed.org/version/1.1"


def utc(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, microsecond, tzinfo=dt.UTC)


def parse_json(document: Any, content_type: str | None = JSON_FEED) -> ParsedFeed:
    return parse_feed(json.dumps(document).encode(), URL, content_type)


def feed_with(*items: Any, **fields: Any) -> dict[str, Any]:
    return {"version": V11, "title": "F", "items": list(items), **fields}


# --- JSON Feed 1.1 and 1.0, field by field ----------------------------------------

FEED_1_1 = {
    "version": V11,
    "title": "  Example   Blog ",
    "home_page_url": "/blog/",
    "feed_url": "https://example.org/blog/feed.json",
    "description": "Notes & links",
    "language": "en",
    "authors": [{"name": "Ann Author", "url": "https://example.org/ann"}],
    "items": [
        {
            "id": "tag:example.org,2026:2",
            "url": "/blog/2",
            "title": "Second <post>",
            "content_html": "<p>Hi <b>there</b></p>",
            "content_text": "Hi there",
            "summary": "Short & sweet",
            "date_published": "2026-11-20T08:00:00+01:00",
            "date_modified": "2026-11-21t09:30:00.123456789z",
            "authors": [{"name": "Bob"}, {"url": "mailto:nameless@example.org"}, {"name": "Cy"}],
            "tags": ["python", " feeds  ", "python", ""],
            "attachments": [
                {"url": "/media/2.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 1234,
                 "duration_in_seconds": 60},
                {"url": "https://cdn.example.org/2.ogg", "mime_type": "audio/ogg"},
            ],
            "image": "https://example.org/2.png",
        },
        {
            "id": 17,
            "external_url": "https://elsewhere.example/story",
            "content_text": "Line one\r\nline two\n\n  \nA <second> & last",
        },
    ],
}  # fmt: skip


def test_json_feed_1_1_maps_every_field() -> None:
    parsed = parse_json(FEED_1_1)

    assert parsed.meta.title == "Example Blog"
    assert parsed.meta.link == "https://example.org/blog/"
    assert parsed.meta.description == "Notes & links"
    assert parsed.meta.upstream_id == "https://example.org/blog/feed.json"
    assert parsed.meta.updated is None
    assert parsed.meta.problem is None
    assert parsed.entries == (
        ParsedEntry(
            key="tag:example.org,2026:2",
            title="Second <post>",  # plain text, as the XML path gives it
            link="https://example.org/blog/2",
            author="Bob, Cy",
            published=utc(2026, 11, 20, 7, 0),
            updated=utc(2026, 11, 21, 9, 30, 0, 123456),
            content_html="<p>Hi <b>there</b></p>",  # content_html wins over content_text
            summary_html="Short &amp; sweet",
            tags=("python", "feeds"),
            enclosures=(
                Enclosure("https://example.org/media/2.mp3", "audio/mpeg", 1234),
                Enclosure("https://cdn.example.org/2.ogg", "audio/ogg", 0),
            ),
        ),
        ParsedEntry(
            key="17",  # a number id becomes text
            title="",
            link="https://elsewhere.example/story",  # no url: external_url
            author="Ann Author",  # no authors: the feed's
            published=None,
            updated=None,
            content_html="<p>Line one<br>line two</p><p>A &lt;second&gt; &amp; last</p>",
            summary_html="",
        ),
    )


FEED_1_0 = {
    "version": V1,
    "title": "Old Style",
    "home_page_url": "https://example.org/",
    "author": {"name": "Feed Author"},
    "items": [
        {"url": "https://example.org/no-id", "title": "No id", "summary": "Only a summary",
         "author": {"name": "Item Author"}, "date_published": "2026-01-02T03:04:05Z"},
        {"title": "Neither id nor url", "content_text": "Text"},
        {"tags": ["nothing else"]},
    ],
}  # fmt: skip


def test_json_feed_1_0_author_objects_and_key_fallbacks() -> None:
    parsed = parse_json(FEED_1_0, content_type="application/json")

    assert (parsed.meta.title, parsed.meta.link, parsed.meta.upstream_id) == (
        "Old Style", "https://example.org/", None,
    )  # fmt: skip
    first, second = parsed.entries
    assert first == ParsedEntry(
        key="https://example.org/no-id",  # no id: the url
        title="No id",
        link="https://example.org/no-id",
        author="Item Author",
        published=utc(2026, 1, 2, 3, 4, 5),
        updated=None,
        content_html="<p>Only a summary</p>",  # no content: the summary
        summary_html="Only a summary",
    )
    # No id and no url: a hash of the content, as the XML path keys it.
    assert second.key.startswith("hash:")
    assert (second.link, second.author, second.content_html) == (None, "Feed Author", "<p>Text</p>")
    assert parse_json(FEED_1_0).entries[1].key == second.key
    # The item with nothing to show is dropped, and that is said.
    assert (
        parsed.meta.problem == "the JSON Feed is malformed: item 3 has no id, url, title or content"
    )


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json; charset=utf-8"])
def test_json_feed_is_recognised_by_its_bytes_whatever_the_label(content_type: str | None) -> None:
    body = b"\xef\xbb\xbf \n " + json.dumps(feed_with({"id": "1", "title": "T"})).encode()
    assert parse_feed(body, URL, content_type).entries[0].title == "T"


def test_an_empty_response_labelled_json_is_called_empty() -> None:
    with pytest.raises(NotAFeed, match=r"^not a feed: the response was empty$"):
        parse_feed(b" \r\n\t ", URL, JSON_FEED)


def test_json_feed_version_is_read_loosely() -> None:
    document = feed_with({"id": "1", "title": "T"}, version="HTTPS://JSONFEED.ORG/VERSION/2 ")
    assert parse_json(document).entries[0].key == "1"


# --- documents that are no JSON Feed: NotAFeed, in words --------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        pytest.param(b'{"version": "https://jsonfeed.org/version/1.1", "items": [', JSON_FEED,
                     "not a feed: invalid JSON (Expecting value at line 1, column 59)",
                     id="cut-short"),
        pytest.param(b"hello", "application/json", "not a feed: invalid JSON (Expecting value",
                     id="labelled-json"),
        pytest.param(b'[{"id": "1"}]', JSON_FEED, "the JSON document is a list, not a JSON Feed",
                     id="array"),
        pytest.param(b'"text"', "application/json",
                     "the JSON document is text, not a JSON Feed", id="string"),
        pytest.param(b"null", "application/json", "the JSON document is null, not a JSON Feed",
                     id="null"),
        pytest.param(b'{"name": "an API answer", "items": []}', "application/json",
                     'a JSON document but not a JSON Feed (no "version"; '
                     "a JSON Feed's starts with https://jsonfeed.org/version/)",
                     id="no-version"),
        pytest.param(b'{"version": "1.0", "items": []}', None,
                     "not a JSON Feed (\"version\" '1.0'", id="other-version"),
        pytest.param(b'{"version": 1.1, "items": []}', None,
                     'not a JSON Feed (a "version" that is a number', id="number-version"),
        pytest.param(DEEP, JSON_FEED, "not a feed: the JSON is nested too deeply to read",
                     id="deep"),
        pytest.param(b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + DEEP + b"}",
                     None, "not a feed: the JSON is nested too deeply to read",
                     id="deep-items"),
    ],
)  # fmt: skip
def test_json_that_is_no_feed_is_refused_with_the_reason(
    body: bytes, content_type: str | None, reason: str
) -> None:
    with pytest.raises(NotAFeed) as refused:
        parse_feed(body, URL, content_type)
    assert reason in str(refused.value)
    assert str(refused.value).startswith("not a feed: ")


# --- hostile JSON Feeds: read as far as they go, the problems said ----------------

GOOD_ITEM = {"id": "good", "url": "/good", "title": "Good"}


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (feed_with(GOOD_ITEM, title=42), 'the feed: "title" is a number, not text'),
        ({"version": V11, "items": {"id": "1"}},
         'the feed: "items" is an object, not a list'),
        ({"version": V11, "title": "F"}, 'the feed has no "items"'),
        (feed_with(GOOD_ITEM, "a string item", None, [1]),
         "item 2 is text, not an object; item 3 is null, not an object; "
         "item 4 is a list, not an object"),
        (feed_with(GOOD_ITEM, home_page_url=["/"], description={"text": "x"}),
         'the feed: "home_page_url" is a list, not text; '
         'the feed: "description" is an object, not text'),
        (feed_with(GOOD_ITEM, feed_url="http://[::1"), 'the feed: "feed_url" is not a URL'),
    ],
)  # fmt: skip
def test_feed_level_fields_of_the_wrong_type(document: dict[str, Any], problem: str) -> None:
    parsed = parse_json(document)
    assert parsed.meta.problem == f"the JSON Feed is malformed: {problem}"
    if isinstance(document.get("items"), list):
        assert [e.key for e in parsed.entries] == ["good"]


def bad_item(**fields: Any) -> tuple[ParsedEntry, str | None]:
    parsed = parse_json(feed_with({"id": "x", "title": "Kept", **fields}))
    (entry,) = parsed.entries
    assert entry.title == "Kept" or "title" in fields
    return entry, parsed.meta.problem


def test_item_fields_of_the_wrong_type_are_dropped_one_by_one() -> None:
    entry, problem = bad_item(
        title=7, url=False, content_html=["<p>x</p>"], content_text="fallback text",
        summary=3.5, tags="python", authors="Bob", author={"name": 9},
        date_published=1700000000, attachments={"url": "/a.mp3"},
    )  # fmt: skip
    assert (entry.key, entry.title, entry.link, entry.author) == ("x", "", None, None)
    assert (entry.content_html, entry.summary_html) == ("<p>fallback text</p>", "")
    assert (entry.tags, entry.enclosures, entry.published) == ((), (), None)
    assert problem == (
        'the JSON Feed is malformed: item 1: "url" is true or false, not text; '
        'item 1: "title" is a number, not text; item 1: "summary" is a number, not text; '
        'item 1: "content_html" is a list, not text; '
        'item 1: "authors" is text, not a list (and 4 more)'
    )


@pytest.mark.parametrize(
    ("fields", "expected", "problem"),
    [
        ({"tags": ["ok", 3, None, {"t": 1}]}, {"tags": ("ok",)},
         "item 1: a tag is a number, not text; item 1: a tag is null, not text; "
         "item 1: a tag is an object, not text"),
        ({"authors": [{"name": "A"}, "B", {"name": ["C"]}]}, {"author": "A"},
         "item 1 author 2 is text, not an object; "
         'item 1 author 3: "name" is a list, not text'),
        ({"authors": {"name": "A"}, "author": {"name": "Fallback"}}, {"author": "Fallback"},
         'item 1: "authors" is an object, not a list'),
        ({"date_published": "yesterday", "date_modified": "0001-01-01T00:00:00+05:00"},
         {"published": None, "updated": None},
         "item 1: \"date_published\" is not an RFC 3339 date: 'yesterday'; "
         "item 1: \"date_modified\" is not an RFC 3339 date: '0001-01-01T00:00:00+05:00'"),
        ({"date_published": "2026-11-20"}, {"published": utc(2026, 11, 20)}, None),
        ({"id": True, "url": "https://example.org/i"}, {"key": "https://example.org/i"},
         'item 1: "id" is true or false, not text or a usable number'),
        ({"id": "  ", "url": "http://[::1/a"}, {"key": "hash:", "link": None},
         'item 1: "url" is not a URL'),
        ({"url": "javascript:alert(1)"}, {"link": "javascript:alert(1)"}, None),
    ],
)  # fmt: skip
def test_item_fields_read_as_far_as_they_go(
    fields: dict[str, Any], expected: dict[str, Any], problem: str | None
) -> None:
    entry, found = bad_item(**fields)
    for name, value in expected.items():
        if name == "key" and value == "hash:":
            assert entry.key.startswith("hash:")
        else:
            assert getattr(entry, name) == value, name
    assert found == (f"the JSON Feed is malformed: {problem}" if problem else None)


def test_attachments_with_no_url_or_a_bad_size() -> None:
    attachments = [
        {"mime_type": "audio/mpeg", "size_in_bytes": 10},
        {"url": "", "mime_type": "audio/mpeg"},
        "just a string",
        {"url": "/neg.mp3", "size_in_bytes": -5},
        {"url": "/str.mp3", "size_in_bytes": "1234", "mime_type": 3},
        {"url": "/float.mp3", "size_in_bytes": 12.9},
        {"url": "/big.mp3", "size_in_bytes": 10**30},
        {"url": "/ok.mp3", "mime_type": " audio/mpeg ", "size_in_bytes": 2**40},
    ]
    parsed = parse_json(feed_with({"id": "x", "title": "T", "attachments": attachments}))
    (entry,) = parsed.entries
    base = "https://example.org/"
    assert entry.enclosures == (
        Enclosure(base + "neg.mp3", "", 0),
        Enclosure(base + "str.mp3", "", 0),
        Enclosure(base + "float.mp3", "", 12),
        Enclosure(base + "big.mp3", "", 0),
        Enclosure(base + "ok.mp3", "audio/mpeg", 2**40),
    )
    assert parsed.meta.problem == (
        'the JSON Feed is malformed: item 1 attachment 1 has no "url"; '
        'item 1 attachment 2 has no "url"; item 1 attachment 3 is text, not an object; '
        'item 1 attachment 4: "size_in_bytes" is out of range: -5; '
        'item 1 attachment 5: "mime_type" is a number, not text (and 2 more)'
    )


def test_huge_and_non_finite_numbers() -> None:
    digits = "9" * 5000  # past Python's 4300-digit limit for int()
    template = (
        '{"version": "V11", "title": BIG, "items": [{"id": BIG, "url": "/i", "attachments": ['
        '{"url": "/a", "size_in_bytes": BIG}, {"url": "/b", "size_in_bytes": 1e400},'
        '{"url": "/c", "size_in_bytes": NaN}, {"url": "/d", "size_in_bytes": -Infinity}]},'
        '{"id": 12345678901234567890, "title": "Big id"}, {"id": 1.5, "title": "Float id"}]}'
    )
    body = template.replace("V11", V11).replace("BIG", digits)
    parsed = parse_feed(body.encode(), URL, JSON_FEED)

    first, second, third = parsed.entries
    assert first.key == "https://example.org/i"  # an id too big to use: the url
    assert [e.length for e in first.enclosures] == [0, 0, 0, 0]
    assert (second.key, third.key) == ("12345678901234567890", "1.5")
    assert parsed.meta.problem is not None
    assert parsed.meta.problem.startswith(
        'the JSON Feed is malformed: the feed: "title" is a number, not text; '
        'item 1: "id" is a number, not text or a usable number; '
        'item 1 attachment 1: "size_in_bytes" is out of range: inf'
    )


def test_invalid_utf8_is_replaced_and_said() -> None:
    body = json.dumps(feed_with({"id": "1", "title": "Caf\u00e9 X"})).encode()
    body = body.replace(b"X", b"\xff\xfe")
    parsed = parse_feed(body, URL, JSON_FEED)
    assert parsed.entries[0].title == "Caf\u00e9 \ufffd\ufffd"
    assert parsed.meta.problem == (
        "the JSON Feed is malformed: the JSON is not valid UTF-8; the bad bytes were replaced"
    )


def test_many_problems_are_counted_not_all_listed() -> None:
    parsed = parse_json(feed_with(*(["junk"] * 1000), GOOD_ITEM))
    assert [e.key for e in parsed.entries] == ["good"]
    assert parsed.meta.problem is not None
    assert parsed.meta.problem.endswith("item 5 is text, not an object (and 995 more)")


WRONG_VALUES = [None, True, 0, -1, 1.5, 1e308, "", "x", "javascript:alert(1)", [], [1, "a"],
                {}, {"name": 1, "url": 2}]  # fmt: skip


def paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside a JSON value, by key or index."""
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    found = [path] if path else []
    for key, child in children:
        found += paths(child, (*path, key))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def test_every_field_of_the_wrong_type_parses_or_is_refused() -> None:
    """Each field of the 1.1 sample, in turn, set to each kind of wrong value."""
    for path in paths(FEED_1_1):
        for value in WRONG_VALUES:
            try:
                parsed = parse_json(replaced(FEED_1_1, path, value))
            except NotAFeed as refused:  # only a bad version may refuse the feed
                assert path == ("version",), (path, value, refused)
                continue
            assert path != ("version",)
            if parsed.meta.problem is None and path != ("items",):  # nothing said, nothing lost
                assert len(parsed.entries) == 2, (path, value)


JSON_FEED_KEYS = ["version", "title", "home_page_url", "feed_url", "description", "items", "id",
                  "url", "external_url", "content_html", "content_text", "summary",
                  "date_published", "date_modified", "authors", "author", "name", "tags",
                  "attachments", "mime_type", "size_in_bytes"]  # fmt: skip
json_keys = st.sampled_from(JSON_FEED_KEYS) | st.text(max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(JSON_FEED_KEYS), children, max_size=4)
    ),  # type: ignore[index]
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(items=st.lists(json_values, max_size=4), extra=st.dictionaries(json_keys, json_values))
def test_arbitrary_json_never_raises_anything_but_not_a_feed(
    items: list[Any], extra: dict[str, Any]
) -> None:
    # With a good version, whatever else is there, the feed is read as far as it goes.
    parsed = parse_json({**extra, "version": V11, "items": items})
    assert len(parsed.entries) <= len(items)
    # Without one, the answer is NotAFeed and nothing else.
    for document in (items, extra):
        with contextlib.suppress(NotAFeed):
            parse_json(document)


# --- XML, as before ---------------------------------------------------------------


def test_rss_still_parses_even_labelled_json() -> None:
    body = rss("Upstream", [{"guid": "urn:g1", "title": "One", "link": "/1", "description": "B"}])
    for content_type in ("application/rss+xml", "text/xml", "application/json"):
        parsed = parse_feed(body, "http://example.org/feed.xml", content_type)
        assert (parsed.meta.title, parsed.meta.link) == ("Upstream", "http://example.org/")
        (entry,) = parsed.entries
        assert (entry.key, entry.title, entry.link) == ("urn:g1", "One", "http://example.org/1")


def test_xml_links_that_are_no_urls_are_dropped_not_raised() -> None:
    body = (
        b'<rss version="2.0"><channel><title>T</title><link>http://[::1</link>'
        b"<item><guid>urn:g</guid><title>x</title><link>http://[::1/a</link>"
        b'<enclosure url="http://[zz" type="audio/mpeg"/>'
        b'<enclosure url="/ok.mp3" type="audio/mpeg" length="5"/></item></channel></rss>'
    )
    (entry,) = parse_feed(body, "http://example.org/feed.xml").entries
    assert (entry.key, entry.link) == ("urn:g", None)
    assert entry.enclosures == (Enclosure("http://example.org/ok.mp3", "audio/mpeg", 5),)


def _urljoin_or_none(base: str, href: str) -> str | None:
    try:
        return urljoin(base, href)
    except ValueError:
        return None


@pytest.mark.parametrize("base", JOIN_BASES)
def test_links_join_as_urljoin_joins_them(base: str) -> None:
    # _join skips urljoin for links and ids that are their own join
    for href in JOIN_URIS + generated_uris(10_000):
        assert _join(base, href) == _urljoin_or_none(base, href), (base, href)


def test_html_page_is_still_no_feed() -> None:
    with pytest.raises(NotAFeed, match="the server sent an HTML page"):
        parse_feed(b"<!doctype html><html><body>hi</body></html>", URL, "text/html")


# --- end to end: a JSON Feed upstream is stored ------------------------------------


def test_json_feed_upstream_is_refreshed_and_stored(db: Database, feed_server: FeedServer) -> None:
    now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
    feed_server.routes["/feed.json"] = Reply(
        200, json.dumps(FEED_1_1).encode(), {"Content-Type": JSON_FEED}
    )
    with db.session() as session:
        source_id = add_source(session, feed_server.url("/feed.json"), now).id
    settings = IngestSettings(schedule=ScheduleSettings(min_interval=300, max_backoff=86400))
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as fetcher:
        refresh_source(db, source_id, fetcher=fetcher, now=now, settings=settings, jitter=0.5)

    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        assert (source.title, source.last_error) == ("Example Blog", None)
        stored = {p.entry_key: p for p in session.scalars(select(Post))}
    assert set(stored) == {"tag:example.org,2026:2", "17"}
    second = stored["tag:example.org,2026:2"]
    # Relative URLs resolve against the address the feed was fetched from.
    assert (second.link, second.author) == (feed_server.url("/blog/2"), "Bob, Cy")
    assert second.enclosures[0]["url"] == feed_server.url("/media/2.mp3")
