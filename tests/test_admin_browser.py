"""The admin in a real browser: sign in, add a source by its site's address,
see its posts, import an OPML file and export one. Debian's Chromium, as in
test_browser; the upstream site is a server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import listparser
import pytest
from flask import Flask
from werkzeug.serving import make_server

from feedsvc.db import Database
from tests.admin_helpers import PASSWORD, USERNAME, make_admin
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss
from tests.test_browser import CHROMIUM, browser, open_page, screenshots, shows  # noqa: F401
from tests.test_opml import MESSY

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no browser: apt-get install chromium (Debian's package)"
)
ITEMS = [{"guid": f"g{i}", "title": f"Upstream entry {i}", "link": f"http://example.org/{i}",
          "description": f"<p>Body {i}</p>", "pubDate": f"Mon, 0{i} Nov 2026 10:00:00 GMT"}
         for i in range(1, 4)]  # fmt: skip


@pytest.fixture
def live_admin(app: Flask, db: Database) -> Iterator[str]:
    make_admin(db)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


# The browser and screenshot fixtures are test_browser's, imported above.
def test_sign_in_add_a_site_see_its_posts_import_and_export_opml(
    browser: Any,  # noqa: F811
    live_admin: str,
    feed_server: FeedServer,
    screenshots: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    feed_server.routes["/"] = Reply(200, b"<!doctype html><html><head><title>Their blog</title>"
                                    b'<link rel="alternate" type="application/rss+xml" '
                                    b'title="Their posts" href="/feed.xml"></head></html>',
                                    {"Content-Type": "text/html"})  # fmt: skip
    feed_server.routes["/feed.xml"] = Reply(200, rss("Their blog", ITEMS), RSS_TYPE)
    page, dialogs, errors = open_page(browser, live_admin)

    page.goto(live_admin + "/admin/sources")
    assert "/admin/sign-in" in page.url
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/admin/sources")

    page.get_by_role("link", name="Add a source").first.click()
    page.get_by_label("A feed's address").fill(feed_server.url("/"))
    page.get_by_role("button", name="Find the feed").click()
    # One feed named by the page: straight to its preview.
    shows(page.get_by_role("heading", name="Preview: Their blog"))
    shows(page.get_by_text("Upstream entry 3"))
    page.get_by_label("Tags").fill("friends")
    page.screenshot(path=screenshots / "admin-preview.png", full_page=True)
    page.get_by_role("button", name="Add this source").click()
    shows(page.get_by_text("First fetch: ok, 3 new"))
    shows(page.get_by_role("link", name="Upstream entry 3"))

    page.get_by_role("link", name="3", exact=True).click()  # the public source page
    assert page.locator("main article h2").all_inner_texts()[:3] == [
        "Upstream entry 3", "Upstream entry 2", "Upstream entry 1"]  # fmt: skip

    opml = tmp_path / "subscriptions.opml"
    opml.write_bytes(MESSY)
    page.goto(live_admin + "/admin/opml/import")
    page.get_by_label("An OPML file").set_input_files(str(opml))
    page.get_by_role("button", name="Import").click()
    shows(page.get_by_text("4 added, 1 duplicates skipped, 2 errors"))
    shows(page.get_by_text("line 11: not an http(s) URL"))
    page.screenshot(path=screenshots / "admin-opml-report.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download every source as OPML 2.0").click()
    saved = tmp_path / "export.opml"
    download.value.save_as(saved)
    exported = {feed.url: feed for feed in listparser.parse(saved.read_bytes()).feeds}
    assert feed_server.url("/feed.xml") in exported and len(exported) == 5
    assert exported[feed_server.url("/feed.xml")].tags == ["friends"]

    page.goto(live_admin + "/admin/")
    page.screenshot(path=screenshots / "admin-dashboard.png", full_page=True)
    assert dialogs == [] and errors == []
