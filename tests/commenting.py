"""Helpers for comment tests: an app on a pinned clock, posts, and the public form."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from feedsvc import create_app
from feedsvc.clock import FixedClock
from feedsvc.db import Database
from feedsvc.posts import create_local_post

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
# Past the form token's minimum age, whatever step it was rounded up to.
FORM_WAIT = dt.timedelta(seconds=15)
TOKEN = re.compile(r'name="token" value="([^"]+)"')


def pinned_app(app_config: dict[str, Any], **config: Any) -> Flask:
    return create_app({**app_config, **config}, env="testing", clock=FixedClock(NOW))


def clock_of(app: Flask) -> FixedClock:
    clock: FixedClock = app.extensions["feedsvc.clock"]
    return clock


def add_post(db: Database, title: str = "A post", when: dt.datetime = NOW) -> int:
    with db.session() as session:
        post = create_local_post(session, title=title, body_html="<p>Body</p>", now=when,
                                 summary_length=300)  # fmt: skip
        return post.id


def form_token(client: FlaskClient, post_id: int) -> str:
    page = client.get(f"/posts/{post_id}", follow_redirects=True).get_data(as_text=True)
    found = TOKEN.search(page)
    assert found, "the post page has no comment form"
    return html.unescape(found.group(1))


def post_comment(
    app: Flask,
    post_id: int,
    *,
    name: str = "Ada",
    body: str = "Nice post.",
    website: str = "",
    parent_id: int | None = None,
    wait: dt.timedelta = FORM_WAIT,
    address: str = "192.0.2.1",
    user_agent: str = BROWSER,
    extra: dict[str, str] | None = None,
) -> TestResponse:
    """Read the post page, wait as a person would, send the form."""
    client = app.test_client()
    token = form_token(client, post_id)
    clock_of(app).advance(wait)
    data = {"name": name, "body": body, "website": website, "token": token, "email": ""}
    if parent_id is not None:
        data["parent_id"] = str(parent_id)
    data.update(extra or {})
    return client.post(f"/posts/{post_id}/comments", data=data,
                       headers={"User-Agent": user_agent},
                       environ_base={"REMOTE_ADDR": address})  # fmt: skip
