"""Full articles end to end: a summary-only feed and its article pages on a
loopback server, fetched by the driver (pages fetched on its threads, extracted
in its parse process), and asked for again from the admin and the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.fetcher import Fetcher, FetchSettings
from feedsvc.ingest import IngestSettings
from feedsvc.ingest.driver import refresh_many
from feedsvc.models import Post, Source
from feedsvc.scheduler import Worker
from feedsvc.sources import add_source, update_source
from tests.admin_helpers import bearer, make_admin, make_token, post_form, sign_in
from tests.configured import settings_of
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
HTML = {"Content-Type": "text/html; charset=utf-8"}
SUMMARY = "The harbour authority voted to rebuild the pier."
MAX_BYTES = 200_000


def story(words: str) -> bytes:
    paragraphs = "".join(
        f"<p>{words} Paragraph {n} tells more of the story, at the length a news "
        f"article has, so that the extractor takes it for the main text.</p>"
        for n in range(1, 6)
    )
    return f"""<!doctype html><html><head><title>{words}</title></head><body>
<nav><a href="/">Home</a> <a href="/sport">Sport</a></nav>
<div class="story"><p>{words} Chosen by the selector.</p></div>
<article><h1>{words}</h1>{paragraphs}<img src="pics/a.jpg" alt="a picture"></article>
<footer><a href="/privacy">Privacy policy</a></footer></body></html>""".encode()


@pytest.fixture
def fetcher(feed_server: FeedServer) -> Iterator[Fetcher]:
    # Only the loopback server's own address is open: anything else inward is refused.
    allowed = (f"127.0.0.1:{feed_server.port}",)
    with Fetcher(FetchSettings(timeout=5, allow_hosts=allowed, max_bytes=MAX_BYTES)) as instance:
        yield instance


def serve_feed(feed_server: FeedServer, paths: list[str]) -> None:
    items = [{"guid": feed_server.url(path), "title": f"Entry {path}",
              "link": feed_server.url(path), "description": SUMMARY} for path in paths]  # fmt: skip
    feed_server.routes["/feed"] = Reply(200, rss("News", items), RSS_TYPE)


def make_source(db: Database, feed_server: FeedServer, selector: str | None = None) -> int:
    with db.session() as session:
        source = add_source(session, feed_server.url("/feed"), NOW, fetch_full=True)
        if selector:
            update_source(session, source, NOW, article_selector=selector)
        return source.id


def refresh(db: Database, source_id: int, fetcher: Fetcher, now: dt.datetime = NOW) -> None:
    refresh_many(db, [source_id], fetcher=fetcher, now=lambda: now, settings=IngestSettings(),
                 threads=2, processes=1)  # fmt: skip


def posts(db: Database) -> dict[str, Post]:
    """The stored posts by their path on the server."""
    with db.session() as session:
        return {post.entry_key.rsplit("/", 1)[-1]: post for post in session.scalars(select(Post))}


def test_a_summary_only_feed_gets_the_full_articles(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/a"] = Reply(200, story("Pier rebuilt."), HTML)
    serve_feed(feed_server, ["/a"])
    source_id = make_source(db, feed_server)
    refresh(db, source_id, fetcher)
    post = posts(db)["a"]
    assert post.article_state == "fetched" and post.article_error is None
    assert "Paragraph 5 tells more of the story" in post.content
    assert f'src="{feed_server.url("/pics/a.jpg")}"' in post.content
    assert "Privacy policy" not in post.content
    # The feed's own summary is real text: it stays the summary.
    assert post.summary == SUMMARY
    assert post.image_url == feed_server.url("/pics/a.jpg")

    # Unchanged entries are not fetched again.
    refresh(db, source_id, fetcher)
    assert len(feed_server.hits("/a")) == 1


def test_the_selector_picks_the_article(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/a"] = Reply(200, story("Pier rebuilt."), HTML)
    serve_feed(feed_server, ["/a"])
    refresh(db, make_source(db, feed_server, selector="div.story"), fetcher)
    post = posts(db)["a"]
    assert post.article_state == "fetched"
    assert "Chosen by the selector." in post.content
    assert "Paragraph" not in post.content


def test_pages_without_an_article_keep_the_feeds_content_and_say_why(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    port = feed_server.port
    feed_server.routes["/missing"] = Reply(404, b"not here", HTML)
    feed_server.routes["/huge"] = Reply(200, b"<p>" + b"x" * (MAX_BYTES + 1) + b"</p>", HTML)
    # To the same server by another name: an address the guard does not open.
    feed_server.routes["/inward"] = Reply(302, b"", {"Location": f"http://localhost:{port}/a"})
    feed_server.routes["/pdf"] = Reply(200, b"%PDF-1.7 ...", {"Content-Type": "application/pdf"})
    feed_server.routes["/busy"] = Reply(503, b"try later", HTML)
    serve_feed(feed_server, ["/missing", "/huge", "/inward", "/pdf", "/busy"])
    refresh(db, make_source(db, feed_server), fetcher)
    stored = posts(db)
    for post in stored.values():
        assert post.content == SUMMARY
        assert post.article_tries == 1
    assert (stored["missing"].article_state, stored["missing"].article_error) == (
        "failed", "HTTP 404")  # fmt: skip
    assert stored["huge"].article_state == "failed"
    assert f"larger than the {MAX_BYTES} byte limit" in (stored["huge"].article_error or "")
    assert stored["inward"].article_state == "failed"
    assert "not a public address" in (stored["inward"].article_error or "")
    assert stored["pdf"].article_error == "the page is application/pdf, not HTML"
    assert stored["pdf"].article_state == "failed"
    # A page that may answer later is tried again, later.
    busy = stored["busy"]
    assert (busy.article_state, busy.article_error) == ("pending", "HTTP 503")
    assert busy.article_next_at == NOW + dt.timedelta(minutes=10)
    assert [seen.path for seen in feed_server.requests].count("/a") == 0


def test_a_page_that_may_answer_later_is_tried_again_after_its_delay(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/a"] = Reply(503, b"try later", HTML)
    serve_feed(feed_server, ["/a"])
    source_id = make_source(db, feed_server)
    refresh(db, source_id, fetcher)
    feed_server.routes["/a"] = Reply(200, story("Pier rebuilt."), HTML)
    refresh(db, source_id, fetcher, NOW + dt.timedelta(minutes=9))
    assert len(feed_server.hits("/a")) == 1  # not due yet
    refresh(db, source_id, fetcher, NOW + dt.timedelta(minutes=10))
    post = posts(db)["a"]
    assert (post.article_state, post.article_tries, post.article_error) == ("fetched", 2, None)
    assert "Paragraph 5 tells more of the story" in post.content


def test_fetch_the_article_again_from_the_api_and_the_admin(
    db: Database, fetcher: Fetcher, feed_server: FeedServer, client: FlaskClient
) -> None:
    feed_server.routes["/a"] = Reply(404, b"not yet", HTML)
    serve_feed(feed_server, ["/a"])
    source_id = make_source(db, feed_server)
    refresh(db, source_id, fetcher)
    post_id = posts(db)["a"].id
    assert posts(db)["a"].article_state == "failed"

    make_admin(db)
    response = client.post(f"/api/v1/posts/{post_id}/article", headers=bearer(make_token(db)))
    assert response.status_code == 202
    assert response.get_json()["article"] == {"state": "pending", "error": None, "tries": 0}
    feed_server.routes["/a"] = Reply(200, story("First version."), HTML)
    refresh(db, source_id, fetcher)
    assert "First version. Paragraph 1" in posts(db)["a"].content

    sign_in(client)
    page = f"/admin/posts/{post_id}"
    assert "Fetch the article again" in client.get(page).get_data(as_text=True)
    response = post_form(client, page, f"/admin/posts/{post_id}/article", {})
    assert response.status_code == 302
    assert posts(db)["a"].article_state == "pending"
    feed_server.routes["/a"] = Reply(200, story("Second version."), HTML)
    refresh(db, source_id, fetcher)
    assert "Second version. Paragraph 1" in posts(db)["a"].content
    assert len(feed_server.hits("/a")) == 3


def test_a_local_post_has_no_article_to_fetch(db: Database, client: FlaskClient) -> None:
    make_admin(db)
    headers = bearer(make_token(db))
    created = client.post("/api/v1/posts", json={"title": "Mine", "content": "<p>x</p>"},
                          headers=headers)  # fmt: skip
    response = client.post(f"/api/v1/posts/{created.get_json()['id']}/article", headers=headers)
    assert response.status_code == 422
    assert response.get_json()["detail"] == "a local post has no article to fetch"
    assert client.post("/api/v1/posts/999999/article", headers=headers).status_code == 404


def test_the_worker_fetches_the_articles_of_what_it_stored(
    app: Flask, db: Database, feed_server: FeedServer
) -> None:
    feed_server.routes["/a"] = Reply(200, story("Pier rebuilt."), HTML)
    serve_feed(feed_server, ["/a"])
    with db.session() as session:
        add_source(session, feed_server.url("/feed"), dt.datetime.now(dt.UTC), fetch_full=True)
    worker = Worker(db, settings_of(app), name="test-worker")
    try:
        assert worker.dispatch() == 1  # returns once the articles are recorded too
    finally:
        worker.shutdown()
    post = posts(db)["a"]
    assert post.article_state == "fetched"
    assert "Paragraph 5 tells more of the story" in post.content


def test_the_cli_turns_full_articles_on_and_picks_the_selector(
    runner: FlaskCliRunner, db: Database, feed_server: FeedServer
) -> None:
    feed_server.routes["/a"] = Reply(200, story("Pier rebuilt."), HTML)
    serve_feed(feed_server, ["/a"])
    added = runner.invoke(args=["sources", "add", feed_server.url("/feed"), "--fetch-full"])
    assert added.exit_code == 0, added.output
    source_id = int(added.output.split(":")[0].split()[-1])
    changed = runner.invoke(args=["sources", "set", str(source_id), "--article-selector",
                                  "div.story"])  # fmt: skip
    assert changed.exit_code == 0, changed.output
    assert "full articles on (article: div.story)" in changed.output
    fetched = runner.invoke(args=["fetch", str(source_id)])
    assert fetched.exit_code == 0, fetched.output
    assert "Chosen by the selector." in posts(db)["a"].content
    refused = runner.invoke(args=["sources", "set", str(source_id), "--article-selector", "p[["])
    assert refused.exit_code != 0 and "not a CSS selector" in refused.output


def test_the_api_sets_full_articles_and_refuses_a_bad_selector(
    db: Database, client: FlaskClient
) -> None:
    make_admin(db)
    headers = bearer(make_token(db))
    with db.session() as session:
        source_id = add_source(session, "http://feeds.example/news.xml", NOW).id
    path = f"/api/v1/sources/{source_id}"
    assert client.get(path, headers=headers).get_json()["fetch_full"] is False
    response = client.patch(path, json={"fetch_full": True, "article_selector": "main article"},
                            headers=headers)  # fmt: skip
    assert response.status_code == 200
    assert (response.get_json()["fetch_full"], response.get_json()["article_selector"]) == (
        True, "main article")  # fmt: skip
    bad = client.patch(path, json={"article_selector": "p[["}, headers=headers)
    assert bad.status_code == 422
    assert bad.get_json()["field"] == "article_selector"
    assert client.patch(path, json={"fetch_full": "maybe"}, headers=headers).status_code == 422
    created = client.post("/api/v1/sources", headers=headers, json={
        "url": "http://feeds.example/other.xml", "check": False, "fetch_full": True})  # fmt: skip
    assert created.status_code == 201 and created.get_json()["fetch_full"] is True


def test_the_admin_source_settings_turn_full_articles_on_and_off(
    db: Database, client: FlaskClient
) -> None:
    make_admin(db)
    sign_in(client)
    with db.session() as session:
        source_id = add_source(session, "http://feeds.example/news.xml", NOW).id
    page = f"/admin/sources/{source_id}"
    assert 'name="fetch_full"' in client.get(page).get_data(as_text=True)
    # A browser sends the hidden "0" and, ticked, the checkbox's "1".
    post_form(client, page, page, {"fetch_full": ["0", "1"], "article_selector": "#story"})
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None and (source.fetch_full, source.article_selector) == (
            True, "#story")  # fmt: skip
    post_form(client, page, page, {"fetch_full": "0", "article_selector": ""})
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None and (source.fetch_full, source.article_selector) == (False, None)
    refused = post_form(client, page, page, {"article_selector": "p[["}, follow_redirects=True)
    assert "not a CSS selector" in refused.get_data(as_text=True)


KEY = "a-secret-key-for-these-tests-only-0123456789"


def test_article_pages_are_fetched_with_the_sources_options_and_secrets_stay_home(
    db: Database, feed_server: FeedServer
) -> None:
    """A page on the feed's own server gets the source's User-Agent, headers,
    cookie and credentials, as the feed does; a page elsewhere the User-Agent only."""
    from feedsvc.fetch_options import FetchOptionsWanted
    from feedsvc.sources import set_fetch_options

    other = FeedServer().start()
    try:
        feed_server.routes["/a"] = Reply(200, story("Pier rebuilt."), HTML)
        other.routes["/b"] = Reply(200, story("Harbour reopened."), HTML)
        items = [{"guid": url, "title": url, "link": url, "description": SUMMARY}
                 for url in (feed_server.url("/a"), other.url("/b"))]  # fmt: skip
        feed_server.routes["/feed"] = Reply(200, rss("News", items), RSS_TYPE)
        source_id = make_source(db, feed_server)
        with db.session() as session:
            wanted = FetchOptionsWanted(user_agent="Own/2", headers=["X-Api-Key: k3y"],
                                        cookie="session=abc", username="reader", password="pw")
            set_fetch_options(session.get_one(Source, source_id), wanted, KEY)
        allowed = (f"127.0.0.1:{feed_server.port}", f"127.0.0.1:{other.port}")
        settings = FetchSettings(timeout=5, allow_hosts=allowed, max_bytes=MAX_BYTES,
                                 secret_key=KEY)  # fmt: skip
        with Fetcher(settings) as fetcher:
            refresh(db, source_id, fetcher)
        stored = posts(db)
        assert stored["a"].article_state == stored["b"].article_state == "fetched"
        (home,) = feed_server.hits("/a")
        assert home.headers["user-agent"] == "Own/2"
        assert home.headers["cookie"] == "session=abc"
        assert home.headers["x-api-key"] == "k3y"
        assert home.headers["authorization"].startswith("Basic ")
        (away,) = other.hits("/b")
        assert away.headers["user-agent"] == "Own/2"
        assert not {"cookie", "authorization", "x-api-key"} & set(away.headers)
    finally:
        other.stop()


def test_the_admin_adds_a_source_with_full_articles(
    db: Database, client: FlaskClient, feed_server: FeedServer
) -> None:
    serve_feed(feed_server, [])
    make_admin(db)
    sign_in(client)
    url = feed_server.url("/feed")
    preview = post_form(client, "/admin/sources/new", "/admin/sources/new", {"url": url})
    assert 'name="fetch_full"' in preview.get_data(as_text=True)
    # A refused value shows the form again with the box still ticked.
    refused = post_form(client, "/admin/sources/new", "/admin/sources",
                        {"feed_url": url, "fetch_full": "1", "interval": "5"})  # fmt: skip
    assert refused.status_code == 422
    assert 'name="fetch_full" value="1" checked' in refused.get_data(as_text=True)
    created = post_form(client, "/admin/sources/new", "/admin/sources",
                        {"feed_url": url, "fetch_full": "1"})  # fmt: skip
    assert created.status_code == 302, created.get_data(as_text=True)
    with db.session() as session:
        assert session.scalars(select(Source.fetch_full)).one() is True
