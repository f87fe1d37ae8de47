"""Signing in from tests: an admin user, a token, and CSRF tokens scraped from forms."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask
from flask.testing import FlaskClient

from feedsvc import accounts
from feedsvc.db import Database

USERNAME = "admin"
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def make_admin(db: Database, username: str = USERNAME, password: str = PASSWORD) -> int:
    with db.session() as session:
        return accounts.create_user(session, username, password, dt.datetime.now(dt.UTC)).id


def make_token(db: Database, username: str = USERNAME) -> str:
    with db.session() as session:
        user = accounts.user_by_name(session, username)
        return accounts.create_token(session, user, "tests", dt.datetime.now(dt.UTC))[1]


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on the page at `path`."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    found = CSRF.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: FlaskClient, username: str = USERNAME, password: str = PASSWORD) -> None:
    token = csrf_token(client, "/admin/sign-in")
    response = client.post("/admin/sign-in", data={
        "csrf_token": token, "username": username, "password": password})  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)


def post_form(client: FlaskClient, form_page: str, action: str, data: dict, **kwargs):  # type: ignore[no-untyped-def]
    """POST a form the way a browser does: with the CSRF token of the page showing it."""
    return client.post(action, data={"csrf_token": csrf_token(client, form_page), **data}, **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def two_admins_signed_in(
    app: Flask, client: FlaskClient, db: Database
) -> tuple[int, int, FlaskClient]:
    """Admins "admin", signed in on `client`, and "ann" on a client of her own:
    both ids, and her client."""
    admin_id, ann_id = make_admin(db), make_admin(db, "ann")
    sign_in(client)
    ann = app.test_client()
    sign_in(ann, "ann")
    return admin_id, ann_id, ann
