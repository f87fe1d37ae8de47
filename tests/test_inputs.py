"""Every input answered: pages and ids bounded by one rule on the site, the
feeds and the API; bodies too deep or malformed refused; what a person names
(titles, tags, URLs) free of invisible control characters, and tags that make
an address."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from feedsvc import fields, posts, sources
from feedsvc.db import Database
from feedsvc.models import Post, Source, Tag
from tests.admin_helpers import bearer, make_admin, make_token, post_form, sign_in
from tests.test_api import assert_problem

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
HUGE = "99999999999999999999"  # beyond any 64-bit integer
BIDI = "evil\u202etxt.exe"  # shows as "eviltxt.exe" reversed: "evilexe.txt"


@pytest.fixture
def stored(db: Database) -> dict[str, int]:
    """A source, a local post tagged "python", an admin and a token."""
    make_admin(db)
    with db.session() as session:
        source = sources.add_source(session, "http://127.0.0.1:9/feed", NOW, title="Source")
        post = posts.create_local_post(session, title="Hello", body_html="<p>Hi</p>", now=NOW,
                                       summary_length=100, tags=["python"])  # fmt: skip
        return {"source": source.id, "post": post.id}


@pytest.fixture
def token(db: Database, stored: dict[str, int]) -> dict[str, str]:
    return bearer(make_token(db))


# --- pages: one rule everywhere -----------------------------------------------

LISTINGS = ["/", "/tags/python", "/sources/1", "/feeds/posts.atom", "/feeds/tags/python.rss",
            "/api/v1/posts", "/api/v1/sources"]  # fmt: skip


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ("0", "page must be between 1 and 1000000"),
        ("-1", "page must be between 1 and 1000000"),
        (HUGE, "page must be between 1 and 1000000"),
        (str(2**62), "page must be between 1 and 1000000"),
        ("1000001", "page must be between 1 and 1000000"),
        ("abc", "page must be a whole number, not 'abc'"),
        ("²", "page must be a whole number, not '²'"),  # str.isdigit() says yes, int() no
        ("1.5", "page must be a whole number, not '1.5'"),
    ],
)
def test_a_bad_page_is_refused_with_the_same_reason_everywhere(
    client: FlaskClient, token: dict[str, str], page: str, reason: str
) -> None:
    for path in LISTINGS:
        response = client.get(path, query_string={"page": page}, headers=token)
        assert response.status_code == 400, path
        if path.startswith("/api/"):
            assert assert_problem(response, 400, "page")["detail"] == reason
        assert reason in html.unescape(response.get_data(as_text=True)), path


def test_a_page_in_range_is_served_or_missing(client: FlaskClient, stored: dict[str, int]) -> None:
    assert client.get("/?page=1").status_code == 200
    assert client.get("/?page=").status_code == 200  # empty: the first, as in the feeds
    assert client.get("/?page=1000000").status_code == 404
    assert client.get("/feeds/posts.atom?page=1000000").status_code == 404


def test_blogger_paging_is_bounded_too(client: FlaskClient, stored: dict[str, int]) -> None:
    far = client.get(f"/feeds/posts/default?start-index={HUGE}1&max-results=1")
    assert far.status_code == 400
    assert "start-index must be between 1 and" in far.get_data(as_text=True)
    many = client.get(f"/feeds/posts/default?max-results={HUGE}")
    assert many.status_code == 400
    assert "max-results must be between 1 and 1000000" in many.get_data(as_text=True)
    assert client.get("/feeds/posts/default?max-results=500").status_code == 200  # clamped


def test_an_unslugifiable_blogger_label_names_no_tag(
    client: FlaskClient, db: Database, stored: dict[str, int]
) -> None:
    # A tag may be called "Post" (once dropped as if it had no slug) …
    with db.session() as session:
        posts.create_local_post(session, title="About posts", body_html="x", now=NOW,
                                summary_length=100, tags=["Post"])  # fmt: skip
    assert "About posts" in client.get("/feeds/posts/default/-/Post").get_data(as_text=True)
    # … and a label with nothing to slugify is not taken for it.
    other = client.get("/feeds/posts/default/-/日本語")
    assert other.status_code == 200 and "About posts" not in other.get_data(as_text=True)


# --- ids: beyond the columns' range, no such row ------------------------------

ID_ROUTES = ["/posts/{}", "/posts/{}-slug", "/sources/{}", "/feeds/sources/{}.atom",
             "/api/v1/sources/{}", "/api/v1/posts/{}", "/api/v1/sources/{}/fetches",
             "/admin/sources/{}", "/admin/posts/{}"]  # fmt: skip


@pytest.mark.parametrize("number", [HUGE, str(2**63), str(2**31), "0", "9" * 5000])
def test_an_id_no_row_can_have_is_not_found(
    client: FlaskClient, token: dict[str, str], number: str
) -> None:
    sign_in(client)
    for route in ID_ROUTES:
        response = client.get(route.format(number), headers=token)
        assert response.status_code == 404, route
        if route.startswith("/api/"):
            assert_problem(response, 404)


def test_the_largest_id_is_looked_up(client: FlaskClient, token: dict[str, str]) -> None:
    largest = str(2**31 - 1)
    assert client.get(f"/posts/{largest}").status_code == 404
    assert_problem(client.get(f"/api/v1/sources/{largest}", headers=token), 404)
    assert client.get("/api/v1/sources/1", headers=token).status_code == 200


@pytest.mark.parametrize("path", ["/tags/a%00b", "/feeds/tags/a%00b.atom", "/tags/Py thon",
                                  "/tags/-python", "/feeds/tags/%E2%80%AE.json"])  # fmt: skip
def test_what_is_no_slug_names_no_tag(
    client: FlaskClient, stored: dict[str, int], path: str
) -> None:
    # PostgreSQL refuses a NUL in text: such a slug must not reach it.
    assert client.get(path).status_code == 404


def test_api_id_filters_are_bounded(client: FlaskClient, token: dict[str, str]) -> None:
    for value in (HUGE, "²", "0"):
        assert_problem(client.get(f"/api/v1/posts?source_id={value}", headers=token), 400,
                       "source_id")  # fmt: skip


# --- bodies ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "recursion limit exceeded"),
        ('{"title": ' + "[" * 300 + "]" * 300 + ', "content": ""}', "recursion limit exceeded"),
        ('{"title": "a", "content": "", "tags": [' + "1" * 5000 + "]}", "number out of range"),
        ('{"title": "a\\ud800", "content": ""}', "hex escape"),
        ('{"title": "a", "content": ', "EOF while parsing"),
        (b'{"title": "\xff", "content": ""}', "invalid unicode code point"),
        (b"\xff\xfe", "expected value"),
    ],
)
def test_a_body_too_deep_or_malformed_is_a_400_problem(
    client: FlaskClient, token: dict[str, str], body: str | bytes, reason: str
) -> None:
    response = client.post("/api/v1/posts", data=body, content_type="application/json",
                           headers=token)  # fmt: skip
    problem = assert_problem(response, 400)
    assert problem["detail"].startswith("the body is not valid JSON: ")
    assert reason in problem["detail"]


def test_valid_json_of_the_wrong_shape_is_a_422(client: FlaskClient, token: dict[str, str]) -> None:
    assert_problem(client.post("/api/v1/posts", data="null", content_type="application/json",
                               headers=token), 422)  # fmt: skip
    assert_problem(client.post("/api/v1/posts", json=[1], headers=token), 422)


# --- what a person names -------------------------------------------------------


@pytest.mark.parametrize(
    "char", ["\u202e", "\u202a", "\u2066", "\u2067", "\u2068", "\u2069", "\u200b", "\u200e",
             "\ufeff", "\x00", "\x1b", "\x85", "\u2028"],
)  # fmt: skip
def test_invisible_control_characters_are_refused_naming_the_field(char: str) -> None:
    with pytest.raises(fields.FieldError) as caught:
        fields.check_text(f"a{char}b", "title")
    assert caught.value.field == "title"
    assert f"U+{ord(char):04X}" in str(caught.value)
    with pytest.raises(fields.FieldError):
        fields.check_tag(f"tag{char}", "tags")


@pytest.mark.parametrize(
    "text", ["Plain title", "Café — naïve", "عربي", "עברית", "می‌خواهم", "👩‍💻 at work", ""]
)
def test_visible_text_of_any_script_is_kept(text: str) -> None:
    # Zero-width (non-)joiners are format characters that Persian and emoji need.
    assert fields.check_text(text, "title") == text


def test_a_tag_must_make_an_address() -> None:
    assert fields.check_tag("  C++ ") == "C++"
    assert fields.check_tag("Post") == "Post"
    assert fields.check_tag("日本語") == "日本語"  # another script: a hashed address
    for name, reason in [("", "a letter or a digit"), ("#!", "a letter or a digit"),
                         ("😀", "a letter or a digit"),
                         ("x" * 101, "a first word of at most 100 characters"),
                         ("x" * 201, "at most 200 characters")]:  # fmt: skip
        with pytest.raises(fields.FieldError, match=reason):
            fields.check_tag(name)


def source_tags(db: Database, source_id: int) -> list[str]:
    with db.session() as session:
        return sorted(tag.name for tag in session.get(Source, source_id).tags)


def test_api_patch_refuses_a_tag_it_cannot_slugify_and_changes_nothing(
    client: FlaskClient, db: Database, token: dict[str, str], stored: dict[str, int]
) -> None:
    path = f"/api/v1/sources/{stored['source']}"
    assert client.patch(path, json={"tags": ["kept"]}, headers=token).status_code == 200
    refused = client.patch(path, json={"tags": ["ok", "#!"]}, headers=token)
    assert "#!" in assert_problem(refused, 422, "tags.1")["detail"]
    assert source_tags(db, stored["source"]) == ["kept"]
    assert_problem(client.patch(path, json={"tags": [" "]}, headers=token), 422, "tags.0")


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/sources", {"url": "http://example.org/f", "check": False,
                                     "title": BIDI}, "title"),
        ("POST", "/api/v1/sources", {"url": "http://example.org/f", "check": False,
                                     "tags": ["a\u2066b"]}, "tags.0"),
        ("POST", "/api/v1/sources", {"url": "http://example.org:0/f", "check": False}, "url"),
        ("POST", "/api/v1/sources", {"url": "http://example.org:65536/f", "check": False}, "url"),
        ("POST", "/api/v1/sources", {"url": "http://exa\u202emple.org/f", "check": False}, "url"),
        ("PATCH", "/api/v1/sources/1", {"title": BIDI}, "title"),
        ("PATCH", "/api/v1/sources/1", {"site_url": "http://example.org:0/"}, "site_url"),
        ("PATCH", "/api/v1/sources/1", {"site_url": "http://ex\u2067ample.org/"}, "site_url"),
        ("POST", "/api/v1/posts", {"title": BIDI, "content": ""}, "title"),
        ("POST", "/api/v1/posts", {"title": "t", "content": "", "author": "A\u200bnn"}, "author"),
        ("POST", "/api/v1/posts", {"title": "t", "content": "", "tags": ["\u202e"]}, "tags.0"),
        ("PATCH", "/api/v1/posts/1", {"title": BIDI}, "title"),
        ("PATCH", "/api/v1/posts/1", {"tags": ["ok", "ñ\u2069"]}, "tags.1"),
    ],
)  # fmt: skip
def test_api_refuses_invisible_characters_and_bad_ports_naming_the_field(
    client: FlaskClient, db: Database, token: dict[str, str], stored: dict[str, int],
    method: str, path: str, body: dict[str, object], field: str,
) -> None:  # fmt: skip
    assert_problem(client.open(path, method=method, json=body, headers=token), 422, field)
    with db.session() as session:  # nothing written
        assert session.scalars(select(Source.title)).all() == ["Source"]
        assert session.scalars(select(Post.title)).all() == ["Hello"]
        assert session.scalars(select(Tag.name)).all() == ["python"]


def test_the_admin_forms_refuse_them_too(
    client: FlaskClient, db: Database, stored: dict[str, int]
) -> None:
    sign_in(client)
    source_page = f"/admin/sources/{stored['source']}"
    saved = post_form(client, source_page, source_page,
                      {"title": BIDI, "tags": "python"}, follow_redirects=True)  # fmt: skip
    assert "title: contains an invisible control character (U+202E" in saved.get_data(as_text=True)
    saved = post_form(client, source_page, source_page,
                      {"title": "Source", "tags": "ok, #!"}, follow_redirects=True)  # fmt: skip
    assert "the tag &#39;#!&#39; needs a letter or a digit" in saved.get_data(as_text=True)
    assert source_tags(db, stored["source"]) == []
    new = post_form(client, "/admin/posts/new", "/admin/posts/new",
                    {"title": "Hi", "body": "x", "tags": "a\u2066b"})  # fmt: skip
    assert new.status_code == 422
    assert "tags: contains an invisible control character" in new.get_data(as_text=True)
    edit_page = f"/admin/posts/{stored['post']}"
    edit = post_form(client, edit_page, edit_page, {"title": BIDI, "body": "x", "tags": ""})
    assert edit.status_code == 422
    with db.session() as session:
        assert session.get(Post, stored["post"]).title == "Hello"
        assert session.scalars(select(Tag.name).order_by(Tag.name)).all() == ["python"]


def test_the_cli_refuses_them_too(runner: FlaskCliRunner, db: Database) -> None:
    result = runner.invoke(args=["sources", "add", "--no-check", "--title", BIDI,
                                 "http://example.org/f"])  # fmt: skip
    assert result.exit_code == 2
    assert "contains an invisible control character (U+202E" in result.output
    result = runner.invoke(args=["sources", "add", "--no-check", "http://example.org:0/f"])
    assert result.exit_code == 1 and "port must be a whole number from 1 to 65535" in result.output
    with db.session() as session:
        assert session.scalars(select(Source)).all() == []
