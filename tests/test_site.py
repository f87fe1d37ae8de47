"""The public pages, server side: content, head, validators and safety headers."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree

import pytest
from flask.testing import FlaskClient

from feedsvc import images
from feedsvc.db import Database
from feedsvc.models import Post, Source
from feedsvc.posts import create_local_post
from feedsvc.sources import add_source
from feedsvc.vocabulary import PostMode
from tests.feedserver import rss
from tests.ingesting import store_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
HOSTILE = (
    '<p>Hello <img src="http://img.example/a.png" onerror="alert(1)">'
    '<script>alert(2)</script><a href="javascript:alert(3)">click</a>'
    '<svg onload="alert(4)"></svg><style>body{display:none}</style></p>'
)


@pytest.fixture
def site(db: Database) -> dict[str, int]:
    """A source with two posts (one hostile, one tagged), and a local post."""
    items = [
        {"guid": "h", "title": "Hostile post", "link": "http://up.example/h",
         "description": HOSTILE.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"),
         "pubDate": "Mon, 23 Nov 2026 09:00:00 GMT"},
        {"guid": "t", "title": "Tagged post", "link": "http://up.example/t",
         "description": "Plain words.", "pubDate": "Sun, 22 Nov 2026 09:00:00 GMT",
         "category": "Python"},
    ]  # fmt: skip
    with db.session() as session:
        source = add_source(session, "http://up.example/feed.xml", NOW, title="Upstream Blog")
        source.site_url = "http://up.example/"
    store_feed(db, source.id, rss("Upstream Blog", items), NOW)
    with db.session() as session:
        local = create_local_post(session, title="Our own post", body_html="<p>Ours.</p>",
                                  now=NOW, summary_length=300)  # fmt: skip
        ids = {post.title: post.id for post in session.query(Post)}
        return {"source": source.id, "local": local.id, **ids}


def test_index_lists_posts_with_summary_source_and_paging(
    client: FlaskClient, site: dict[str, int], db: Database
) -> None:
    html = client.get("/").get_data(as_text=True)
    for title in ("Our own post", "Hostile post", "Tagged post"):
        assert title in html
    assert 'from <a href="/sources/' in html and "Read more" in html
    assert '<link rel="canonical" href="http://feeds.test/">' in html
    with db.session() as session:
        for n in range(25):
            later = NOW + dt.timedelta(minutes=n + 1)
            create_local_post(session, title=f"Filler {n}", body_html="<p>x</p>", now=later,
                              summary_length=300)  # fmt: skip
    first = client.get("/").get_data(as_text=True)
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = client.get("/?page=2").get_data(as_text=True)
    assert 'rel="prev"' in second and "Tagged post" in second
    assert client.get("/?page=9").status_code == 404


def test_post_page_shows_everything_and_redirects_a_wrong_slug(
    client: FlaskClient, site: dict[str, int]
) -> None:
    post_id = site["Tagged post"]
    wrong = client.get(f"/posts/{post_id}-not-the-slug")
    assert wrong.status_code == 301 and wrong.headers["Location"] == f"/posts/{post_id}-tagged-post"
    html = client.get(f"/posts/{post_id}-tagged-post").get_data(as_text=True)
    assert "<title>Tagged post · Test Feeds</title>" in html
    assert 'href="http://up.example/t"' in html  # the original
    assert 'href="/tags/python"' in html and 'href="/sources/1"' in html
    assert 'rel="prev"' not in html or 'rel="next"' in html
    assert 'property="og:title" content="Tagged post · Test Feeds"' in html
    # Autodiscovery: the site's feeds, the source's and the tag's, in three formats.
    for path in ("/feeds/posts", "/feeds/sources/1", "/feeds/tags/python"):
        for fmt, kind in (("atom", "application/atom+xml"), ("rss", "application/rss+xml"),
                          ("json", "application/feed+json")):  # fmt: skip
            assert f'type="{kind}"' in html and f'href="{path}.{fmt}"' in html
    assert client.get("/posts/999").status_code == 404
    assert "Not found" in client.get("/posts/999-nope").get_data(as_text=True)


def test_post_image_becomes_the_card_image(client: FlaskClient, site: dict[str, int]) -> None:
    html = client.get(f"/posts/{site['Hostile post']}-hostile-post").get_data(as_text=True)
    assert '<meta property="og:image" content="http://img.example/a.png">' in html
    assert 'name="twitter:card" content="summary_large_image"' in html


def test_hostile_upstream_html_is_inert(client: FlaskClient, site: dict[str, int]) -> None:
    html = client.get(f"/posts/{site['Hostile post']}-hostile-post").get_data(as_text=True)
    body = html.split('<div class="content">', 1)[1].split("</div>", 1)[0]
    for bad in ("<script", "onerror", "javascript:", "onload", "<style", "alert("):
        assert bad not in body
    # The picture is kept, through the image proxy.
    token = images.sign("http://img.example/a.png", "testing")
    assert f'src="/img/{token}"' in body


def test_summary_mode_sources_show_the_summary_and_link_out(
    client: FlaskClient, site: dict[str, int], db: Database
) -> None:
    with db.session() as session:
        session.get(Source, site["source"]).mode = PostMode.SUMMARY  # type: ignore[union-attr]
    html = client.get(f"/posts/{site['Tagged post']}-tagged-post").get_data(as_text=True)
    assert '<div class="content">' not in html
    assert "Read it at Upstream Blog" in html


def test_source_and_tag_pages(client: FlaskClient, site: dict[str, int]) -> None:
    source = client.get(f"/sources/{site['source']}").get_data(as_text=True)
    assert "<h1>Upstream Blog</h1>" in source and "Tagged post" in source
    assert "Our own post" not in source.split("<main", 1)[1].split("</main>", 1)[0]
    tag = client.get("/tags/python").get_data(as_text=True)
    main = tag.split("<main", 1)[1].split("</main>", 1)[0]
    assert "Tagged post" in main and "Hostile post" not in main
    assert client.get("/sources/99").status_code == 404
    assert client.get("/tags/nothing").status_code == 404


def test_sidebar_has_the_blogroll_and_tags(client: FlaskClient, site: dict[str, int]) -> None:
    html = client.get("/").get_data(as_text=True)
    aside = html.split('<aside class="sidebar"', 1)[1].split("</aside>", 1)[0]
    assert 'href="/sources/1">Upstream Blog</a>' in aside
    assert 'href="/tags/python">Python</a>' in aside


def test_the_sidebar_is_built_once_per_content_version(
    client: FlaskClient, site: dict[str, int], db: Database
) -> None:
    from sqlalchemy import event

    from feedsvc import popularity
    from feedsvc.posts import set_visibility

    with db.session() as session:
        popularity.record_view(session, site["Tagged post"], "v1", NOW.date())
    tag_counts: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if "post_tags" in statement and "GROUP BY" in statement:
            tag_counts.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for path in ("/", "/popular", f"/posts/{site['local']}-our-own-post"):
            assert "Tagged post</a>" in client.get(path).get_data(as_text=True)
        assert len(tag_counts) == 1  # three pages, one count of the tags
        # Hiding the post changes the content version: the widget drops it at once.
        with db.session() as session:
            set_visibility(session, session.get(Post, site["Tagged post"]), NOW, hidden=True)
        aside = client.get("/").get_data(as_text=True).split('<aside class="sidebar"', 1)[1]
        assert "Tagged post" not in aside and len(tag_counts) == 2
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_pages_have_validators_and_answer_304(client: FlaskClient, site: dict[str, int]) -> None:
    for path in ("/", "/sources/1", "/tags/python", "/popular",
                 f"/posts/{site['local']}-our-own-post"):  # fmt: skip
        first = client.get(path)
        assert first.headers["ETag"] and first.headers["Last-Modified"]
        again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""


def test_safety_headers(client: FlaskClient, site: dict[str, int]) -> None:
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'none'" in policy and "'unsafe-inline'" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    html = response.get_data(as_text=True)
    assert "<script" not in html and "<style" not in html and " style=" not in html


def test_opml_blogroll(client: FlaskClient, site: dict[str, int]) -> None:
    response = client.get("/sources.opml")
    assert response.content_type == "text/x-opml; charset=utf-8"
    root = ElementTree.fromstring(response.data)
    outlines = root.findall("./body/outline")
    assert [(o.get("text"), o.get("xmlUrl"), o.get("htmlUrl")) for o in outlines] == [
        ("Upstream Blog", "http://up.example/feed.xml", "http://up.example/")
    ]


def test_a_post_title_is_the_one_h1_and_its_headings_rank_below(
    client: FlaskClient, db: Database
) -> None:
    body = ("<h1>Inside one</h1><p>a</p><h2>Inside two</h2><h6>Deep</h6>"
            '<p title="&lt;h1&gt;">&lt;h1&gt; as text</p>')  # fmt: skip
    with db.session() as session:
        post = create_local_post(session, title="The title", body_html=body, now=NOW,
                                 summary_length=300)  # fmt: skip
    html = client.get(f"/posts/{post.id}-the-title").get_data(as_text=True)
    assert html.count("<h1") == 1 and "<h1>The title</h1>" in html
    content = html.split('<div class="content">', 1)[1].split("</div>", 1)[0]
    assert "<h2>Inside one</h2>" in content and "<h3>Inside two</h3>" in content
    assert "<h6>Deep</h6>" in content
    assert '<p title="&lt;h1&gt;">&lt;h1&gt; as text</p>' in content
    # The site's name links home; at home it is the page's heading.
    assert '<p class="site-name"><a href="/">Test Feeds</a></p>' in html
    home = client.get("/").get_data(as_text=True)
    assert home.count("<h1") == 1 and '<h1 class="site-name">Test Feeds</h1>' in home


@pytest.mark.parametrize(
    ("path", "feeds"),
    [
        ("/sources/1", "/feeds/sources/1"),
        ("/tags/python", "/feeds/tags/python"),
        ("/popular?window=30d", "/feeds/popular"),
    ],
)
def test_listing_pages_offer_their_feeds_visibly(
    client: FlaskClient, site: dict[str, int], path: str, feeds: str
) -> None:
    html = client.get(path).get_data(as_text=True)
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    follow = main.split('<p class="follow">', 1)[1].split("</p>", 1)[0]
    query = "?window=30d" if "window" in path else ""
    for fmt, label in (("atom", "Atom"), ("rss", "RSS"), ("json", "JSON")):
        assert f'href="{feeds}.{fmt}{query}"' in follow and f">{label}<" in follow
    assert html.count("<h1") == 1


def test_a_hostile_search_reaches_its_follow_links_as_a_query_value_only(
    client: FlaskClient, site: dict[str, int]
) -> None:
    typed = '"><script>alert(1)</script>&window=all&q=x #'
    html = client.get("/search", query_string={"q": typed}).get_data(as_text=True)
    follow = html.split('<p class="follow">', 1)[1].split("</p>", 1)[0]
    query = "?q=%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E%26window%3Dall%26q%3Dx+%23"
    for fmt in ("atom", "rss", "json"):
        assert f'href="/feeds/search.{fmt}{query}"' in follow
    assert "<script>" not in html.split("<main", 1)[1]
    assert client.get("/popular?window=all%22%3E").status_code == 404


def test_a_source_without_a_title_is_named_by_its_site_host(
    client: FlaskClient, site: dict[str, int], db: Database
) -> None:
    with db.session() as session:
        source = session.get(Source, site["source"])
        source.title = ""  # type: ignore[union-attr]
        source.site_url = "https://www.up.example/blog/"  # type: ignore[union-attr]
    html = client.get(f"/sources/{site['source']}").get_data(as_text=True)
    assert "<h1>up.example</h1>" in html
    assert "feed.xml</a>" not in html and "feed.xml<" not in html.split("<main", 1)[0]
    with db.session() as session:
        session.get(Source, site["source"]).site_url = None  # type: ignore[union-attr]
    html = client.get(f"/sources/{site['source']}").get_data(as_text=True)
    assert "<h1>up.example</h1>" in html
