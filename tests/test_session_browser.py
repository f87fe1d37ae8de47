"""A session ends in a real browser too: sign in, copy the cookie into a
second browser, sign out in the first, and the copy is refused. Debian's
Chromium, as in test_browser; the site is a server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin_helpers import PASSWORD, USERNAME
from tests.test_admin_browser import live_admin  # noqa: F401
from tests.test_browser import CHROMIUM, browser, shows  # noqa: F401

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no browser: apt-get install chromium (Debian's package)"
)


def test_a_copied_cookie_is_refused_after_sign_out(
    browser: Any,  # noqa: F811
    live_admin: str,  # noqa: F811
) -> None:
    mine = browser.new_context()
    page = mine.new_page()
    page.goto(live_admin + "/admin/tokens")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    shows(page.get_by_role("heading", name="API tokens"))
    [cookie] = [c for c in mine.cookies() if c["name"] == "session"]
    assert cookie["sameSite"] == "Lax" and cookie["httpOnly"]

    theirs = browser.new_context()
    theirs.add_cookies([cookie])
    copy = theirs.new_page()
    copy.goto(live_admin + "/admin/tokens")
    assert copy.get_by_role("heading", name="API tokens").is_visible()  # the copy works…

    page.get_by_role("button", name=f"Sign out {USERNAME}").click()
    shows(page.get_by_text("Signed out."))

    copy.goto(live_admin + "/admin/tokens")  # …until the owner signs out
    assert "/admin/sign-in" in copy.url
    shows(copy.get_by_role("heading", name="Sign in"))
    assert copy.get_by_role("heading", name="API tokens").count() == 0
    mine.close()
    theirs.close()
