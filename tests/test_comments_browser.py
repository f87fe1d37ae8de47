"""Comments in a real browser (Debian's Chromium, as in test_browser): a
reader posts through the plain form, sees it awaiting moderation, an admin
approves it in the queue, and it is on the page and in the post's comment
feed. Hostile text is shown as text, and nothing it holds runs."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
from flask import Flask
from werkzeug.serving import make_server

from feedsvc import comments
from feedsvc.db import Database
from tests.accessibility import serious_violations
from tests.admin_helpers import PASSWORD, USERNAME, make_admin
from tests.commenting import BROWSER, NOW, add_post, clock_of, pinned_app
from tests.test_browser import CHROMIUM, browser, open_page, screenshots, shows  # noqa: F401

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no browser: apt-get install chromium (Debian's package)"
)
# Past the form token's minimum age, on the app's pinned clock.
WAIT = dt.timedelta(seconds=15)


@pytest.fixture
def live(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("FEEDSVC_ENV", "testing")
    app = pinned_app(app_config)
    make_admin(app.extensions["feedsvc.db"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    app.extensions["feedsvc.db"].dispose()


def test_post_await_moderation_approve_then_see_it_on_the_page_and_in_the_feed(
    browser: Any,  # noqa: F811
    live: Flask,
    screenshots: Path,  # noqa: F811
) -> None:
    base = live.config["LIVE_URL"]
    post_id = add_post(live.extensions["feedsvc.db"], "Let us talk")
    page, dialogs, errors = open_page(browser, base, user_agent=BROWSER)
    page.goto(f"{base}/posts/{post_id}")
    page.get_by_label("Name").fill("Ada")
    page.get_by_label("Website (optional)").fill("https://ada.example/")
    page.get_by_label("Comment", exact=True).fill(
        "What a post.\n\nSee https://example.org/more for more."
    )
    clock_of(live).advance(WAIT)  # a person takes a while to write
    page.get_by_role("button", name="Post comment").click()
    shows(page.get_by_text("Thank you: your comment is awaiting moderation."))
    shows(page.get_by_role("heading", name="Comments (0)"))
    page.screenshot(path=screenshots / "comment-awaiting.png", full_page=True)

    page.goto(base + "/admin/comments")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/admin/comments")
    page.get_by_label("Select comment 1 by Ada").check()
    page.screenshot(path=screenshots / "comment-queue.png", full_page=True)
    page.get_by_role("button", name="Approve selected").click()
    shows(page.get_by_text("Approved: 1 comment."))

    page.goto(f"{base}/posts/{post_id}")
    shows(page.get_by_role("heading", name="Comments (1)"))
    assert serious_violations(page) == []  # axe-core: the comments and the form read well
    body = page.locator("#comment-1 .comment-body")
    assert body.locator("p").all_inner_texts() == [
        "What a post.", "See https://example.org/more for more."]  # fmt: skip
    assert body.get_by_role("link", name="https://example.org/more").get_attribute("rel") == (
        "nofollow ugc noopener noreferrer")  # fmt: skip
    assert page.locator("#comment-1").get_by_role("link", name="Ada").get_attribute(
        "href") == "https://ada.example/"  # fmt: skip
    feed = feedparser.parse(page.request.get(f"{base}/feeds/posts/{post_id}/comments.atom").body())
    assert [entry.title for entry in feed.entries] == ["Ada on “Let us talk”"]
    assert "What a post." in feed.entries[0].content[0].value
    assert dialogs == [] and errors == []


HOSTILE_BODY = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> "
    '<a href="javascript:alert(3)">click</a> <svg onload=alert(4)>'
)
HOSTILE_NAME = "<b onmouseover=alert(5)>Eve</b>"


def test_hostile_comments_are_shown_as_text_and_run_nothing(
    browser: Any,  # noqa: F811
    live: Flask,
    screenshots: Path,  # noqa: F811
) -> None:
    base = live.config["LIVE_URL"]
    db: Database = live.extensions["feedsvc.db"]
    post_id = add_post(db, "Under attack")
    page, dialogs, errors = open_page(browser, base, user_agent=BROWSER)
    page.goto(f"{base}/posts/{post_id}")
    page.get_by_label("Name").fill(HOSTILE_NAME)
    page.get_by_label("Comment", exact=True).fill(HOSTILE_BODY)
    # type=url lets a javascript: address through the browser: the server refuses it.
    page.get_by_label("Website (optional)").fill("javascript:alert(6)")
    clock_of(live).advance(WAIT)
    page.get_by_role("button", name="Post comment").click()
    assert page.get_by_role("alert").inner_text() == (
        "the website must be an http:// or https:// address")  # fmt: skip
    # Nothing lost: the form comes back as it was typed.
    assert page.get_by_label("Comment", exact=True).input_value() == HOSTILE_BODY
    assert page.get_by_label("Name").input_value() == HOSTILE_NAME
    page.get_by_label("Website (optional)").fill("")
    clock_of(live).advance(WAIT)
    page.get_by_role("button", name="Post comment").click()
    shows(page.get_by_text("awaiting moderation"))
    with db.session() as session:
        comments.approve(session, [1], NOW)

    page.goto(f"{base}/posts/{post_id}")
    page.mouse.move(0, 0)
    page.locator("#comment-1 .comment-author").hover()
    assert page.locator("#comment-1 .comment-author").inner_text() == HOSTILE_NAME
    assert page.locator("#comment-1 .comment-body").inner_text() == HOSTILE_BODY
    section = page.locator("#comments")
    assert section.locator("script, svg, img, b, a[href^='javascript']").count() == 0
    page.screenshot(path=screenshots / "comment-hostile.png", full_page=True)
    # The one console line: the refused form's 400, which the browser reports.
    assert dialogs == []
    assert [e for e in errors if "status of 400" not in e] == []
