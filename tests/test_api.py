"""The JSON API: sources, posts, OPML and stats, and its errors as problem+json."""

from __future__ import annotations

from typing import Any

import listparser
import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc.db import Database
from tests.admin_helpers import bearer, make_admin, make_token
from tests.configured import reconfigure
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss
from tests.test_opml import MESSY

ITEMS = [{"guid": f"g{i}", "title": f"Entry {i}", "link": f"http://example.org/{i}",
          "description": f"<p>Body {i}</p>", "pubDate": f"Mon, 0{i} Nov 2026 10:00:00 GMT"}
         for i in range(1, 4)]  # fmt: skip


class Api:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.headers = client, bearer(token)

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.open("/api/v1" + path, method=method, headers=self.headers, **kwargs)


@pytest.fixture
def api(client: FlaskClient, db: Database) -> Api:
    make_admin(db)
    return Api(client, make_token(db))


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert body["field"] == field, body
    return body


def test_add_a_source_by_feed_url_then_refresh_it(api: Api, feed_server: FeedServer) -> None:
    feed_server.routes["/feed.xml"] = Reply(200, rss("Upstream", ITEMS), RSS_TYPE)
    wanted = {"url": feed_server.url("/feed.xml"), "tags": ["Python", "News"], "mode": "summary"}
    created = api("POST", "/sources", json=wanted)
    assert created.status_code == 201, created.get_json()
    source = created.get_json()
    assert created.headers["Location"] == f"/api/v1/sources/{source['id']}"
    assert source["title"] == "Upstream" and source["state"] == "active"
    assert sorted(source["tags"]) == ["News", "Python"] and source["mode"] == "summary"
    # Fetched at once, as the admin and the CLI do.
    assert source["post_count"] == 3 and source["last_success_at"]
    refreshed = api("POST", f"/sources/{source['id']}/refresh").get_json()
    assert refreshed == {"result": "ok", "new": 0, "updated": 0, "status": 200, "error": None}
    fetches = api("GET", f"/sources/{source['id']}/fetches").get_json()
    assert [f["outcome"] for f in fetches] == ["ok", "ok"] and fetches[1]["new_count"] == 3
    posts = api("GET", f"/posts?source_id={source['id']}").get_json()
    assert posts["total"] == 3 and posts["items"][0]["title"] == "Entry 3"


def test_a_site_naming_one_feed_adds_that_feed(api: Api, feed_server: FeedServer) -> None:
    feed_server.routes["/"] = Reply(200, b'<html><head><link rel="alternate" '
                                    b'type="application/rss+xml" href="/feed.xml"></head></html>',
                                    {"Content-Type": "text/html"})  # fmt: skip
    feed_server.routes["/feed.xml"] = Reply(200, rss("Upstream", ITEMS), RSS_TYPE)
    created = api("POST", "/sources", json={"url": feed_server.url("/")})
    assert created.status_code == 201
    assert created.get_json()["feed_url"] == feed_server.url("/feed.xml")


def test_a_source_that_exists_is_a_409(api: Api, feed_server: FeedServer) -> None:
    feed_server.routes["/feed.xml"] = Reply(200, rss("Upstream", ITEMS), RSS_TYPE)
    url = feed_server.url("/feed.xml")
    assert api("POST", "/sources", json={"url": url}).status_code == 201
    assert_problem(api("POST", "/sources", json={"url": url}), 409, "url")


