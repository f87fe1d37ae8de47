"""The public search page, the search box, search feeds and `q` on every feed
of posts, Blogger's parameters and addresses, and author pages and feeds."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedsvc.db import Database
from feedsvc.models import Post
from feedsvc.posts import create_local_post, set_visibility
from tests.publish_helpers import check_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
ATOM = "{http://www.w3.org/2005/Atom}"


def _post(db: Database, title: str, when: dt.datetime, **extra: object) -> int:
    with db.session() as session:
        post = create_local_post(
            session,
            title=title,
            body_html=f"<p>{title} body.</p>",
            now=when,
            summary_length=200,
            **extra,
        )  # type: ignore[arg-type]
        return post.id


@pytest.fixture
def dated(db: Database) -> dict[str, int]:
    """Posts with known dates: published on the 1st, 10th and 20th of November;
    the first also updated on the 25th."""
    ids = {
        "nov1": _post(db, "Heron sighting one", dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                      author="Ann Lee", tags=["birds"]),
        "nov10": _post(db, "Heron sighting two", dt.datetime(2026, 11, 10, tzinfo=dt.UTC),
                       author="Bob Roe", tags=["birds"]),
        "nov20": _post(db, "Swallow sighting", dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
                       author="Ann Lee"),
    }  # fmt: skip
    with db.session() as session:
        post = session.get(Post, ids["nov1"])
        post.updated_at = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    return ids


def _titles(client: FlaskClient, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.data[:300])
    root = etree.fromstring(response.data)
    return [e.findtext(ATOM + "title") for e in root.findall(ATOM + "entry")]


def test_search_page_ranks_marks_and_pages(client: FlaskClient, db: Database) -> None:
    for n in range(3):
        _post(db, f"Heron {n}", NOW - dt.timedelta(hours=n))
    _post(db, "Nothing alike", NOW)
    page = client.get("/search?q=heron")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('class="listed"') == 3
    assert "<mark>Heron</mark> 0" in html
    assert 'href="/feeds/search.atom?q=heron"' in html  # subscribe to the search


def test_search_page_paging_keeps_the_query(app, client: FlaskClient, db: Database) -> None:  # type: ignore[no-untyped-def]
    size = app.extensions["feedsvc.settings"].site.page_size
    for n in range(size + 1):
        _post(db, f"Egret {n}", NOW - dt.timedelta(minutes=n))
    first = client.get("/search?q=egret").get_data(as_text=True)
    assert 'href="/search?page=2&amp;q=egret"' in first
    second = client.get("/search?page=2&q=egret").get_data(as_text=True)
    assert second.count('class="listed"') == 1
    assert client.get("/search?page=3&q=egret").status_code == 404
    assert client.get("/search?page=x&q=egret").status_code == 400


def test_every_page_has_a_get_search_box(client: FlaskClient, db: Database) -> None:
    post_id = _post(db, "Anything", NOW)
    for url in ("/", "/popular", f"/posts/{post_id}", "/search"):
        html = client.get(url, follow_redirects=True).get_data(as_text=True)
        assert '<form class="site-search" role="search" method="get" action="/search">' in html
        assert 'name="q"' in html


def test_hidden_posts_are_not_found_by_page_or_feed(client: FlaskClient, db: Database) -> None:
    hidden = _post(db, "Secret kingfisher", NOW)
    with db.session() as session:
        set_visibility(session, session.get(Post, hidden), NOW, hidden=True)
    assert "No posts match" in client.get("/search?q=kingfisher").get_data(as_text=True)
    assert _titles(client, "/feeds/search.atom?q=kingfisher") == []
    assert _titles(client, "/feeds/posts.atom?q=kingfisher") == []


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_search_feeds_are_valid(client: FlaskClient, db: Database, dated: dict[str, int],
                                fmt: str) -> None:  # fmt: skip
    response = client.get(f"/feeds/search.{fmt}?q=heron")
    assert response.status_code == 200
    parsed = check_feed(fmt, response.data)
    if fmt == "json":
        assert [item["title"] for item in parsed["items"]] == ["Heron sighting two",
                                                               "Heron sighting one"]  # fmt: skip
        assert parsed["feed_url"] == "http://feeds.test/feeds/search.json?q=heron"
    else:
        assert [e.title for e in parsed.entries] == ["Heron sighting two", "Heron sighting one"]


def test_a_search_feed_needs_a_query(client: FlaskClient) -> None:
    response = client.get("/feeds/search.atom")
    assert response.status_code == 400
    assert b"q" in response.data


def test_q_narrows_every_feed_of_posts(client: FlaskClient, dated: dict[str, int]) -> None:
    assert _titles(client, "/feeds/posts.atom?q=heron") == ["Heron sighting two",
                                                            "Heron sighting one"]  # fmt: skip
    assert _titles(client, "/feeds/summary.atom?q=swallow") == ["Swallow sighting"]
    assert _titles(client, "/feeds/tags/birds.atom?q=two") == ["Heron sighting two"]
    assert _titles(client, "/feeds/authors/ann-lee.atom?q=heron") == ["Heron sighting one"]
    assert client.get("/feeds/popular.atom?q=heron").status_code == 400
    root = etree.fromstring(client.get("/feeds/posts.atom?q=heron").data)
    assert root.findtext(ATOM + "id") == "http://feeds.test/feeds/posts?q=heron"
    assert "heron" in root.findtext(ATOM + "title")


def test_blogger_date_parameters(client: FlaskClient, dated: dict[str, int]) -> None:
    base = "/feeds/posts/default?alt=atom&"
    assert _titles(client, base + "published-min=2026-11-10T00:00:00Z") == [
        "Swallow sighting", "Heron sighting two"]  # fmt: skip
    # The max is exclusive, as Blogger's.
    assert _titles(client, base + "published-max=2026-11-10T00:00:00Z") == ["Heron sighting one"]
    assert _titles(client, base + "published-min=2026-11-05&published-max=2026-11-15") == [
        "Heron sighting two"]  # fmt: skip
    assert _titles(client, base + "updated-min=2026-11-21T00:00:00%2B01:00") == [
        "Heron sighting one"]  # fmt: skip
    assert _titles(client, "/feeds/posts.atom?orderby=updated") == [
        "Heron sighting one", "Swallow sighting", "Heron sighting two"]  # fmt: skip
    assert _titles(client, "/feeds/posts/summary/-/birds?q=heron&published-min=2026-11-05") == [
        "Heron sighting two"]  # fmt: skip
    for bad in (
        "published-min=yesterday",
        "updated-max=2026-13-01",
        "orderby=title",
        "published-min=" + "9" * 5000,
        "updated-min=0001-01-01",
    ):
        response = client.get("/feeds/posts/default?" + bad)
        assert response.status_code == 400, bad
        assert response.data.strip()


def test_next_links_carry_the_narrowing(client: FlaskClient, dated: dict[str, int]) -> None:
    root = etree.fromstring(client.get("/feeds/posts/default?q=sighting&max-results=1").data)
    links = {link.get("rel"): link.get("href") for link in root.findall(ATOM + "link")}
    assert links["next"] == ("http://feeds.test/feeds/posts/default?q=sighting"
                             "&start-index=2&max-results=1")  # fmt: skip


def test_blogger_search_addresses(client: FlaskClient, dated: dict[str, int]) -> None:
    assert "<mark>Heron</mark> sighting two" in client.get("/search?q=heron").get_data(as_text=True)
    moved = client.get("/search/label/Birds")
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith("/tags/birds")
    assert client.get("/search/label/%E2%9C%93").status_code == 404


def test_author_pages_and_feeds(client: FlaskClient, dated: dict[str, int]) -> None:
    html = client.get("/authors/ann-lee").get_data(as_text=True)
    assert "Posts by Ann Lee" in html
    assert html.count('class="listed"') == 2
    assert 'href="/authors/ann-lee" rel="author"' in html
    assert client.get("/authors/nobody").status_code == 404
    for fmt in ("atom", "rss", "json"):
        response = client.get(f"/feeds/authors/bob-roe.{fmt}")
        assert response.status_code == 200
        check_feed(fmt, response.data)
    assert _titles(client, "/feeds/authors/ann-lee.atom") == ["Swallow sighting",
                                                              "Heron sighting one"]  # fmt: skip
    assert client.get("/feeds/authors/nobody.atom").status_code == 404


def test_authors_without_ascii_names_get_pages_of_their_own(client: FlaskClient,
                                                            db: Database) -> None:  # fmt: skip
    _post(db, "One", NOW, author="王小明")
    _post(db, "Two", NOW, author="李华")
    with db.session() as session:
        slugs = {post.author: post.author_slug for post in session.query(Post)}
    assert len(set(slugs.values())) == 2
    html = client.get(f"/authors/{quote(slugs['王小明'])}").get_data(as_text=True)
    assert "Posts by 王小明" in html and ">One<" in html and ">Two<" not in html


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(typed=st.one_of(st.text(max_size=80), st.sampled_from(['"', "-", "a\x00b", "x" * 10_000,
                                                              "OR OR", "NEAR(", "*"])))  # fmt: skip
def test_no_query_is_a_server_error(client: FlaskClient, typed: str) -> None:
    q = quote(typed)
    for url in (f"/search?q={q}", f"/feeds/search.atom?q={q}", f"/feeds/posts.rss?q={q}",
                f"/feeds/posts/default?q={q}&alt=json"):  # fmt: skip
        assert client.get(url).status_code < 500, url


def test_bloggers_older_posts_address_lists_posts_between_dates(
    client: FlaskClient, dated: dict[str, int]
) -> None:
    html = client.get("/search?updated-max=2026-11-21T00:00:00Z").get_data(as_text=True)
    assert "Swallow sighting" in html and "Heron sighting two" in html
    assert "Heron sighting one" not in html  # updated on the 25th
    assert client.get("/search?published-min=2026-12-01").get_data(as_text=True).count(
        'class="listed"') == 0  # fmt: skip
    bad = client.get("/search?updated-max=soon")
    assert bad.status_code == 400 and "updated-max" in bad.get_data(as_text=True)
