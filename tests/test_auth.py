"""Who may use the admin pages and the API: signed-in admins, live tokens, real forms."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from feedsvc import create_app
from feedsvc.db import Database
from tests.admin_helpers import (
    PASSWORD,
    bearer,
    csrf_token,
    make_admin,
    make_token,
    post_form,
    sign_in,
)


def _routes(app: Flask, prefix: str) -> list[tuple[str, str]]:
    """Every (method, path) under the prefix, with 1 for each id."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix):
            continue
        path = re.sub(r"<int:\w+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


def test_every_admin_page_redirects_an_anonymous_visitor_to_sign_in(
    app: Flask, client: FlaskClient
) -> None:
    routes = [r for r in _routes(app, "/admin") if not r[1].startswith("/admin/sign-")]
    assert len(routes) >= 15
    # A real form token, so POSTs get past CSRF and meet the sign-in check itself.
    token = csrf_token(client, "/admin/sign-in")
    for method, path in routes:
        data = {"csrf_token": token} if method == "POST" else None
        response = client.open(path, method=method, data=data)
        assert response.status_code == 302, (method, path, response.status_code)
        assert response.headers["Location"].startswith("/admin/sign-in?next="), (method, path)


def test_every_api_route_but_the_openapi_document_needs_a_live_token(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    make_admin(db)
    live = make_token(db)
    routes = [r for r in _routes(app, "/api/v1") if r[1] != "/api/v1/openapi.json"]
    assert len(routes) >= 14
    for headers in ({}, bearer("fsv_wrong"), bearer("not-even-the-format"),
                    {"Authorization": f"Basic {live}"}):  # fmt: skip
        for method, path in routes:
            response = client.open(path, method=method, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.mimetype == "application/problem+json"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/stats", headers=bearer(live)).status_code == 200


def test_a_revoked_token_is_refused_from_then_on(
    client: FlaskClient, db: Database, runner: FlaskCliRunner
) -> None:
    make_admin(db)
    token = make_token(db)
    assert client.get("/api/v1/stats", headers=bearer(token)).status_code == 200
    listed = runner.invoke(args=["tokens", "list"])
    token_id = listed.output.split()[0]
    assert token not in listed.output  # never shown again
    assert runner.invoke(args=["tokens", "revoke", token_id]).exit_code == 0
    assert client.get("/api/v1/stats", headers=bearer(token)).status_code == 401


def test_tokens_are_stored_only_as_hashes(db: Database) -> None:
    make_admin(db)
    token = make_token(db)
    with db.engine.connect() as conn:
        from sqlalchemy import text

        stored = conn.execute(text("SELECT token_hash FROM api_tokens")).scalar_one()
    assert token not in stored and len(stored) == 64


def test_sign_in_with_a_wrong_password_fails_and_says_so(client: FlaskClient, db: Database) -> None:
    make_admin(db)
    token = csrf_token(client, "/admin/sign-in")
    response = client.post("/admin/sign-in", data={
        "csrf_token": token, "username": "admin", "password": "wrong wrong wrong"})  # fmt: skip
    assert response.status_code == 400
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_sign_in_then_out(client: FlaskClient, db: Database) -> None:
    make_admin(db)
    sign_in(client)
    assert client.get("/admin/").status_code == 200
    response = post_form(client, "/admin/", "/admin/sign-out", {})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_forms_posted_without_a_csrf_token_are_refused(client: FlaskClient, db: Database) -> None:
    make_admin(db)
    # Not even the sign-in form works without its token.
    response = client.post("/admin/sign-in", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    sign_in(client)
    for path, data in [("/admin/posts/new", {"title": "T", "body": "b"}),
                       ("/admin/tokens", {"name": "n"}),
                       ("/admin/sign-out", {}),
                       ("/admin/sources/new", {"url": "http://127.0.0.1:9/"})]:  # fmt: skip
        assert client.post(path, data=data).status_code == 400, path
        bad = client.post(path, data={**data, "csrf_token": "forged"})
        assert bad.status_code == 400, path
    assert client.get("/admin/").status_code == 200  # still signed in: nothing happened


def test_sign_in_attempts_are_rate_limited(app_config: dict, db: Database) -> None:
    app = create_app({**app_config, "LOGIN_RATE_LIMIT": "3 per minute",
                      "LOGIN_ACCOUNT_RATE_LIMIT": "100 per minute"}, env="testing")  # fmt: skip
    make_admin(db)
    client = app.test_client()
    codes = []
    for _ in range(5):
        token = csrf_token(client, "/admin/sign-in")
        wrong = {"csrf_token": token, "username": "admin", "password": "nope nope nope"}
        codes.append(client.post("/admin/sign-in", data=wrong).status_code)
    assert codes == [400, 400, 400, 429, 429]
    token = csrf_token(client, "/admin/sign-in")
    limited = client.post("/admin/sign-in", data={**wrong, "csrf_token": token})
    assert limited.status_code == 429 and "Too many sign-in attempts" in limited.text
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Limited even with the right password now; other addresses are not.
    token = csrf_token(client, "/admin/sign-in")
    right = {"csrf_token": token, "username": "admin", "password": PASSWORD}
    assert client.post("/admin/sign-in", data=right).status_code == 429
    other = app.test_client()
    token = csrf_token(other, "/admin/sign-in")
    response = other.post("/admin/sign-in", environ_base={"REMOTE_ADDR": "127.0.0.9"},
                          data={**right, "csrf_token": token})  # fmt: skip
    assert response.status_code == 302
    app.extensions["feedsvc.db"].dispose()


def test_sign_in_never_redirects_off_the_site(client: FlaskClient, db: Database) -> None:
    make_admin(db)
    token = csrf_token(client, "/admin/sign-in")
    response = client.post("/admin/sign-in?next=//evil.example/x", data={
        "csrf_token": token, "username": "admin", "password": PASSWORD})  # fmt: skip
    assert response.headers["Location"] == "/admin/"


def test_changing_a_password_signs_out_other_sessions(
    client: FlaskClient, db: Database, runner: FlaskCliRunner
) -> None:
    make_admin(db)
    sign_in(client)
    assert client.get("/admin/").status_code == 200
    result = runner.invoke(args=["users", "set-password", "admin", "--password-stdin"],
                           input="a brand new password\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert client.get("/admin/").status_code == 302


def test_users_create_checks_its_input(runner: FlaskCliRunner) -> None:
    short = runner.invoke(args=["users", "create", "ann", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    made = runner.invoke(args=["users", "create", "ann", "--password-stdin"], input=PASSWORD + "\n")
    assert made.exit_code == 0 and "created user" in made.output
    again = runner.invoke(args=["users", "create", "ann", "--password-stdin"],
                          input=PASSWORD + "\n")  # fmt: skip
    assert again.exit_code != 0 and "exists already" in again.output
    assert "Traceback" not in again.output


def test_tokens_made_in_the_ui_are_shown_once(client: FlaskClient, db: Database) -> None:
    make_admin(db)
    sign_in(client)
    page = post_form(client, "/admin/tokens", "/admin/tokens", {"name": "reader sync"})
    token = re.search(r'id="new-token">([^<]+)<', page.get_data(as_text=True)).group(1)
    assert client.get("/api/v1/stats", headers=bearer(token)).status_code == 200
    assert token not in client.get("/admin/tokens").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/", "/admin/sources", "/admin/comments", "/api/v1/stats"])
def test_admin_and_api_answers_are_never_cached(client: FlaskClient, db: Database,
                                                path: str) -> None:  # fmt: skip
    make_admin(db)
    sign_in(client)
    headers = bearer(make_token(db)) if path.startswith("/api") else {}
    assert client.get(path, headers=headers).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/", "/feeds/posts.atom", "/popular", "/sources.opml"])
def test_public_pages_never_touch_the_session(client: FlaskClient, db: Database,
                                              path: str) -> None:  # fmt: skip
    """A session read adds "Vary: Cookie", and then no cache could share the answer."""
    make_admin(db)
    sign_in(client)
    response = client.get(path)
    assert response.status_code == 200
    assert "Cookie" not in response.headers.get("Vary", "")
    assert "Set-Cookie" not in response.headers


def test_a_username_with_control_characters_is_just_wrong(
    client: FlaskClient, db: Database
) -> None:
    make_admin(db)
    token = csrf_token(client, "/admin/sign-in")
    response = client.post("/admin/sign-in", data={
        "csrf_token": token, "username": "ad\x00min", "password": PASSWORD})  # fmt: skip
    assert response.status_code in (302, 400)


def test_users_create_asks_for_the_password_twice(runner: FlaskCliRunner) -> None:
    typo = runner.invoke(args=["users", "create", "bob"],
                         input=f"{PASSWORD}\n{PASSWORD}x\n{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert typo.exit_code == 0 and "do not match" in typo.output.lower()
    assert "created user" in typo.output and PASSWORD not in typo.output
