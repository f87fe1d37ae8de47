"""URLs from outside are http(s) or nothing, wherever they are set or published.

Rows are stored directly, as code before the rule could have stored them, to
show that every feed, the OPML list and every page leave such URLs out; and
the admin, the API and the CLI refuse to set one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from alembic import command
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.migrate import alembic_config
from feedsvc.models import Post, Source, new_uid
from feedsvc.opml import render_opml
from feedsvc.popularity import record_view
from feedsvc.posts import create_local_post
from feedsvc.publish.feeds import (
    ATOM,
    FORMATS,
    JSON,
    RSS,
    Enclosure,
    FeedEntry,
    FeedSpec,
    Origin,
    render,
    web_only,
)
from feedsvc.vocabulary import PostMode
from tests.admin_helpers import make_admin, post_form, sign_in
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss
from tests.test_api import Api, assert_problem

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
SCRIPT = "javascript:alert(1)"
PAGE = "data:text/html,<script>alert(2)</script>"
SOUND = "data:audio/mpeg;base64,SUQzBAAAAAAA"
GOOD_ENCLOSURE = "http://up.example/episode.mp3"
# What must never appear in anything we publish (JSON escapes "<" as is).
HOSTILE = ("javascript:", "data:text/html", "data:audio", "vbscript:")


def assert_no_hostile_url(body: str, where: str) -> None:
    for bad in HOSTILE:
        assert bad not in body.lower(), f"{bad} in {where}"


@pytest.fixture
def stored(db: Database) -> dict[str, Any]:
    """A source and a post whose URLs were stored before the rule: script and
    data URLs as site, link, picture and enclosures (beside one good enclosure);
    a second source whose very feed URL is one."""
    with db.session() as session:
        source = Source(feed_url="http://up.example/feed.xml", site_url=SCRIPT,
                        title="Old Upstream", next_check_at=NOW, created_at=NOW)  # fmt: skip
        broken = Source(feed_url=" JavaScript:alert(3)", site_url=PAGE, title="Broken Upstream",
                        next_check_at=NOW, created_at=NOW)  # fmt: skip
        session.add_all([source, broken])
        session.flush()
        uid = new_uid()
        post = Post(
            uid=uid, source_id=source.id, entry_key="urn:old:1", title="Old hostile post",
            slug="old-hostile-post", link=SCRIPT, summary="Stored long ago.",
            content="<p>Stored long ago.</p>", content_hash="x", image_url=PAGE,
            enclosures=[{"url": SCRIPT, "type": "audio/mpeg", "length": 10},
                        {"url": SOUND, "type": "audio/mpeg", "length": 12},
                        {"url": GOOD_ENCLOSURE, "type": "audio/mpeg", "length": 1234}],
            published_at=NOW, updated_at=NOW, created_at=NOW, modified_at=NOW,
        )  # fmt: skip
        session.add(post)
        session.flush()
        # Read, so that it is in the popular feeds and the sidebar too.
        record_view(session, post.id, "a-reader", dt.datetime.now(dt.UTC).date())
        return {"source": source.id, "broken": broken.id, "post": post.id}


def test_stored_hostile_urls_are_left_out_of_every_feed(
    client: FlaskClient, stored: dict[str, Any]
) -> None:
    paths = ["/feeds/posts", "/feeds/summary", "/feeds/popular",
             f"/feeds/sources/{stored['source']}"]  # fmt: skip
    for path in paths:
        for fmt in FORMATS:
            response = client.get(f"{path}.{fmt}")
            assert response.status_code == 200, (path, fmt)
            body = response.get_data(as_text=True)
            assert "Old hostile post" in body, (path, fmt)
            assert_no_hostile_url(body, f"{path}.{fmt}")
            # The good enclosure stays; the entry's link is its page here.
            assert GOOD_ENCLOSURE in body, (path, fmt)
            assert f"http://feeds.test/posts/{stored['post']}-old-hostile-post" in body
    blogger = client.get("/feeds/posts/default?alt=rss").get_data(as_text=True)
    assert "Old hostile post" in blogger
    assert_no_hostile_url(blogger, "the Blogger-style feed")


def test_the_json_feed_keeps_only_the_good_attachment(
    client: FlaskClient, stored: dict[str, Any]
) -> None:
    item = json.loads(client.get("/feeds/posts.json").get_data())["items"][0]
    assert [a["url"] for a in item["attachments"]] == [GOOD_ENCLOSURE]
    assert "external_url" not in item and "image" not in item
    assert item["_source"]["home_page_url"] is None


def test_stored_hostile_urls_are_left_out_of_the_opml_lists(
    client: FlaskClient, db: Database, stored: dict[str, Any]
) -> None:
    public = client.get("/sources.opml").get_data(as_text=True)
    assert 'xmlUrl="http://up.example/feed.xml"' in public
    assert "htmlUrl" not in public
    assert "Broken Upstream" not in public
    assert_no_hostile_url(public, "/sources.opml")
    with db.session() as session:
        every = render_opml("All", session.scalars(select(Source)).all(), NOW, with_tags=True)
    assert_no_hostile_url(every.decode(), "the admin's OPML export")


def test_stored_hostile_urls_are_left_out_of_the_pages(
    client: FlaskClient, db: Database, stored: dict[str, Any]
) -> None:
    post_page = f"/posts/{stored['post']}-old-hostile-post"
    pages = ["/", post_page, f"/sources/{stored['source']}", f"/sources/{stored['broken']}",
             "/popular", "/popular?window=all"]  # fmt: skip
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_no_hostile_url(response.get_data(as_text=True), path)
    html = client.get(post_page).get_data(as_text=True)
    assert "og:image" not in html and "Read the original" not in html
    assert 'name="twitter:card" content="summary"' in html
    # A summary-mode source links out to the original: here there is none to link.
    with db.session() as session:
        session.get(Source, stored["source"]).mode = PostMode.SUMMARY  # type: ignore[union-attr]
    summary = client.get(post_page).get_data(as_text=True)
    assert "Stored long ago." in summary and "Read it at" not in summary
    assert_no_hostile_url(summary, "the post page in summary mode")
    source = client.get(f"/sources/{stored['source']}").get_data(as_text=True)
    assert "Website" not in source and 'href="http://up.example/feed.xml"' in source
    # The sidebar lists the post as popular, without its picture.
    index = client.get("/").get_data(as_text=True)
    aside = index.split('<aside class="sidebar"', 1)[1]
    assert "Old hostile post" in aside and "<img" not in aside


def test_stored_hostile_urls_are_not_linked_in_the_admin(
    client: FlaskClient, db: Database, stored: dict[str, Any]
) -> None:
    make_admin(db)
    sign_in(client)
    for path in (f"/admin/sources/{stored['source']}", f"/admin/sources/{stored['broken']}",
                 f"/admin/posts/{stored['post']}"):  # fmt: skip
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r'(href|src)="\s*(javascript|data):', html, re.IGNORECASE), path
    # The admin still sees what is stored, to fix it.
    source_page = client.get(f"/admin/sources/{stored['source']}").get_data(as_text=True)
    assert "<dd>javascript:alert(1)</dd>" in source_page


# --- setting URLs: admin, API, CLI -------------------------------------------------

BAD_SITE_URLS = [SCRIPT, "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
                 PAGE, "vbscript:msgbox(1)", "file:///etc/passwd", "//evil.example/x",
                 "http:/x", "https://exa mple.org", "http://[::1", "http://example.org:99999/",
                 "https://example.org/" + "a" * 2048]  # fmt: skip


@pytest.fixture
def api(client: FlaskClient, db: Database) -> Api:
    from tests.admin_helpers import make_token

    make_admin(db)
    return Api(client, make_token(db))


@pytest.fixture
def source_id(db: Database) -> int:
    with db.session() as session:
        source = Source(feed_url="http://up.example/feed.xml", site_url="http://up.example/",
                        title="Upstream", next_check_at=NOW, created_at=NOW)  # fmt: skip
        session.add(source)
        session.flush()
        return source.id


@pytest.mark.parametrize("bad", BAD_SITE_URLS)
def test_the_api_refuses_a_site_url_that_is_not_http(
    api: Api, db: Database, source_id: int, bad: str
) -> None:
    problem = assert_problem(api("PATCH", f"/sources/{source_id}", json={"site_url": bad}), 422,
                             "site_url")  # fmt: skip
    assert "site_url" in problem["detail"] or "site URL" in problem["detail"]
    with db.session() as session:
        assert session.get(Source, source_id).site_url == "http://up.example/"  # type: ignore[union-attr]


def test_the_api_sets_a_good_site_url_and_clears_it(api: Api, db: Database, source_id: int) -> None:
    changed = api("PATCH", f"/sources/{source_id}", json={"site_url": " https://new.example/ "})
    assert changed.status_code == 200 and changed.get_json()["site_url"] == "https://new.example/"
    cleared = api("PATCH", f"/sources/{source_id}", json={"site_url": ""})
    assert cleared.status_code == 200 and cleared.get_json()["site_url"] is None


@pytest.mark.parametrize("bad", [SCRIPT, PAGE, "//evil.example/feed", "http://exa<mple.org/"])
def test_the_api_refuses_a_feed_url_that_is_not_http(api: Api, bad: str) -> None:
    for path in ("/sources", "/discover"):
        problem = assert_problem(api("POST", path, json={"url": bad, **(
            {"check": False} if path == "/sources" else {})}), 422, "url")  # fmt: skip
        assert "URL" in problem["detail"]


def hostile_feed(feed_server: FeedServer) -> str:
    """A feed whose own link (the site URL it offers) is a script URL."""
    items = [{"guid": "g1", "title": "Entry", "link": "http://example.org/1",
              "description": "Body", "pubDate": "Mon, 02 Nov 2026 10:00:00 GMT"}]  # fmt: skip
    feed_server.routes["/feed.xml"] = Reply(200, rss("Upstream", items, link=SCRIPT), RSS_TYPE)
    return feed_server.url("/feed.xml")


def test_the_api_adds_a_feed_without_its_script_link(
    api: Api, feed_server: FeedServer, db: Database
) -> None:
    created = api("POST", "/sources", json={"url": hostile_feed(feed_server)})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["site_url"] is None
    with db.session() as session:
        assert session.scalars(select(Source.site_url)).one() is None


@pytest.fixture
def admin(client: FlaskClient, db: Database) -> FlaskClient:
    make_admin(db)
    sign_in(client)
    return client


def test_the_admin_refuses_to_add_a_source_with_a_script_site_url(
    admin: FlaskClient, db: Database
) -> None:
    response = post_form(admin, "/admin/sources/new", "/admin/sources",
                         {"feed_url": "http://up.example/feed.xml", "site_url": SCRIPT,
                          "title": "Sneaky"}, follow_redirects=True)  # fmt: skip
    page = response.get_data(as_text=True)
    assert "site URL: not an http(s) URL: &#39;javascript:alert(1)&#39;" in page
    with db.session() as session:
        assert session.scalars(select(Source)).all() == []


@pytest.mark.parametrize("bad", [PAGE, "//evil.example/x", "https://exa mple.org"])
def test_the_admin_refuses_to_set_a_site_url_that_is_not_http(
    admin: FlaskClient, db: Database, source_id: int, bad: str
) -> None:
    page = f"/admin/sources/{source_id}"
    response = post_form(admin, page, page, {"title": "Upstream", "site_url": bad},
                         follow_redirects=True)  # fmt: skip
    assert "site URL: " in response.get_data(as_text=True)
    with db.session() as session:
        assert session.get(Source, source_id).site_url == "http://up.example/"  # type: ignore[union-attr]


def test_the_admin_preview_does_not_offer_a_script_site_url(
    admin: FlaskClient, feed_server: FeedServer, db: Database
) -> None:
    url = hostile_feed(feed_server)
    preview = post_form(admin, "/admin/sources/new", "/admin/sources/new", {"url": url})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Preview: Upstream" in html
    assert_no_hostile_url(html, "the preview")
    assert '<input type="hidden" name="site_url" value="">' in html


def test_the_cli_adds_a_feed_without_its_script_link(
    runner: FlaskCliRunner, feed_server: FeedServer, db: Database
) -> None:
    result = runner.invoke(args=["sources", "add", hostile_feed(feed_server)])
    assert result.exit_code == 0, result.output
    with db.session() as session:
        assert session.scalars(select(Source.site_url)).one() is None


@pytest.mark.parametrize("bad", [SCRIPT, PAGE, "//evil.example/feed"])
def test_the_cli_refuses_a_feed_url_that_is_not_http(runner: FlaskCliRunner, bad: str) -> None:
    result = runner.invoke(args=["sources", "add", "--no-check", bad])
    assert result.exit_code != 0 and "not an http(s) URL" in result.output


def test_a_local_post_takes_only_a_web_picture(db: Database) -> None:
    with db.session() as session:
        mail = create_local_post(session, title="Mail picture", now=NOW, summary_length=300,
                                 body_html='<p><img src="mailto:me@example.org"></p>')  # fmt: skip
        relative = create_local_post(session, title="Relative", now=NOW, summary_length=300,
                                     body_html='<p><img src="/a.png"></p>')  # fmt: skip
        good = create_local_post(session, title="Good", now=NOW, summary_length=300,
                                 body_html='<p><img src="/a.png"></p>',
                                 base_url="http://feeds.test")  # fmt: skip
        assert (mail.image_url, relative.image_url) == (None, None)
        assert good.image_url == "http://feeds.test/a.png"


# --- the renderer on its own ---------------------------------------------------------

SPEC = FeedSpec(id="urn:test", title="T", subtitle="S", self_url="http://feeds.test/f.atom",
                alternate_url="http://feeds.test/", updated=NOW, author="A")  # fmt: skip


def hostile_entry(**changes: Any) -> FeedEntry:
    values: dict[str, Any] = dict(
        id="urn:uuid:00000000-0000-0000-0000-000000000001", title="E",
        url="http://feeds.test/posts/1-e", published=NOW, updated=NOW, summary="S",
        content_html="<p>C</p>", original_url=SCRIPT, image=PAGE,
        enclosures=(Enclosure(SOUND, "audio/mpeg", 3), Enclosure(GOOD_ENCLOSURE, "audio/mpeg", 4)),
        origin=Origin(feed_url="http://up.example/feed.xml", title="Up", site_url=SCRIPT),
    )  # fmt: skip
    values.update(changes)
    return FeedEntry(**values)


def test_web_only_leaves_out_every_url_that_is_not_http() -> None:
    kept = web_only(hostile_entry())
    assert (kept.original_url, kept.image) == (None, None)
    assert kept.enclosures == (Enclosure(GOOD_ENCLOSURE, "audio/mpeg", 4),)
    assert kept.origin == Origin(feed_url="http://up.example/feed.xml", title="Up")
    assert web_only(hostile_entry(origin=Origin(feed_url=SCRIPT, title="Up"))).origin is None


def test_a_clean_entry_is_published_as_it_is() -> None:
    origin = Origin("http://up.example/feed.xml", "Up", "http://up.example/")
    clean = hostile_entry(original_url="http://up.example/1", image="https://img.example/a.png",
                          enclosures=(Enclosure(GOOD_ENCLOSURE, "audio/mpeg", 4),),
                          origin=origin)  # fmt: skip
    assert web_only(clean) is clean


@pytest.mark.parametrize("fmt", [ATOM, RSS, JSON])
def test_every_format_renders_only_web_urls(fmt: str) -> None:
    body = render(fmt, SPEC, [hostile_entry()]).decode()
    assert_no_hostile_url(body, fmt)
    assert GOOD_ENCLOSURE in body and "http://up.example/feed.xml" in body


# --- the data migration ----------------------------------------------------------------

MIGRATION = "0004"


def test_the_migration_clears_stored_urls_that_are_not_http(
    db: Database, stored: dict[str, Any]
) -> None:
    cfg = alembic_config(db.url)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, MIGRATION + "-1")
    try:
        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    finally:
        db.engine.dispose()
    with db.session() as session:
        source = session.get(Source, stored["source"])
        post = session.get(Post, stored["post"])
        assert source is not None and post is not None
        assert source.site_url is None and source.feed_url == "http://up.example/feed.xml"
        assert (post.link, post.image_url) == (None, None)
        assert post.enclosures == [{"url": GOOD_ENCLOSURE, "type": "audio/mpeg", "length": 1234}]
        # A source whose feed URL is not http(s) cannot be fetched: it is paused, not lost.
        broken = session.get(Source, stored["broken"])
        assert broken is not None and broken.site_url is None and broken.status == "paused"
