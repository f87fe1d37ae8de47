"""Redirects stay home: `next` after sign-in and `back` after a form go only to
a path on this site, whatever whitespace or control characters hide a host."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from feedsvc.db import Database
from feedsvc.web.auth import local_target
from tests.admin_helpers import PASSWORD, csrf_token, make_admin, post_form, sign_in

# As they appear in a query string; the form field gets them decoded.
HOSTILE = [
    "/%09/evil.example/",
    "/%0A/x",
    "/%0D%0A/x",
    "%20//x",
    "https://x",
    "https:/x",
    "//x",
    "/%5Cx",
    "%5C%5Cx",
    "/%E2%80%AE/x",  # a right-to-left override between the slashes
    "javascript:alert(1)",
    "x",
]


def decoded(quoted: str) -> str:
    from urllib.parse import unquote

    return unquote(quoted)


@pytest.mark.parametrize("target", HOSTILE)
def test_next_after_sign_in_never_leaves_the_site(
    client: FlaskClient, db: Database, target: str
) -> None:
    make_admin(db)
    token = csrf_token(client, "/admin/sign-in")
    response = client.post(f"/admin/sign-in?next={target}", data={
        "csrf_token": token, "username": "admin", "password": PASSWORD})  # fmt: skip
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_next_may_name_an_admin_page(client: FlaskClient, db: Database) -> None:
    make_admin(db)
    token = csrf_token(client, "/admin/sign-in")
    response = client.post("/admin/sign-in?next=/admin/sources%3Fstate%3Dfailing", data={
        "csrf_token": token, "username": "admin", "password": PASSWORD})  # fmt: skip
    assert response.headers["Location"] == "/admin/sources?state=failing"


@pytest.fixture
def post_id(client: FlaskClient, db: Database) -> int:
    make_admin(db)
    sign_in(client)
    made = post_form(client, "/admin/posts/new", "/admin/posts/new", {"title": "T", "body": "b"})
    return int(made.headers["Location"].rstrip("/").split("/")[-1])


@pytest.mark.parametrize("target", HOSTILE)
def test_back_after_the_visibility_form_never_leaves_the_site(
    client: FlaskClient, post_id: int, target: str
) -> None:
    edit = f"/admin/posts/{post_id}"
    response = post_form(client, edit, f"{edit}/visibility",
                         {"hidden": "1", "back": decoded(target)})  # fmt: skip
    assert response.status_code == 302
    assert response.headers["Location"] == edit


def test_back_returns_to_the_list_it_came_from(client: FlaskClient, post_id: int) -> None:
    edit = f"/admin/posts/{post_id}"
    response = post_form(client, edit, f"{edit}/visibility",
                         {"hidden": "1", "back": "/admin/posts?kind=hidden&page=2"})  # fmt: skip
    assert response.headers["Location"] == "/admin/posts?kind=hidden&page=2"


@pytest.mark.parametrize("target", [*HOSTILE, "", None])
def test_local_target_gives_the_default_for_anything_but_a_local_path(
    target: str | None,
) -> None:
    assert local_target(None if target is None else decoded(target), "/home") == "/home"


def test_local_target_keeps_a_path_and_drops_what_a_browser_would_drop() -> None:
    assert local_target("/admin/posts?q=a%20b", "/home") == "/admin/posts?q=a%20b"
    assert local_target("/admin/\tposts", "/home") == "/admin/posts"
    assert local_target("/a\\b", "/home") == "/a\\b"