def test_a_url_that_is_no_feed_is_a_422_saying_what_was_found(
    api: Api, feed_server: FeedServer
) -> None:
    feed_server.routes["/"] = Reply(200, b"<!doctype html><html><head><title>Blog</title>"
                                    b'<link rel="alternate" type="application/rss+xml" '
                                    b'href="/feed.xml"><link rel="alternate" '
                                    b'type="application/atom+xml" href="/atom.xml"></head></html>',
                                    {"Content-Type": "text/html"})  # fmt: skip
    page = assert_problem(api("POST", "/sources", json={"url": feed_server.url("/")}), 422, "url")
    assert "web page" in page["detail"] and "2 feeds" in page["detail"]
    assert page["candidates"] == [
        {"url": feed_server.url("/feed.xml"), "title": "RSS", "kind": "RSS"},
        {"url": feed_server.url("/atom.xml"), "title": "Atom", "kind": "Atom"},
    ]
    feed_server.routes["/img"] = Reply(200, b"GIF89a", {"Content-Type": "image/gif"})
    image = assert_problem(api("POST", "/sources", json={"url": feed_server.url("/img")}), 422)
    assert "image/gif" in image["detail"]
    missing = assert_problem(api("POST", "/sources", json={"url": feed_server.url("/404")}), 422)
    assert "404" in missing["detail"]


def test_an_address_the_guard_refuses_is_a_400(
    app: Flask, api: Api, feed_server: FeedServer
) -> None:
    reconfigure(app, FETCH_ALLOW_PRIVATE=False)
    body = assert_problem(api("POST", "/sources", json={"url": feed_server.url("/feed.xml")}),
                          400, "url")  # fmt: skip
    assert "refused" in body["detail"] and feed_server.requests == []
    found = assert_problem(api("POST", "/discover", json={"url": "http://10.1.2.3/feed"}), 400)
    assert "private" in found["detail"] or "refused" in found["detail"]


@pytest.mark.parametrize("body, field", [
    ({}, "url"),
    ({"url": 5}, "url"),
    ({"url": "ftp://example.org/feed", "check": False}, "url"),
    ({"url": "http://example.org/f", "mode": "everything", "check": False}, "mode"),
    ({"url": "http://example.org/f", "interval": 5, "check": False}, "interval"),
    ({"url": "http://example.org/f", "interval": 299, "check": False}, "interval"),
    ({"url": "http://example.org/f", "interval": 0, "check": False}, "interval"),
    ({"url": "http://example.org/f", "interval": True, "check": False}, "interval"),
    ({"url": "http://example.org/f", "colour": "red"}, "colour"),
])  # fmt: skip
def test_bad_source_payloads_name_the_field_at_fault(api: Api, body: dict, field: str) -> None:
    assert_problem(api("POST", "/sources", json=body), 422, field)


def test_the_interval_minimum_is_the_documented_one(api: Api) -> None:
    added = api("POST", "/sources", json={"url": "http://example.org/f", "interval": 300,
                                          "check": False})  # fmt: skip
    assert added.status_code == 201 and added.get_json()["interval"] == 300
    refused = assert_problem(api("PATCH", f"/sources/{added.get_json()['id']}",
                                 json={"interval": 60}), 422, "interval")  # fmt: skip
    assert "at least 300 seconds" in refused["detail"]


def test_bodies_that_are_not_json(api: Api) -> None:
    assert_problem(api("POST", "/sources", data="{not json", content_type="application/json"), 400)
    assert_problem(api("POST", "/sources", data="url=x", content_type="text/plain"), 415)
    assert_problem(api("POST", "/posts", json=["a", "list"]), 422)


def test_update_pause_resume_and_delete_a_source(api: Api, db: Database) -> None:
    source = api("POST", "/sources", json={"url": "http://example.org/feed", "check": False})
    source_id = source.get_json()["id"]
    changed = api("PATCH", f"/sources/{source_id}", json={
        "title": "Renamed", "interval": 900, "tags": ["a"], "paused": True}).get_json()  # fmt: skip
    assert (changed["title"], changed["interval"], changed["tags"], changed["state"]) == (
        "Renamed", 900, ["a"], "paused")  # fmt: skip
    assert api("GET", "/sources?state=paused").get_json()["total"] == 1
    assert api("GET", "/sources?state=active").get_json()["total"] == 0
    resumed = api("PATCH", f"/sources/{source_id}", json={"paused": False, "interval": None})
    assert resumed.get_json()["state"] == "active" and resumed.get_json()["interval"] is None
    assert_problem(api("PATCH", f"/sources/{source_id}", json={"site_url": "nope"}), 422,
                   "site_url")  # fmt: skip
    assert_problem(api("DELETE", f"/sources/{source_id}?keep_posts=maybe"), 400, "keep_posts")
    assert api("DELETE", f"/sources/{source_id}").status_code == 204
    assert_problem(api("GET", f"/sources/{source_id}"), 404)


