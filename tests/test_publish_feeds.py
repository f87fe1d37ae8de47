"""Every feed kind in every format: valid, stable, paged, Blogger-compatible."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import pytest
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from feedsvc import changes
from feedsvc.db import Database
from feedsvc.models import Post
from feedsvc.posts import create_local_post
from tests.feedserver import rss
from tests.ingesting import store_feed
from tests.publish_helpers import (
    ATOM_NS,
    NOW,
    TRICKY_ITEMS,
    UPSTREAM_URL,
    add_tricky_posts,
    check_feed,
)

FORMATS = ("atom", "rss", "json")
KINDS = (
    "/feeds/posts",
    "/feeds/summary",
    "/feeds/popular",
    "/feeds/sources/1",
    "/feeds/tags/python",
)
CONTENT_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


@pytest.fixture
def tricky(db: Database) -> Database:
    add_tricky_posts(db)
    return db


def entry_ids(fmt: str, parsed: object) -> list[str]:
    if fmt == "json":
        return [item["id"] for item in parsed["items"]]  # type: ignore[index]
    return [entry.id for entry in parsed.entries]  # type: ignore[attr-defined]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", KINDS)
def test_every_feed_is_valid(client: FlaskClient, tricky: Database, path: str, fmt: str) -> None:
    response = client.get(f"{path}.{fmt}")
    assert response.status_code == 200
    assert response.content_type == CONTENT_TYPES[fmt]
    parsed = check_feed(fmt, response.data)
    expected = {"/feeds/sources/1": 3, "/feeds/tags/python": 2}.get(path, 5)
    assert len(entry_ids(fmt, parsed)) == expected


def test_tricky_content_survives_intact(client: FlaskClient, tricky: Database) -> None:
    atom = check_feed("atom", client.get("/feeds/posts.atom").data)
    # A title that reads like markup ("&copy;") comes as escaped HTML: its text
    # is the same.
    by_title = {text_of(entry.title_detail): entry for entry in atom.entries}
    cdata = by_title["Ends with ]]> and & entities"]
    assert cdata.title_detail.type == "text/plain"
    # The text "a]]>b", as sanitized HTML writes it.
    assert "a]]&gt;b" in cdata.content[0].value
    assert "&amp;copy;" in cdata.content[0].value
    rtl = by_title["No date at all, emoji 🎉 and עברית"]
    assert "שלום עולם 🎉" in rtl.content[0].value
    long_title = next(title for title in by_title if title.startswith("Long"))
    assert "\x01" not in long_title and len(long_title) > 500
    local = by_title[long_title]
    assert "&copy;" in long_title and local.title_detail.type == "text/html"
    assert "]]&gt;" in local.content[0].value and "\x02" not in local.content[0].value

    document = check_feed("json", client.get("/feeds/posts.json").data)
    json_titles = {item["title"] for item in document["items"]}
    assert json_titles == set(by_title)


def text_of(detail: Any) -> str:
    return html.unescape(detail.value) if detail.type == "text/html" else str(detail.value)


def test_summary_feed_has_summaries_and_links_not_content(
    client: FlaskClient, tricky: Database
) -> None:
    summary = check_feed("atom", client.get("/feeds/summary.atom").data)
    for entry in summary.entries:
        assert "content" not in entry
        assert entry.link.startswith("http://feeds.test/posts/")
    document = check_feed("json", client.get("/feeds/summary.json").data)
    assert all("content_html" not in item for item in document["items"])


def test_republished_entries_carry_their_origin(client: FlaskClient, tricky: Database) -> None:
    root = etree.fromstring(client.get("/feeds/sources/1.atom").data)
    for entry in root.iter(ATOM_NS + "entry"):
        source = entry.find(ATOM_NS + "source")
        assert source is not None
        assert source.findtext(ATOM_NS + "title") == "Upstream & Co"
        links = {link.get("rel"): link.get("href") for link in source.iter(ATOM_NS + "link")}
        assert links["self"] == UPSTREAM_URL
        # An RSS upstream has no id nor updated of its own: its address and last fetch stand in.
        assert source.findtext(ATOM_NS + "id") == UPSTREAM_URL
        assert source.findtext(ATOM_NS + "updated") == "2026-11-24T12:00:00Z"
        via = [
            link.get("href") for link in entry.iter(ATOM_NS + "link") if link.get("rel") == "via"
        ]
        assert via and via[0].startswith("http://upstream.example/")
    channel = etree.fromstring(client.get("/feeds/sources/1.rss").data).find("channel")
    assert channel is not None
    for item in channel.iter("item"):
        source = item.find("source")
        assert source is not None and source.get("url") == UPSTREAM_URL


def test_feed_level_links_and_metadata(client: FlaskClient, tricky: Database) -> None:
    atom = check_feed("atom", client.get("/feeds/tags/python.atom?limit=1").data)
    links = {link.rel: link.href for link in atom.feed.links}
    assert links["self"] == "http://feeds.test/feeds/tags/python.atom?limit=1"
    assert links["alternate"] == "http://feeds.test/tags/python"
    assert atom.feed.title.startswith("Python")
    assert atom.feed.generator == "feedsvc"
    popular = check_feed("atom", client.get("/feeds/popular.atom?window=30d").data)
    popular_links = {link.rel: link.href for link in popular.feed.links}
    assert popular_links["self"] == "http://feeds.test/feeds/popular.atom?window=30d"
    assert popular_links["alternate"] == "http://feeds.test/popular?window=30d"


@pytest.mark.parametrize(
    "address",
    [
        "/feeds/popular.atom",
        "/feeds/popular.rss",
        "/feeds/posts/default?published-min=2026-11-20T00:00:00Z",
        "/feeds/posts/default?updated-min=2026-11-20T00:00:00Z&alt=rss",
    ],
)
def test_self_link_is_the_address_asked_for(
    client: FlaskClient, tricky: Database, address: str
) -> None:
    """The W3C validator's SelfDoesntMatchLocation: the common addresses name
    themselves as typed (no default window added, colons not escaped)."""
    fmt = "rss" if "rss" in address else "atom"
    parsed = check_feed(fmt, client.get(address).data)
    selfs = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert selfs == ["http://feeds.test" + address]


def test_entry_ids_never_change_with_the_title(client: FlaskClient, tricky: Database) -> None:
    before = check_feed("atom", client.get("/feeds/sources/1.atom").data)
    ids = {entry.link: entry.id for entry in before.entries}
    renamed = [{**item, "title": "Renamed " + item["guid"]} for item in TRICKY_ITEMS]
    later = NOW + dt.timedelta(hours=1)
    store_feed(tricky, 1, rss("U", renamed), later)
    after = check_feed("atom", client.get("/feeds/sources/1.atom").data)
    assert all(entry.title.startswith("Renamed") for entry in after.entries)
    assert {entry.link.split("-")[0]: entry.id for entry in after.entries} == {
        link.split("-")[0]: entry_id for link, entry_id in ids.items()
    }
    # The same post has the same id in every format and every feed.
    rss_ids = {entry.id for entry in check_feed("rss", client.get("/feeds/posts.rss").data).entries}
    assert set(ids.values()) <= rss_ids


def add_local_posts(
    db: Database, count: int, tags: tuple[str, ...] = (), start: int = 0
) -> list[int]:
    """Posts "Post <start>", "Post <start+1>" … each a minute older than the last."""
    with db.session() as session:
        ids = [
            create_local_post(
                session, title=f"Post {n}", body_html=f"<p>Body {n}</p>",
                now=NOW - dt.timedelta(minutes=n), summary_length=300, tags=tags,
            ).id
            for n in range(start, start + count)
        ]  # fmt: skip
    return ids


@pytest.mark.parametrize("fmt", FORMATS)
def test_paging_walks_the_whole_archive(client: FlaskClient, db: Database, fmt: str) -> None:
    # Equal publication times on purpose: the order must still be total.
    created = add_local_posts(db, 47)
    with db.session() as session:
        session.get(Post, created[5]).published_at = session.get(Post, created[6]).published_at  # type: ignore[union-attr]
    seen: list[str] = []
    url: str | None = f"/feeds/posts.{fmt}?limit=10"
    pages = 0
    while url:
        response = client.get(url.removeprefix("http://feeds.test"))
        assert response.status_code == 200
        parsed = check_feed(fmt, response.data)
        seen += entry_ids(fmt, parsed)
        pages += 1
        if fmt == "json":
            url = parsed.get("next_url")
        else:
            links = {link.rel: link.href for link in parsed.feed.links}
            url = links.get("next")
            assert links["first"] == f"http://feeds.test/feeds/posts.{fmt}?limit=10"
            assert links["last"] == f"http://feeds.test/feeds/posts.{fmt}?page=last&limit=10"
            if pages > 1:
                assert links["previous"].endswith(f"page={pages - 1}&limit=10") or (
                    pages == 2 and links["previous"].endswith(f"{fmt}?limit=10")
                )
    assert pages == 5
    assert len(seen) == 47 == len(set(seen))
    # The last page is the one the walk ended on.
    last = check_feed(fmt, client.get(f"/feeds/posts.{fmt}?page=last&limit=10").data)
    assert entry_ids(fmt, last) == seen[40:]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("limit=0", "limit must be between 1 and 100"),
        ("limit=-3", "limit must be between 1 and 100"),
        ("limit=101", "limit must be between 1 and 100"),
        ("limit=ten", "limit must be a whole number"),
        ("page=0", "page must be between 1"),
        ("page=1.5", "page must be a whole number"),
    ],
)
def test_bad_parameters_are_refused_with_the_reason(
    client: FlaskClient, db: Database, query: str, reason: str
) -> None:
    response = client.get(f"/feeds/posts.atom?{query}")
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)


def test_missing_feeds_and_pages_are_404(client: FlaskClient, tricky: Database) -> None:
    assert client.get("/feeds/posts.xml").status_code == 404
    assert client.get("/feeds/sources/99.atom").status_code == 404
    assert client.get("/feeds/tags/nope.rss").status_code == 404
    assert client.get("/feeds/posts.atom?page=9").status_code == 404
    assert client.get("/feeds/popular.atom?window=1y").status_code == 400


def test_blogger_addresses(client: FlaskClient, db: Database) -> None:
    add_local_posts(db, 30, tags=("Travel Notes",))
    add_local_posts(db, 2, start=30)
    default = client.get("/feeds/posts/default")
    assert default.content_type == CONTENT_TYPES["atom"]
    assert len(check_feed("atom", default.data).entries) == 25
    assert client.get("/feeds/posts/default?alt=rss").content_type == CONTENT_TYPES["rss"]
    # alt=json is Blogger's own JSON shape (tests/test_blogger_json.py); JSON Feed is at .json.
    document = client.get("/feeds/posts/default?alt=json").get_json()
    assert len(document["feed"]["entry"]) == 25

    paged = check_feed(
        "atom", client.get("/feeds/posts/default?start-index=11&max-results=10").data
    )
    assert next(entry.title for entry in paged.entries) == "Post 10"
    links = {link.rel: link.href for link in paged.feed.links}
    assert links["next"] == "http://feeds.test/feeds/posts/default?start-index=21&max-results=10"
    assert links["previous"] == "http://feeds.test/feeds/posts/default?max-results=10"
    # Like Blogger, a too-large max-results is clamped to the cap.
    assert (
        len(check_feed("atom", client.get("/feeds/posts/default?max-results=500").data).entries)
        == 32
    )

    label = check_feed("atom", client.get("/feeds/posts/default/-/Travel%20Notes").data)
    assert len(label.entries) == 25 and all(
        "Travel Notes" in [t.term for t in e.tags] for e in label.entries
    )
    summary = check_feed("atom", client.get("/feeds/posts/summary").data)
    assert all("content" not in entry for entry in summary.entries)

    assert client.get("/feeds/posts/default?alt=xml").status_code == 400
    assert client.get("/feeds/posts/default?start-index=3&max-results=10").status_code == 400
    assert client.get("/feeds/posts/default?max-results=x").status_code == 400


def test_hidden_posts_are_never_published(client: FlaskClient, tricky: Database) -> None:
    with tricky.session() as session:
        post = session.scalars(select(Post).where(Post.title == "Plain local post")).one()
        post.hidden = True
        changes.note_changes(session, NOW)
    for fmt in FORMATS:
        assert b"Plain local post" not in client.get(f"/feeds/posts.{fmt}").data
