"""The whole service on one path: add a source, fetch it, publish it."""

from __future__ import annotations

import feedparser
from flask.testing import FlaskClient, FlaskCliRunner

from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss

ITEMS = [
    {
        "guid": f"urn:example:{n}",
        "title": f"Upstream post {n}",
        "link": f"http://example.org/posts/{n}",
        "description": f"&lt;p&gt;Body of post {n}, with &lt;b&gt;bold&lt;/b&gt; text.&lt;/p&gt;",
        "pubDate": f"Mon, {10 + n:02d} Nov 2026 09:00:00 GMT",
    }
    for n in range(1, 4)
]


def _feed_titles_and_links(client: FlaskClient, path: str) -> list[tuple[str, str]]:
    response = client.get(path)
    assert response.status_code == 200
    parsed = feedparser.parse(response.data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return [(e.title, e.link) for e in parsed.entries]


def test_add_fetch_publish(
    runner: FlaskCliRunner, client: FlaskClient, feed_server: FeedServer, tmp_path: object
) -> None:
    feed_server.routes["/feed.xml"] = Reply(200, rss("Upstream", ITEMS), RSS_TYPE)

    added = runner.invoke(args=["sources", "add", feed_server.url("/feed.xml")])
    assert added.exit_code == 0, added.output
    assert "added source 1: Upstream" in added.output
    assert "first fetch: ok, 3 new" in added.output  # fetched at once, as the admin does

    fetched = runner.invoke(args=["fetch", "--all"])
    assert fetched.exit_code == 0, fetched.output
    assert "1 sources: 1 ok" in fetched.output

    atom = _feed_titles_and_links(client, "/feeds/posts.atom")
    rss_entries = _feed_titles_and_links(client, "/feeds/posts.rss")
    assert [title for title, _ in atom] == ["Upstream post 3", "Upstream post 2", "Upstream post 1"]
    assert atom == rss_entries
    assert all(link.startswith("http://feeds.test/posts/") for _, link in atom)

    # A second fetch stores nothing twice.
    again = runner.invoke(args=["fetch", "1"])
    assert again.exit_code == 0, again.output
    assert "0 new, 0 updated" in again.output
    assert len(_feed_titles_and_links(client, "/feeds/posts.atom")) == 3

    # A local post shows up in both feeds and on the index.
    body = tmp_path / "body.html"  # type: ignore[operator]
    body.write_text("<p>Written here, not fetched.</p>", encoding="utf-8")
    local = runner.invoke(
        args=["posts", "add", "--title", "Our own post", "--body-file", str(body)]
    )
    assert local.exit_code == 0, local.output
    for path in ("/feeds/posts.atom", "/feeds/posts.rss"):
        titles = [title for title, _ in _feed_titles_and_links(client, path)]
        assert "Our own post" in titles and len(titles) == 4
    page = client.get("/").get_data(as_text=True)
    assert "Our own post" in page
    assert "Upstream post 2" in page
    assert "Written here, not fetched." in page


def test_feed_entries_carry_content_dates_and_origin(
    runner: FlaskCliRunner, client: FlaskClient, feed_server: FeedServer
) -> None:
    feed_server.routes["/feed.xml"] = Reply(200, rss("Upstream", ITEMS[:1]), RSS_TYPE)
    assert runner.invoke(args=["sources", "add", feed_server.url("/feed.xml")]).exit_code == 0
    assert runner.invoke(args=["fetch", "--all"]).exit_code == 0

    atom = feedparser.parse(client.get("/feeds/posts.atom").data)
    entry = atom.entries[0]
    assert entry.id.startswith("urn:uuid:")
    assert entry.published_parsed[:3] == (2026, 11, 11)
    assert "<b>bold</b>" in entry.content[0].value
    assert entry.summary.startswith("Body of post 1")
    assert any(link.href == "http://example.org/posts/1" for link in entry.links)
    assert atom.feed.title == "Test Feeds"
    rels = {link.rel: link.href for link in atom.feed.links}
    assert rels["self"] == "http://feeds.test/feeds/posts.atom"
    assert rels["alternate"] == "http://feeds.test/"

    rss_doc = feedparser.parse(client.get("/feeds/posts.rss").data)
    item = rss_doc.entries[0]
    assert item.id == entry.id
    assert item.guidislink is False
    assert item.source.title == "Upstream"
