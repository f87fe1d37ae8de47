"""Comment feeds: the site's and each post's, in Atom, RSS and JSON Feed, under
our addresses and Blogger's; threading (RFC 4685) both ways; caching that a
comment moves only where it must; WebSub."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import select

from feedsvc import changes, comments
from feedsvc.db import Database
from feedsvc.metrics import FEED_RENDERS
from feedsvc.models import Comment, Post
from feedsvc.publish import websub
from tests.commenting import NOW, add_post
from tests.publish_helpers import ATOM_NS, check_feed

THR = "{http://purl.org/syndication/thread/1.0}"


COMMENT_CONFIG = {"WEBSUB_HUBS": ("http://hub.example/",)}


def comment(db: Database, post_id: int, body: str, parent: int | None = None,
            minutes: int = 0) -> int:  # fmt: skip
    """An approved comment, as moderation leaves it."""
    with db.session() as session:
        made = Comment(post_id=post_id, parent_id=parent, state="approved", author_name="Ada",
                       author_key="k", body=body,
                       created_at=NOW + dt.timedelta(minutes=minutes))  # fmt: skip
        session.add(made)
        session.flush()
        comments.approve(session, [made.id], NOW)
        return made.id


def urn_of(db: Database, model: Any, row_id: int) -> str:
    with db.session() as session:
        return uuid.UUID(hex=session.get(model, row_id).uid).urn


@pytest.fixture
def talk(cdb: Database) -> dict[str, int]:
    post_id = add_post(cdb, "Talked about")
    other = add_post(cdb, "Quiet")
    top = comment(cdb, post_id, "First <b>bold</b> http://example.org/x", minutes=1)
    reply = comment(cdb, post_id, "A reply", parent=top, minutes=2)
    elsewhere = comment(cdb, other, "Elsewhere", minutes=3)
    return {"post": post_id, "other": other, "top": top, "reply": reply, "elsewhere": elsewhere}


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_every_comment_feed_is_valid_in_every_format(
    capp: Flask, talk: dict[str, int], fmt: str
) -> None:
    client = capp.test_client()
    for path in ("/feeds/comments", f"/feeds/posts/{talk['post']}/comments"):
        answer = client.get(f"{path}.{fmt}")
        assert answer.status_code == 200, path
        check_feed(fmt, answer.data)
    site = check_feed(fmt, client.get(f"/feeds/comments.{fmt}").data)
    items = site["items"] if fmt == "json" else site.entries
    assert len(items) == 3
    mine = check_feed(fmt, client.get(f"/feeds/posts/{talk['post']}/comments.{fmt}").data)
    mine_items = mine["items"] if fmt == "json" else mine.entries
    assert len(mine_items) == 2
    # Newest first; the commenter's markup is text, their address a link.
    if fmt == "json":
        assert "&lt;b&gt;bold&lt;/b&gt;" in mine_items[1]["content_html"]
        assert mine_items[1]["url"].endswith(f"#comment-{talk['top']}")
    else:
        assert mine_items[0].title.startswith("Ada on “Talked about”")
        text = mine_items[1].content[0].value if fmt == "atom" else mine_items[1].description
        assert "&lt;b&gt;bold&lt;/b&gt;" in text and '<a href="http://example.org/x"' in text


def test_atom_comment_entries_say_what_they_reply_to(
    capp: Flask, cdb: Database, talk: dict[str, int]
) -> None:
    body = capp.test_client().get(f"/feeds/posts/{talk['post']}/comments.atom").data
    root = etree.fromstring(body)
    by_id = {e.findtext(ATOM_NS + "id"): e for e in root.findall(ATOM_NS + "entry")}
    post_ref = urn_of(cdb, Post, talk["post"])
    top_ref = urn_of(cdb, Comment, talk["top"])
    reply_ref = urn_of(cdb, Comment, talk["reply"])
    page = f"http://feeds.test/posts/{talk['post']}-talked-about"
    top = by_id[top_ref].findall(THR + "in-reply-to")
    assert [(t.get("ref"), t.get("href")) for t in top] == [(post_ref, page)]
    reply = by_id[reply_ref].findall(THR + "in-reply-to")
    assert [(t.get("ref"), t.get("href")) for t in reply] == [
        (post_ref, page), (top_ref, f"{page}#comment-{talk['top']}")]  # fmt: skip
    # feedparser reads the same.
    parsed = check_feed("atom", body)
    refs = {e.id: e.get("thr_in-reply-to", {}).get("ref") for e in parsed.entries}
    assert refs[top_ref] == post_ref


def test_post_feeds_link_each_posts_comments(capp: Flask, talk: dict[str, int]) -> None:
    client = capp.test_client()
    atom = etree.fromstring(client.get("/feeds/posts.atom").data)
    entry = next(e for e in atom.findall(ATOM_NS + "entry")
                 if e.findtext(ATOM_NS + "title") == "Talked about")  # fmt: skip
    replies = {link.get("type"): link for link in entry.findall(ATOM_NS + "link")
               if link.get("rel") == "replies"}  # fmt: skip
    feed = replies["application/atom+xml"]
    assert feed.get("href") == f"http://feeds.test/feeds/posts/{talk['post']}/comments.atom"
    assert feed.get(THR + "count") == "2"
    assert replies["text/html"].get("href").endswith("-talked-about#comments")
    check_feed("atom", client.get("/feeds/posts.atom").data)
    rss = client.get("/feeds/posts.rss").data
    parsed = check_feed("rss", rss)
    item = next(e for e in parsed.entries if e.title == "Talked about")
    assert item.comments.endswith("-talked-about#comments")
    assert item.wfw_commentrss == f"http://feeds.test/feeds/posts/{talk['post']}/comments.rss"
    assert item.slash_comments == "2"
    document = check_feed("json", client.get("/feeds/posts.json").data)
    item = next(i for i in document["items"] if i["title"] == "Talked about")
    assert item["_comments"]["count"] == 2
    assert item["_comments"]["feed_url"].endswith(f"/posts/{talk['post']}/comments.json")


def test_bloggers_comment_addresses(capp: Flask, talk: dict[str, int]) -> None:
    client = capp.test_client()
    site = check_feed("atom", client.get("/feeds/comments/default").data)
    assert len(site.entries) == 3
    assert site.feed.links[0].href == "http://feeds.test/feeds/comments/default"
    mine = check_feed("rss", client.get(f"/feeds/{talk['post']}/comments/default?alt=rss").data)
    assert len(mine.entries) == 2
    paged = check_feed("atom", client.get(
        f"/feeds/{talk['post']}/comments/default?max-results=1&start-index=2").data)  # fmt: skip
    assert [e.title for e in paged.entries] == ["Ada on “Talked about”"]
    blogger_json = client.get(f"/feeds/{talk['post']}/comments/default?alt=json")
    assert blogger_json.status_code == 200
    assert blogger_json.get_json()["feed"]["openSearch$totalResults"]["$t"] == "2"
    assert client.get("/feeds/comments/default?alt=csv").status_code == 400
    assert client.get("/feeds/99999/comments/default").status_code == 404


def test_comment_feeds_page(capp: Flask, talk: dict[str, int]) -> None:
    client = capp.test_client()
    first = check_feed("atom", client.get("/feeds/comments.atom?limit=2").data)
    links = {link.rel: link.href for link in first.feed.links}
    assert links["next"] == "http://feeds.test/feeds/comments.atom?page=2&limit=2"
    second = check_feed("atom", client.get("/feeds/comments.atom?page=2&limit=2").data)
    assert [e.content[0].value for e in second.entries] == ["<p>First &lt;b&gt;bold&lt;/b&gt; "
        '<a href="http://example.org/x" rel="nofollow ugc noopener noreferrer">'
        "http://example.org/x</a></p>"]  # fmt: skip
    assert len(check_feed("atom", client.get("/feeds/comments.atom?page=last&limit=2").data
                          ).entries) == 1  # fmt: skip
    assert client.get("/feeds/comments.atom?page=3&limit=2").status_code == 404
    assert client.get("/feeds/comments.atom?q=x").status_code == 400
    assert client.get("/feeds/comments.atom?limit=0").status_code == 400


def test_missing_or_hidden_posts_have_no_comment_feed(
    capp: Flask, cdb: Database, talk: dict[str, int]
) -> None:
    client = capp.test_client()
    assert client.get("/feeds/posts/99999/comments.atom").status_code == 404
    assert client.get(f"/feeds/posts/{talk['post']}/comments.xml").status_code == 404
    with cdb.session() as session:
        post = session.get(Post, talk["post"])
        assert post is not None
        post.hidden = True
        changes.note_changes(session, NOW)
    assert client.get(f"/feeds/posts/{talk['post']}/comments.atom").status_code == 404
    site = check_feed("atom", client.get("/feeds/comments.atom").data)
    assert [e.title for e in site.entries] == ["Ada on “Quiet”"]


def test_conditional_requests_get_304(capp: Flask, talk: dict[str, int]) -> None:
    client = capp.test_client()
    path = f"/feeds/posts/{talk['post']}/comments.atom"
    first = client.get(path)
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def renders(kind: str) -> float:
    return FEED_RENDERS.labels(kind)._value.get()  # type: ignore[no-any-return]


def test_a_comment_moves_only_its_posts_comment_feeds(
    capp: Flask, cdb: Database, talk: dict[str, int]
) -> None:
    client = capp.test_client()
    paths = {
        "posts": "/feeds/posts.atom",
        "site": "/feeds/comments.atom",
        "mine": f"/feeds/posts/{talk['post']}/comments.atom",
        "other": f"/feeds/posts/{talk['other']}/comments.atom",
    }
    before = {name: client.get(path).headers["ETag"] for name, path in paths.items()}
    posts, post_comments, site = renders("posts"), renders("post_comments"), renders("comments")
    comment(cdb, talk["post"], "One more", minutes=5)
    after = {name: client.get(path).headers["ETag"] for name, path in paths.items()}
    assert after["posts"] == before["posts"]
    assert after["other"] == before["other"]
    assert after["mine"] != before["mine"] and after["site"] != before["site"]
    # Served from the render cache: only the comment feeds rendered again.
    assert renders("posts") == posts
    assert renders("post_comments") == post_comments + 1  # its post's, not the other's
    assert renders("comments") == site + 1
    # The post page and the listing count it at once.
    assert "Comments (3)" in client.get(f"/posts/{talk['post']}-talked-about").get_data(
        as_text=True)  # fmt: skip
    assert "3 comments</a>" in client.get("/").get_data(as_text=True)


def test_comments_are_announced_to_websub_hubs(
    capp: Flask, cdb: Database, talk: dict[str, int]
) -> None:
    with cdb.session() as session:
        changes.take_dirty_scopes(session)
    comment(cdb, talk["other"], "Ping")
    with cdb.session() as session:
        scopes = changes.peek_dirty_scopes(session)
        assert scopes == ["comments", f"comments:{talk['other']}"]
        topics = websub.topics_for(session, scopes, capp.extensions["feedsvc.settings"])
    other = talk["other"]
    for expected in ("http://feeds.test/feeds/comments.atom", "http://feeds.test/feeds/comments.rss",
                     "http://feeds.test/feeds/comments/default",
                     f"http://feeds.test/feeds/posts/{other}/comments.json",
                     f"http://feeds.test/feeds/{other}/comments/default?alt=rss"):  # fmt: skip
        assert expected in topics
    assert not [t for t in topics if "/feeds/posts.atom" in t]
    feed = etree.fromstring(capp.test_client().get("/feeds/comments.atom").data)
    hubs = [link.get("href") for link in feed.findall(ATOM_NS + "link") if link.get("rel") == "hub"]
    assert hubs == ["http://hub.example/"]


def test_an_empty_comment_feed_is_valid(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb, "Nobody yet")
    for fmt in ("atom", "rss", "json"):
        check_feed(fmt, capp.test_client().get(f"/feeds/posts/{post_id}/comments.{fmt}").data)
    with cdb.session() as session:
        assert session.scalars(select(Comment)).all() == []