def test_deleting_a_source_keeps_or_removes_its_posts(api: Api, feed_server: FeedServer) -> None:
    for name in ("a", "b"):
        feed_server.routes[f"/{name}.xml"] = Reply(
            200, rss(name, [dict(item, guid=name + item["guid"]) for item in ITEMS]), RSS_TYPE
        )
    ids = [api("POST", "/sources", json={"url": feed_server.url(f"/{n}.xml")}).get_json()["id"]
           for n in ("a", "b")]  # fmt: skip
    for source_id in ids:
        api("POST", f"/sources/{source_id}/refresh")
    assert api("GET", "/posts").get_json()["total"] == 6
    assert api("DELETE", f"/sources/{ids[0]}?keep_posts=true").status_code == 204
    assert api("DELETE", f"/sources/{ids[1]}?keep_posts=false").status_code == 204
    left = api("GET", "/posts").get_json()
    assert left["total"] == 3 and {p["source_id"] for p in left["items"]} == {None}


def test_local_posts_are_written_edited_and_deleted(api: Api, client: FlaskClient) -> None:
    created = api("POST", "/posts", json={
        "title": "Hello", "tags": ["news"],
        "content": '<p onclick="x()">Hi <script>alert(1)</script>'
                   '<a href="javascript:y()">l</a></p>',
    })  # fmt: skip
    assert created.status_code == 201
    post = created.get_json()
    assert "script" not in post["content"] and "onclick" not in post["content"]
    assert "javascript" not in post["content"] and post["local"] is True
    assert client.get(post["url"].removeprefix("http://feeds.test")).status_code == 200
    edited = api("PATCH", f"/posts/{post['id']}", json={"title": "Hello again"}).get_json()
    assert edited["title"] == "Hello again" and edited["url"].endswith("-hello-again")
    assert api("GET", "/posts?q=again").get_json()["total"] == 1
    assert api("GET", "/posts?q=%25").get_json()["total"] == 0  # % is literal, not a wildcard
    assert_problem(api("PATCH", f"/posts/{post['id']}", json={"title": ""}), 422, "title")
    assert api("DELETE", f"/posts/{post['id']}").status_code == 204
    assert_problem(api("GET", f"/posts/{post['id']}"), 404)


def test_ingested_posts_can_be_hidden_but_not_edited(
    api: Api, client: FlaskClient, feed_server: FeedServer
) -> None:
    feed_server.routes["/feed.xml"] = Reply(200, rss("Upstream", ITEMS), RSS_TYPE)
    source_id = api("POST", "/sources", json={"url": feed_server.url("/feed.xml")}).get_json()["id"]
    api("POST", f"/sources/{source_id}/refresh")
    post = api("GET", "/posts").get_json()["items"][0]
    assert_problem(api("PATCH", f"/posts/{post['id']}", json={"title": "Mine now"}), 422, "title")
    assert_problem(api("DELETE", f"/posts/{post['id']}"), 422)
    assert post["title"] in client.get("/feeds/posts.atom").get_data(as_text=True)
    hidden = api("PATCH", f"/posts/{post['id']}", json={"hidden": True}).get_json()
    assert hidden["hidden"] is True
    path = post["url"].removeprefix("http://feeds.test")
    assert client.get(path).status_code == 404
    assert post["title"] not in client.get("/feeds/posts.atom").get_data(as_text=True)
    assert post["title"] not in client.get("/").get_data(as_text=True)


def test_paging_and_its_bad_parameters(api: Api) -> None:
    for n in range(5):
        api("POST", "/posts", json={"title": f"Post {n}", "content": "x"})
    page = api("GET", "/posts?per_page=2&page=3").get_json()
    assert (page["total"], page["page"], len(page["items"])) == (5, 3, 1)
    for query, field in [("per_page=0", "per_page"), ("per_page=501", "per_page"),
                         ("page=-1", "page"), ("page=two", "page")]:  # fmt: skip
        assert_problem(api("GET", f"/posts?{query}"), 400, field)
    assert_problem(api("GET", "/sources?state=sleeping"), 400, "state")


