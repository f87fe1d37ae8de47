"""The admin pages, driven as a browser drives them: forms with CSRF tokens."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedsvc.db import Database
from feedsvc.models import Post, Source
from feedsvc.posts import create_local_post
from tests.admin_helpers import make_admin, post_form, sign_in
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss
from tests.test_opml import MESSY

HTML = {"Content-Type": "text/html; charset=utf-8"}
ITEMS = [{"guid": f"g{i}", "title": f"Entry {i}", "link": f"http://example.org/{i}",
          "description": f"<p>Body {i}</p>", "pubDate": f"Mon, 0{i} Nov 2026 10:00:00 GMT"}
         for i in range(1, 4)]  # fmt: skip


@pytest.fixture
def admin(client: FlaskClient, db: Database) -> FlaskClient:
    make_admin(db)
    sign_in(client)
    return client


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def add_source(admin: FlaskClient, feed_server: FeedServer, path: str = "/feed.xml") -> int:
    feed_server.routes[path] = Reply(200, rss("Upstream", ITEMS), RSS_TYPE)
    preview = post_form(admin, "/admin/sources/new", "/admin/sources/new",
                        {"url": feed_server.url(path)})  # fmt: skip
    assert preview.status_code == 200
    created = post_form(admin, "/admin/sources/new", "/admin/sources", {
        "feed_url": feed_server.url(path), "title": "Upstream", "tags": "one, two",
        "mode": "full", "interval": ""})  # fmt: skip
    assert created.status_code == 302
    return int(created.headers["Location"].rsplit("/", 1)[1])


def test_add_a_source_by_its_site_url_choosing_among_its_feeds(
    admin: FlaskClient, db: Database, feed_server: FeedServer
) -> None:
    feed_server.routes["/"] = Reply(200, b"<html><head><title>Blog</title>"
        b'<link rel="alternate" type="application/rss+xml" title="Posts" href="/feed.xml">'
        b'<link rel="alternate" type="application/atom+xml" title="Comments" href="/c.xml">'
        b"</head></html>", HTML)  # fmt: skip
    feed_server.routes["/feed.xml"] = Reply(200, rss("Upstream", ITEMS), RSS_TYPE)
    choose = post_form(admin, "/admin/sources/new", "/admin/sources/new",
                       {"url": feed_server.url("/")})  # fmt: skip
    assert "names 2 feeds" in text(choose)
    assert feed_server.url("/c.xml") in text(choose)
    preview = post_form(admin, "/admin/sources/new", "/admin/sources/new",
                        {"url": feed_server.url("/feed.xml")})  # fmt: skip
    page = text(preview)
    assert "Preview: Upstream" in page
    assert page.index("Entry 3") < page.index("Entry 2") < page.index("Entry 1")
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    created = post_form(admin, "/admin/sources/new", "/admin/sources", {
        "feed_url": form["feed_url"], "site_url": form["site_url"], "title": "My upstream",
        "tags": "Python, News", "mode": "summary", "interval": "900"})  # fmt: skip
    detail = admin.get(created.headers["Location"])
    assert "First fetch: ok, 3 new" in text(detail)
    with db.session() as session:
        source = session.scalars(select(Source)).one()
        assert (source.title, source.mode, source.interval_override) == (
            "My upstream", "summary", 900)  # fmt: skip
        assert sorted(t.name for t in source.tags) == ["News", "Python"]
    # Its posts are on the site at once.
    assert "Entry 3" in text(admin.get(f"/sources/{source.id}"))


def test_adding_what_is_no_feed_says_why(admin: FlaskClient, feed_server: FeedServer) -> None:
    feed_server.routes["/"] = Reply(200, b"<html><head><title>Plain</title></head></html>", HTML)
    response = post_form(admin, "/admin/sources/new", "/admin/sources/new",
                         {"url": feed_server.url("/")})  # fmt: skip
    assert response.status_code == 422 and "names no feed" in text(response)
    bad = post_form(admin, "/admin/sources/new", "/admin/sources/new", {"url": "gopher://x"})
    assert bad.status_code == 422 and "not an http(s) URL" in text(bad)


def test_a_feed_that_is_a_source_already_is_pointed_to(
    admin: FlaskClient, feed_server: FeedServer
) -> None:
    source_id = add_source(admin, feed_server)
    again = post_form(admin, "/admin/sources/new", "/admin/sources/new",
                      {"url": feed_server.url("/feed.xml")})  # fmt: skip
    assert "is a source already" in text(again)
    assert f"/admin/sources/{source_id}" in text(again)


def test_edit_pause_resume_fetch_and_history(
    admin: FlaskClient, db: Database, feed_server: FeedServer
) -> None:
    source_id = add_source(admin, feed_server)
    page = f"/admin/sources/{source_id}"
    post_form(admin, page, page, {"title": "New name", "site_url": "", "tags": "x",
                                  "mode": "link", "interval": "3600"})  # fmt: skip
    post_form(admin, page, f"{page}/pause", {"action": "pause"})
    with db.session() as session:
        source = session.get(Source, source_id)
        assert (source.title, source.mode, source.status) == ("New name", "link", "paused")
    assert "not scheduled" in text(admin.get(page))
    post_form(admin, page, f"{page}/pause", {"action": "resume"})
    feed_server.routes["/feed.xml"] = Reply(500, b"down", {})
    fetched = post_form(admin, page, f"{page}/fetch", {}, follow_redirects=True)
    assert "Fetched: error" in text(fetched) and "HTTP 500" in text(fetched)
    history = text(admin.get(page))
    assert history.count(">error</td>") == 1 and history.count(">ok</td>") == 1
    bad = post_form(admin, page, page, {"title": "x", "interval": "5"}, follow_redirects=True)
    assert bad.status_code == 422 and "at least 300 seconds" in text(bad)


def test_a_refused_setting_shows_the_form_as_typed_with_the_error_beside_it(
    admin: FlaskClient, db: Database, feed_server: FeedServer
) -> None:
    source_id = add_source(admin, feed_server)
    page = f"/admin/sources/{source_id}"
    typed = {"title": "Typed title", "site_url": "", "tags": "one, two", "mode": "summary",
             "interval": "custom", "interval_minutes": "2", "strip_selectors": ".ads\naside",
             "fetch_full": "0", "article_selector": "", "retain_days": "30",
             "retain_per_source": ""}  # fmt: skip
    bad = post_form(admin, page, page, typed)
    body = text(bad)
    assert bad.status_code == 422
    assert 'value="Typed title"' in body and 'value="one, two"' in body
    assert '<option value="summary" selected>' in body and 'value="30"' in body
    assert 'value="custom" checked' in body and 'id="interval_minutes"' in body
    assert 'value="2"' in body and ".ads\naside</textarea>" in body
    # The reason sits beside the interval, not atop the page; nothing was saved.
    assert 'id="interval-error">the interval must be at least 300 seconds' in body
    with db.session() as session:
        source = session.get(Source, source_id)
        assert (source.title, source.mode, source.interval_override) == ("Upstream", "full", None)
    # Hostile values: each refused beside its field, never a 500.
    for interval, minutes in [
        ("custom", "abc"),
        ("custom", "nan"),
        ("custom", "-5"),
        ("custom", "1e400"),
        ("custom", ""),
        ("weekly", ""),
        ("99999999999", ""),
        ("299", ""),
    ]:
        answer = post_form(admin, page, page, {**typed, "interval": interval,
                                               "interval_minutes": minutes})  # fmt: skip
        assert answer.status_code == 422, (interval, minutes)
        assert 'id="interval-error"' in text(answer), (interval, minutes)
    # Custom minutes, and the presets, are saved as seconds.
    post_form(admin, page, page, {**typed, "interval_minutes": "7.5"})
    post_form(admin, page, page, {**typed, "title": "Other", "interval": "86400"})
    with db.session() as session:
        assert session.get(Source, source_id).interval_override == 86400
    shown = text(admin.get(page))
    assert 'value="86400" checked' in shown
    assert '<dt>Checked</dt><dd>every 1 day <span class="interval-effective">(fixed by you)' \
        in shown
    post_form(admin, page, page, {**typed, "title": "Other", "interval": ""})
    adaptive = text(admin.get(page))
    # Its entries are weeks old: the schedule says so, and checks at the longest.
    assert "every 1 day <span" in adaptive
    assert "(adapting to the feed: nothing published in the last week)" in adaptive


def test_delete_a_source_keeping_or_removing_its_posts(
    admin: FlaskClient, db: Database, feed_server: FeedServer
) -> None:
    kept = add_source(admin, feed_server, "/a.xml")
    feed_server.routes["/b.xml"] = Reply(200, rss("B", [dict(i, guid="b" + i["guid"])
                                                        for i in ITEMS]), RSS_TYPE)  # fmt: skip
    removed = add_source(admin, feed_server, "/b.xml")
    confirm = admin.get(f"/admin/sources/{kept}/delete")
    assert "It has 3 posts" in text(confirm)
    post_form(admin, f"/admin/sources/{kept}/delete", f"/admin/sources/{kept}/delete",
              {"posts": "keep"})  # fmt: skip
    post_form(admin, f"/admin/sources/{removed}/delete", f"/admin/sources/{removed}/delete",
              {"posts": "delete"})  # fmt: skip
    with db.session() as session:
        assert session.scalars(select(Source)).all() == []
        assert {p.source_id for p in session.scalars(select(Post))} == {None}
        assert len(session.scalars(select(Post)).all()) == 3


def test_write_edit_and_delete_a_local_post(admin: FlaskClient, client: FlaskClient) -> None:
    made = post_form(admin, "/admin/posts/new", "/admin/posts/new", {
        "title": "Hello", "tags": "notes",
        "body": '<p>Hi<img src=x onerror="alert(1)"><script>alert(2)</script></p>'})  # fmt: skip
    assert made.status_code == 302
    edit = made.headers["Location"]
    page = text(admin.get(edit))
    assert "onerror" not in page and "<script>alert" not in page
    post_form(admin, edit, edit, {"title": "Hello there", "tags": "notes", "body": "<p>New</p>"})
    assert "Hello there" in text(client.get("/"))
    empty = post_form(admin, edit, edit, {"title": "  ", "body": "x"})
    assert empty.status_code == 422 and "needs a title" in text(empty)
    post_form(admin, edit + "/delete", edit + "/delete", {})
    assert "Hello there" not in text(client.get("/"))


def test_hide_an_ingested_post_from_the_site_and_feeds(
    admin: FlaskClient, client: FlaskClient, db: Database, feed_server: FeedServer
) -> None:
    add_source(admin, feed_server)
    with db.session() as session:
        post = session.scalars(select(Post).where(Post.title == "Entry 2")).one()
    assert "Entry 2" in text(client.get("/feeds/posts.atom"))
    edit = f"/admin/posts/{post.id}"
    assert "came from its source" in text(admin.get(edit))
    post_form(admin, edit, f"{edit}/visibility", {"hidden": "1"})
    assert "Entry 2" not in text(client.get("/feeds/posts.atom"))
    assert "Entry 2" not in text(client.get("/"))
    assert client.get(f"/posts/{post.id}-{post.slug}").status_code == 404
    assert "Entry 2" in text(admin.get("/admin/posts?kind=hidden"))
    refused = post_form(admin, edit, f"{edit}/delete", {}, follow_redirects=True)
    assert "hide it instead" in text(refused)


def test_post_search(admin: FlaskClient) -> None:
    for title in ("Apples", "Pears", "Apple pie"):
        post_form(admin, "/admin/posts/new", "/admin/posts/new", {"title": title, "body": "x"})
    found = text(admin.get("/admin/posts?q=apple"))
    assert "Apples" in found and "Apple pie" in found and "Pears" not in found
    assert "2 posts" in found


def test_opml_import_and_export_pages(admin: FlaskClient) -> None:
    from io import BytesIO

    report = post_form(admin, "/admin/opml/import", "/admin/opml/import",
                       {"file": (BytesIO(MESSY), "subs.opml")},
                       content_type="multipart/form-data")  # fmt: skip
    page = text(report)
    assert "4 added, 1 duplicates skipped, 2 errors" in page
    assert "line 11: not an http(s) URL" in page
    exported = admin.get("/admin/opml")
    assert exported.mimetype == "text/x-opml" and b"planetpython.example" in exported.data
    assert "attachment" in exported.headers["Content-Disposition"]
    bad = post_form(admin, "/admin/opml/import", "/admin/opml/import",
                    {"file": (BytesIO(b"nope"), "x.opml")},
                    content_type="multipart/form-data")  # fmt: skip
    assert bad.status_code == 422 and "not an OPML file" in text(bad)


def test_the_dashboard_puts_failing_sources_first(admin: FlaskClient, db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        for name, errors in [("Fine", 0), ("Flaky", 2), ("Broken", 12), ("Once", 1)]:
            session.add(Source(feed_url=f"http://{name.lower()}.example/feed", title=name,
                               error_count=errors, last_error="HTTP 500" if errors else None,
                               next_check_at=now, created_at=now))  # fmt: skip
    page = text(admin.get("/admin/"))
    assert page.index("Broken") < page.index("Flaky")
    assert "Fine</a>" not in page
    assert "<strong>1</strong> failing" in page and "<strong>1</strong> active" in page
    assert "<strong>2</strong> warning" in page
    assert "<svg" in page and "Posts stored per day" in page
    listing = text(admin.get("/admin/sources"))
    # Failing, then warning (oldest first), then the rest; each badge with its count.
    order = [listing.index(name + "</a>") for name in ("Broken", "Flaky", "Once", "Fine")]
    assert order == sorted(order) and "sparkline" in listing
    assert "failing · 12 errors" in listing and "warning · 1 error<" in listing
    assert "warning · 2 errors" in listing
    warned = text(admin.get("/admin/sources?state=warning"))
    assert "Flaky" in warned and "Once" in warned and "Broken" not in warned
    assert "Fine" not in warned
    assert "Broken" in text(admin.get("/admin/sources?state=failing"))
    assert "Fine" not in text(admin.get("/admin/sources?state=failing"))


def test_the_preview_comes_back_from_what_the_form_carried_whatever_it_holds(
    admin: FlaskClient, db: Database
) -> None:
    """A refused save shows the preview again from its hidden field; a field
    tampered with loses only what does not read, never the page."""
    good = (
        '{"feed_url": "x", "title": "Carried", "site_url": null, "description": "D",'
        ' "entries": [["Entry one", null, "2026-11-01T10:00:00+00:00"]]}'
    )
    hostile = ["", "not json", "[1, 2]", '{"entries": "x"}', '{"entries": [[1, 2, 3]]}',
               '{"title": 5, "entries": [["<script>x</script>", 7, "yesterday"]]}',
               '{"entries": [' + ",".join(['["e", null, null]'] * 5000) + "]}"]  # fmt: skip
    for carried in [good, *hostile]:
        answer = post_form(admin, "/admin/sources/new", "/admin/sources", {
            "feed_url": "http://example.org/feed", "preview": carried, "title": "Typed",
            "interval": "custom", "interval_minutes": "1"})  # fmt: skip
        body = text(answer)
        assert answer.status_code == 422, carried[:40]
        assert "Preview:" in body and 'value="Typed"' in body
        assert 'name="feed_url" value="http://example.org/feed"' in body
        assert "<script>x" not in body
    shown = text(post_form(admin, "/admin/sources/new", "/admin/sources", {
        "feed_url": "http://example.org/feed", "preview": good, "interval": "60"}))  # fmt: skip
    assert "Preview: Carried" in shown and "Entry one" in shown
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Source)) == 0


def test_a_fetch_error_reads_as_a_sentence_and_the_history_keeps_the_detail(
    admin: FlaskClient, db: Database
) -> None:
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with db.session() as session:
        now = dt.datetime.now(dt.UTC)
        source = Source(feed_url=f"http://127.0.0.1:{port}/feed.xml", title="Down",
                        next_check_at=now, created_at=now, error_count=0)  # fmt: skip
        session.add(source)
        session.flush()
        source_id = source.id
    page = f"/admin/sources/{source_id}"
    fetched = text(post_form(admin, page, f"{page}/fetch", {}, follow_redirects=True))
    sentence = (f"Could not connect to 127.0.0.1:{port} (connection refused). "
                "Check the address, or try again later.")  # fmt: skip
    assert f"Fetched: error: {sentence}" in fetched
    assert f'<dd class="error-text">{sentence}</dd>' in fetched
    # The raw words stay in the history, and only there.
    history = fetched[fetched.index('id="history"'):]
    assert "Connection refused" in history and "could not connect:" in history
    assert "could not connect:" not in fetched[: fetched.index('id="history"')]
    listing = text(admin.get("/admin/sources"))
    assert sentence in listing and "Errno" not in listing


def test_bulk_actions_refuse_what_is_no_choice_and_delete_only_local_posts(
    admin: FlaskClient, db: Database, feed_server: FeedServer
) -> None:
    source_id = add_source(admin, feed_server)
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        local = create_local_post(session, title="Mine", body_html="<p>x</p>", now=now,
                                  summary_length=100)  # fmt: skip
        session.flush()
        local_id = local.id
        ingested = session.scalars(select(Post.id).where(Post.source_id == source_id)).all()
    listing = f"/admin/posts?source={source_id}"
    for ids, action in [(["x"], "hide"), ([], "hide"), (["1" * 40], "hide"),
                        ([str(i) for i in range(300)], "hide"), ([str(ingested[0])], "burn"),
                        (["-1"], "show")]:  # fmt: skip
        answer = post_form(admin, listing, "/admin/posts/bulk",
                           {"ids": ids, "action": action, "back": listing})  # fmt: skip
        assert answer.status_code == 303 and answer.headers["Location"] == listing
        assert "flash error" in text(admin.get(listing)), (ids, action)
    # A back address elsewhere is not followed.
    away = post_form(admin, listing, "/admin/posts/bulk", {
        "ids": [str(ingested[0])], "action": "hide", "back": "https://evil.example/"})  # fmt: skip
    assert away.headers["Location"] == "/admin/posts"
    # Delete asks first, then deletes the local post and keeps the ingested one.
    chosen = {"ids": [str(local_id), str(ingested[1])], "action": "delete", "back": listing}
    confirm = post_form(admin, listing, "/admin/posts/bulk", chosen)
    assert confirm.status_code == 200 and "Delete 1 post?" in text(confirm)
    assert "would come back with the next fetch" in text(confirm)
    done = post_form(admin, listing, "/admin/posts/bulk", {**chosen, "confirm": "1"},
                     follow_redirects=True)  # fmt: skip
    assert "Deleted: 1 post. 1 ingested post was not deleted" in text(done)
    with db.session() as session:
        assert session.get(Post, local_id) is None
        assert session.get(Post, ingested[1]) is not None
    # Filters refuse what they do not know, with a 400, never a 500.
    for query in ("state=gone", "sort=random", "source=x", "tag=-1", "page=0"):
        assert admin.get(f"/admin/posts?{query}").status_code == 400, query


def test_the_posts_list_filters_by_tag_and_sorts_by_views(
    admin: FlaskClient, db: Database
) -> None:
    from feedsvc.models import PostViewDay

    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        made = [create_local_post(session, title=title, body_html="<p>x</p>", now=now,
                                  summary_length=100, tags=tags)
                for title, tags in [("Old news", ["News"]), ("Cats", ["Pets"]),
                                    ("Fresh news", ["News"])]]  # fmt: skip
        session.flush()
        for post, views in zip(made, (7, 0, 2), strict=True):
            if views:
                session.add(PostViewDay(post_id=post.id, day=now.date(), count=views))
        news = next(tag.id for tag in made[0].tags)
    page = text(admin.get(f"/admin/posts?tag={news}&sort=views"))
    assert "Cats" not in page and page.index("Old news") < page.index("Fresh news")
    assert '<td data-label="Views">7</td>' in page and '<td data-label="Views">2</td>' in page


def test_write_preview_save_a_draft_then_publish_it(
    admin: FlaskClient, db: Database, client: FlaskClient
) -> None:
    typed = {"title": "Work in progress", "tags": "Notes",
             "body": '<h1>Big</h1><p>Hello <script>alert(1)</script><b>there</b></p>'}
    preview = post_form(admin, "/admin/posts/new", "/admin/posts/new",
                        {**typed, "intent": "preview"})  # fmt: skip
    body = text(preview)
    assert preview.status_code == 200 and "Preview <small>(nothing saved yet)" in body
    assert "<b>there</b>" in body and "<script>alert" not in body
    assert 'value="Work in progress"' in body  # the form as typed, above its preview
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 0

    saved = post_form(admin, "/admin/posts/new", "/admin/posts/new", {**typed, "intent": "draft"})
    assert saved.status_code == 302
    post_id = int(saved.headers["Location"].rsplit("/", 1)[1])
    page = text(admin.get(f"/admin/posts/{post_id}"))
    assert "draft</span> not on the site" in page and ">Publish</button>" in page
    # Nothing public shows a draft: not its page, the index, the feeds or the tag.
    assert client.get(f"/posts/{post_id}").status_code == 404
    for public in ("/", "/feeds/posts.atom", "/feeds/posts.json", "/tags/notes"):
        assert "Work in progress" not in client.get(public).get_data(as_text=True), public
    drafts = text(admin.get("/admin/posts?state=draft"))
    assert "Work in progress" in drafts and 'state-warning">draft' in drafts
    assert "Work in progress" not in text(admin.get("/admin/posts?state=hidden"))

    published = post_form(admin, f"/admin/posts/{post_id}", f"/admin/posts/{post_id}",
                          {**typed, "title": "Finished", "intent": "publish"},
                          follow_redirects=True)  # fmt: skip
    assert "Published." in text(published)
    with db.session() as session:
        post = session.get(Post, post_id)
        assert (post.draft, post.hidden, post.title) == (False, False, "Finished")
    assert client.get(f"/posts/{post_id}", follow_redirects=True).status_code == 200
    assert "Finished" in client.get("/feeds/posts.atom").get_data(as_text=True)
