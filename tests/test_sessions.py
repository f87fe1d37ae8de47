"""Sessions that end: a copy of the cookie dies with sign-out, a password
change or "sign out everywhere"; sessions have a lifetime and, when asked, an
idle timeout; the cookie is SameSite=Lax, and Secure behind https."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from feedsvc import create_app
from feedsvc.db import Database
from feedsvc.web.auth import SEEN_AT, SIGNED_IN_AT
from tests.admin_helpers import (
    PASSWORD,
    csrf_token,
    make_admin,
    post_form,
    sign_in,
    two_admins_signed_in,
)


def copy_of_cookie(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of the client's session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def is_signed_in(client: FlaskClient) -> bool:
    response = client.get("/admin/tokens")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_a_copied_cookie_is_refused_after_sign_out(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    make_admin(db)
    sign_in(client)
    thief = copy_of_cookie(app, client)
    assert is_signed_in(thief)
    post_form(client, "/admin/", "/admin/sign-out", {})
    assert not is_signed_in(client)
    assert not is_signed_in(thief)
    # Signing in again makes a new session; the old copy stays dead.
    sign_in(client)
    assert is_signed_in(client) and not is_signed_in(thief)


def test_a_copied_cookie_is_refused_after_a_password_change(
    app: Flask, client: FlaskClient, db: Database, runner: FlaskCliRunner
) -> None:
    make_admin(db)
    sign_in(client)
    thief = copy_of_cookie(app, client)
    result = runner.invoke(args=["users", "set-password", "admin", "--password-stdin"],
                           input="a brand new password\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not is_signed_in(thief)
    sign_in(client, password="a brand new password")
    assert is_signed_in(client)


def test_sign_out_everywhere_from_the_command_line(
    app: Flask, client: FlaskClient, db: Database, runner: FlaskCliRunner
) -> None:
    make_admin(db)
    make_admin(db, "ann")
    sign_in(client)
    thief = copy_of_cookie(app, client)
    ann = app.test_client()
    sign_in(ann, "ann")
    result = runner.invoke(args=["users", "sign-out", "admin"])
    assert result.exit_code == 0 and "signed out everywhere" in result.output
    assert not is_signed_in(client) and not is_signed_in(thief)
    assert is_signed_in(ann)  # her sessions are hers
    unknown = runner.invoke(args=["users", "sign-out", "nobody"])
    assert unknown.exit_code != 0 and "no user named 'nobody'" in unknown.output


def test_sign_out_everywhere_from_the_users_page(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    admin_id, ann_id, ann = two_admins_signed_in(app, client, db)
    ann_copy = copy_of_cookie(app, ann)
    response = post_form(client, "/admin/users", f"/admin/users/{ann_id}/sign-out", {})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users"
    assert "ann is signed out everywhere" in client.get("/admin/users").text
    assert not is_signed_in(ann) and not is_signed_in(ann_copy)
    assert is_signed_in(client)
    # Her own sign-out-everywhere signs herself out too.
    thief = copy_of_cookie(app, client)
    post_form(client, "/admin/users", f"/admin/users/{admin_id}/sign-out", {})
    assert not is_signed_in(client) and not is_signed_in(thief)


def test_a_session_ends_after_its_lifetime(app: Flask, client: FlaskClient, db: Database) -> None:
    make_admin(db)
    sign_in(client)
    days = app.config["SESSION_LIFETIME_DAYS"]
    assert days == 14
    with client.session_transaction() as session:
        session[SIGNED_IN_AT] = int(time.time()) - days * 86400 + 3600
    assert is_signed_in(client)
    with client.session_transaction() as session:
        session[SIGNED_IN_AT] = int(time.time()) - days * 86400 - 60
    assert not is_signed_in(client)


@pytest.fixture
def idle_app(app_config: dict[str, Any]) -> Any:
    app = create_app({**app_config, "SESSION_IDLE_MINUTES": 30}, env="testing")
    yield app
    app.extensions["feedsvc.db"].dispose()


def test_an_idle_timeout_ends_a_session_left_unused(idle_app: Flask, db: Database) -> None:
    make_admin(db)
    client = idle_app.test_client()
    sign_in(client)
    with client.session_transaction() as session:
        session[SEEN_AT] = int(time.time()) - 29 * 60
    assert is_signed_in(client)  # used now: the clock starts again
    with client.session_transaction() as session:
        assert session[SEEN_AT] >= int(time.time()) - 60
        session[SEEN_AT] = int(time.time()) - 31 * 60
    assert not is_signed_in(client)


def test_without_an_idle_timeout_an_unused_session_lives_on(
    client: FlaskClient, db: Database
) -> None:
    make_admin(db)
    sign_in(client)
    with client.session_transaction() as session:
        session[SEEN_AT] = int(time.time()) - 13 * 86400
    assert is_signed_in(client)


def sign_in_cookie(app: Flask) -> str:
    make_admin(app.extensions["feedsvc.db"])
    client = app.test_client()
    token = csrf_token(client, "/admin/sign-in")
    response = client.post("/admin/sign-in", data={
        "csrf_token": token, "username": "admin", "password": PASSWORD})  # fmt: skip
    assert response.status_code == 302
    [cookie] = [value for value in response.headers.getlist("Set-Cookie")
                if value.startswith("session=")]  # fmt: skip
    return cookie


def test_the_session_cookie_is_same_site_lax_and_lasts_its_lifetime(app: Flask) -> None:
    cookie = sign_in_cookie(app)
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
    assert "Expires=" in cookie and "Secure" not in cookie  # http: a browser would drop it


def test_the_session_cookie_is_secure_behind_https(app_config: dict[str, Any]) -> None:
    app = create_app({**app_config, "BASE_URL": "https://feeds.test"}, env="testing")
    try:
        cookie = sign_in_cookie(app)
    finally:
        app.extensions["feedsvc.db"].dispose()
    assert "Secure" in cookie and "SameSite=Lax" in cookie