def test_opml_import_and_export(api: Api) -> None:
    imported = api("POST", "/opml", data=MESSY, content_type="text/x-opml").get_json()
    assert len(imported["added"]) == 4
    assert imported["duplicates"] == ["https://lwn.example/headlines/rss"]
    assert imported["errors"] == ["line 11: not an http(s) URL: 'ftp://files.example/feed'",
                                  "line 14: an outline with an empty xmlUrl"]  # fmt: skip
    exported = api("GET", "/opml")
    assert exported.mimetype == "text/x-opml"
    assert len(listparser.parse(exported.data).feeds) == 4
    assert_problem(api("POST", "/opml", data=b"<html>no</html>", content_type="text/x-opml"), 422)
    assert_problem(api("POST", "/opml", data=b"", content_type="text/x-opml"), 400)


def test_stats(api: Api) -> None:
    api("POST", "/posts", json={"title": "One", "content": "x"})
    api("POST", "/sources", json={"url": "http://example.org/feed", "check": False})
    stats = api("GET", "/stats").get_json()
    assert stats["posts"] == 1 and stats["sources"]["active"] == 1
    assert len(stats["posts_last_30_days"]) == 30 and stats["posts_last_30_days"][-1] == 1


def test_unknown_routes_and_methods_are_problems_too(api: Api) -> None:
    assert_problem(api("GET", "/nothing"), 404)
    wrong = assert_problem(api("PUT", "/stats"), 405)
    assert wrong["title"] == "Method Not Allowed"


def test_control_characters_are_cleaned_or_refused_never_a_server_error(api: Api) -> None:
    # PostgreSQL refuses NUL in text: nothing may reach it with one. What a
    # person names is refused naming the field; HTML content is cleaned.
    good = {"title": "AB", "content": "<p>x\x00y</p>", "tags": ["tag"], "author": "Ann"}
    for field, value, at in [("title", "A\x00B", "title"), ("tags", ["t\x00ag"], "tags.0"),
                             ("author", "Ann\x00", "author")]:  # fmt: skip
        assert_problem(api("POST", "/posts", json={**good, field: value}), 422, at)
    post = api("POST", "/posts", json=good)
    assert post.status_code == 201
    body = post.get_json()
    assert (body["title"], body["tags"], body["content"]) == ("AB", ["tag"], "<p>xy</p>")
    assert api("GET", "/posts?q=A%00B").get_json()["total"] == 1
    assert_problem(api("POST", "/sources", json={"url": "http://ex\x00ample.org/f",
                                                 "check": False}), 422, "url")  # fmt: skip
    for field, value, at in [("title", "T\x00itle", "title"), ("tags", ["\x00"], "tags.0")]:
        source = {"url": "http://example.org/f", "check": False, field: value}
        assert_problem(api("POST", "/sources", json=source), 422, at)


def test_deleting_a_source_with_its_posts_announces_the_tag_feeds_they_leave(
    api: Api, db: Database, feed_server: FeedServer
) -> None:
    from feedsvc import changes
    from feedsvc.tags import tag_by_slug

    items = [dict(item, category="News") for item in ITEMS]
    feed_server.routes["/feed.xml"] = Reply(200, rss("Upstream", items), RSS_TYPE)
    source_id = api("POST", "/sources", json={"url": feed_server.url("/feed.xml")}).get_json()["id"]
    api("POST", f"/sources/{source_id}/refresh")
    with db.session() as session:
        changes.take_dirty_scopes(session)  # as if the hubs were pinged already
        news = tag_by_slug(session, "news").id
    assert api("DELETE", f"/sources/{source_id}?keep_posts=false").status_code == 204
    with db.session() as session:
        dirty = changes.peek_dirty_scopes(session)
    assert changes.tag_scope(news) in dirty and changes.source_scope(source_id) in dirty
