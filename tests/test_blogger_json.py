"""Blogger's JSON (alt=json, alt=json-in-script) read field by field the way
Blogger widgets read it, and the callback name refused when it could be
anything but a function's name."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.db import Database
from feedsvc.posts import create_local_post
from feedsvc.publish.blogger import UnsafeCallback, check_callback

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def blog(db: Database) -> None:
    with db.session() as session:
        for n in range(3):
            create_local_post(
                session, title=f"Post {n} </script><b>", author="Ann Lee",
                body_html=f'<p>Body {n}</p><img src="http://img.example/{n}.jpg">',
                now=NOW - dt.timedelta(days=n), summary_length=100, tags=["Travel", "Food"],
            )  # fmt: skip


def _widget_read(document: dict) -> list[dict]:  # type: ignore[type-arg]
    """What a typical Blogger 'recent posts' widget takes from each entry."""
    read = []
    for entry in document["feed"]["entry"]:
        alternate = next(link for link in entry["link"] if link["rel"] == "alternate")
        read.append({
            "title": entry["title"]["$t"],
            "url": alternate["href"],
            "published": entry["published"]["$t"],
            "labels": [category["term"] for category in entry["category"]],
            "thumbnail": entry["media$thumbnail"]["url"],
            "text": (entry.get("content") or entry["summary"])["$t"],
            "author": entry["author"][0]["name"]["$t"],
        })  # fmt: skip
    return read


def test_alt_json_has_blogger_shape(client: FlaskClient, blog: None) -> None:
    response = client.get("/feeds/posts/default?alt=json&max-results=2")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["version"] == "1.0" and document["encoding"] == "UTF-8"
    feed = document["feed"]
    assert feed["openSearch$totalResults"] == {"$t": "3"}
    assert feed["openSearch$startIndex"] == {"$t": "1"}
    assert feed["openSearch$itemsPerPage"] == {"$t": "2"}
    assert feed["title"]["$t"] == "Test Feeds"
    rels = {link["rel"]: link["href"] for link in feed["link"]}
    assert rels["alternate"] == "http://feeds.test/"
    assert rels["next"] == ("http://feeds.test/feeds/posts/default?alt=json"
                            "&start-index=3&max-results=2")  # fmt: skip
    first = _widget_read(document)[0]
    assert first["title"] == "Post 0 </script><b>"
    assert re.fullmatch(r"http://feeds\.test/posts/\d+-post-0-script-b", first["url"])
    assert first["published"] == "2026-11-24T12:00:00.000+00:00"
    assert sorted(first["labels"]) == ["Food", "Travel"]
    assert first["thumbnail"] == "http://img.example/0.jpg"
    assert "<p>Body 0</p>" in first["text"]
    assert first["author"] == "Ann Lee"
    second_page = client.get("/feeds/posts/default?alt=json&max-results=2&start-index=3")
    assert second_page.get_json()["feed"]["openSearch$startIndex"] == {"$t": "3"}
    assert len(second_page.get_json()["feed"]["entry"]) == 1


def test_summary_feed_and_labels_and_query(client: FlaskClient, blog: None) -> None:
    document = client.get("/feeds/posts/summary/-/Travel?alt=json&q=body").get_json()
    entry = document["feed"]["entry"][0]
    assert "content" not in entry and entry["summary"]["type"] == "text"
    assert document["feed"]["openSearch$totalResults"] == {"$t": "3"}


def test_text_cannot_close_a_script(client: FlaskClient, blog: None) -> None:
    body = client.get("/feeds/posts/default?alt=json").data
    assert b"<" not in body and b">" not in body
    assert json.loads(body)["feed"]["entry"][0]["title"]["$t"].startswith("Post 0 </script>")


def test_json_in_script_calls_the_callback(client: FlaskClient, blog: None) -> None:
    response = client.get("/feeds/posts/default?alt=json-in-script&callback=showPosts.recent_1")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = response.get_data(as_text=True)
    assert text.startswith("// API callback\nshowPosts.recent_1({") and text.endswith("});")
    inner = text[len("// API callback\nshowPosts.recent_1(") : -2]
    assert json.loads(inner)["feed"]["openSearch$totalResults"] == {"$t": "3"}
    bare = client.get("/feeds/posts/default?alt=json-in-script").get_data(as_text=True)
    assert bare.startswith("// API callback\ngdata.io.handleScriptLoaded({")


@pytest.mark.parametrize("name", [
    "alert(1)", "a;alert(1)", "a b", "<script>", "a\u2028b", "1abc", ".a", "a.", "a..b",
    "", "a-b", "a[0]", "a\x00", "x" * 101, "é", "a/*", "a=b", "a'b",
])  # fmt: skip
def test_unsafe_callbacks_are_refused(client: FlaskClient, blog: None, name: str) -> None:
    from urllib.parse import quote

    response = client.get("/feeds/posts/default?alt=json-in-script&callback=" + quote(name))
    assert response.status_code == 400
    assert b"callback" in response.data
    assert name.encode() not in response.data or not name


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(name=st.text(max_size=30))
def test_an_accepted_callback_is_only_a_dotted_name(name: str) -> None:
    try:
        check_callback(name)
    except UnsafeCallback:
        return
    assert re.fullmatch(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*", name, re.ASCII)


def test_json_feed_stays_at_its_address(client: FlaskClient, blog: None) -> None:
    document = client.get("/feeds/posts.json").get_json()
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert client.get("/feeds/posts/default?alt=jsonfeed").status_code == 400
