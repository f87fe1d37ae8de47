"""The site in a real browser: Playwright driving Debian's Chromium.

Skips, saying how to install it, where no browser is found. Requests for any
address but the test server's are answered by the test itself, so the page
never reaches another host.
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from feedsvc.db import Database
from feedsvc.fetched import FetchResult
from feedsvc.imageproxy import ImageProxy
from feedsvc.posts import create_local_post
from feedsvc.sources import add_source
from feedsvc.web import images as web_images
from tests.feedserver import rss
from tests.ingesting import store_feed

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
# A transparent 1x1 PNG, the answer to every request for another host.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGNgAAIAAAUAAXpeqz8AAAAASUVORK5CYII="
)
HOSTILE = (
    '<p>Hostile body <img src="http://img.example/x.png" onerror="alert(1)">'
    '<script>alert(2)</script><a href="javascript:alert(3)" id="js-link">click me</a>'
    '<svg onload="alert(4)"><circle r="5"/></svg><iframe src="javascript:alert(5)"></iframe>'
    '<img src="x" onerror="console.error(\'ran\')"></p>'
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no browser: apt-get install chromium (Debian's package)"
)


class PixelFetcher:
    """Stands in for the image proxy's fetcher: every image is PIXEL."""

    def fetch(self, url: str) -> FetchResult:
        return FetchResult(url=url, final_url=url, status=200, content=PIXEL)


@pytest.fixture
def live_site(app: Flask, db: Database, tmp_path: Path) -> Iterator[str]:
    # The site's images come through /img; its upstream is this test.
    app.extensions[web_images.PROXY]._proxy = ImageProxy(PixelFetcher(), tmp_path)  # type: ignore[arg-type]
    items = [
        {"guid": "h", "title": "Hostile post", "link": "http://up.example/h",
         "description": HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
         "pubDate": "Mon, 23 Nov 2026 09:00:00 GMT"},
    ]  # fmt: skip
    with db.session() as session:
        source = add_source(session, "http://up.example/feed.xml", NOW, title="Upstream Blog")
    store_feed(db, source.id, rss("U", items), NOW)
    with db.session() as session:
        create_local_post(
            session, title="A post with a rather long title " + "word " * 20, now=NOW,
            body_html="<p>" + "Readable text. " * 80 + "</p>"
            '<p><img src="http://img.example/wide.png" width="2000" height="400" alt="Wide"></p>'
            "<pre>" + "x" * 400 + "</pre>",
            summary_length=300,
        )  # fmt: skip
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="feedsvc-screenshots-"))
    print(f"\nscreenshots: {folder}")
    return folder


def shows(locator: Any) -> None:
    """The element is visible, waiting for it (up to Playwright's timeout): a
    click that navigates returns before the next page is drawn, and a loaded
    machine draws late."""
    playwright_api.expect(locator).to_be_visible()


def open_page(
    browser: Any, base: str, width: int = 1280, user_agent: str | None = None
) -> tuple[Any, list[str], list[str]]:
    """A page that only ever talks to the test server; returns it with the
    dialogs it opened and the console errors it logged. `user_agent`: another
    than headless Chromium's own, which the site counts as a robot's."""
    page = browser.new_page(viewport={"width": width, "height": 900}, user_agent=user_agent)
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def elsewhere(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            route.fulfill(status=200, content_type="image/png", body=PIXEL)

    page.route("**/*", elsewhere)
    return page, dialogs, errors


def test_index_lists_posts_and_a_click_opens_one(
    browser: Any, live_site: str, screenshots: Path
) -> None:
    page, dialogs, errors = open_page(browser, live_site)
    page.goto(live_site + "/")
    titles = page.locator("main article h2").all_inner_texts()
    assert "Hostile post" in titles and any(t.startswith("A post with") for t in titles)
    page.screenshot(path=screenshots / "index-desktop.png", full_page=True)
    page.get_by_role("link", name="Hostile post").first.click()
    page.wait_for_load_state()
    assert "/posts/" in page.url
    assert page.locator("h1").all_inner_texts() == ["Hostile post"]
    page.screenshot(path=screenshots / "post-desktop.png", full_page=True)
    assert dialogs == [] and errors == []


def test_feed_links_are_discoverable(browser: Any, live_site: str) -> None:
    page, _, _ = open_page(browser, live_site)
    page.goto(live_site + "/")
    links = page.eval_on_selector_all(
        'link[rel="alternate"]', "els => els.map(e => [e.type, e.getAttribute('href')])"
    )
    assert ["application/atom+xml", "/feeds/posts.atom"] in links
    assert ["application/rss+xml", "/feeds/posts.rss"] in links
    assert ["application/feed+json", "/feeds/posts.json"] in links
    response = page.request.get(live_site + "/feeds/posts.atom")
    assert response.ok and "<feed" in response.text()


def test_a_source_page_shows_its_feeds(browser: Any, live_site: str) -> None:
    page, _, errors = open_page(browser, live_site)
    page.goto(live_site + "/")
    page.locator("main").get_by_role("link", name="Upstream Blog").first.click()
    page.wait_for_load_state()
    assert page.locator("h1").all_inner_texts() == ["Upstream Blog"]
    follow = page.locator("main p.follow")
    assert follow.is_visible() and follow.inner_text().startswith("Follow: Atom · RSS · JSON")
    for name, path, kind in (("Atom", ".atom", "<feed"), ("RSS", ".rss", "<rss"),
                             ("JSON", ".json", '"version"')):  # fmt: skip
        link = follow.get_by_role("link", name=name)
        shows(link)
        href = link.get_attribute("href")
        assert href == f"/feeds/sources/1{path}"
        assert kind in page.request.get(live_site + href).text()
    assert errors == []


def test_no_horizontal_scroll_at_phone_width(
    browser: Any, live_site: str, screenshots: Path
) -> None:
    page, _, _ = open_page(browser, live_site, width=360)
    page.goto(live_site + "/")
    post_link = page.locator("main article h2 a").first.get_attribute("href")
    for name, path in (("index", "/"), ("post", post_link)):
        page.goto(live_site + path)
        scroll, width = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll <= width, f"{path}: {scroll}px of content in a {width}px window"
        page.screenshot(path=screenshots / f"{name}-phone.png", full_page=True)


def test_a_hostile_post_runs_nothing(browser: Any, live_site: str) -> None:
    page, dialogs, errors = open_page(browser, live_site)
    page.goto(live_site + "/")
    page.get_by_role("link", name="Hostile post").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("main").get_by_text("Hostile body").count() == 1
    # Clicking what was a javascript: link goes nowhere and runs nothing.
    link = page.locator("main a", has_text="click me")
    if link.count():
        assert not (link.get_attribute("href") or "").startswith("javascript:")
        link.click()
    page.wait_for_timeout(300)
    assert dialogs == []
    assert errors == []
    assert page.evaluate("document.querySelectorAll('main script, main iframe').length") == 0


LAYOUT_SHIFT = """() => new Promise(resolve => {
  let total = 0;
  new PerformanceObserver(list => {
    for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value;
  }).observe({type: "layout-shift", buffered: true});
  requestAnimationFrame(() => requestAnimationFrame(() => resolve(total)));
})"""


def test_thumbnails_arriving_late_move_nothing(browser: Any, live_site: str) -> None:
    """Each thumbnail's box is known before its bytes arrive (width and height,
    or the fixed 4:3 box): the page's cumulative layout shift stays 0."""
    page, _, errors = open_page(browser, live_site)

    def late(route: Any) -> None:
        page.wait_for_timeout(400)
        route.continue_()

    page.route("**/img/**", late)
    page.goto(live_site + "/")
    page.wait_for_load_state("networkidle")
    loaded = page.eval_on_selector_all(
        "main img.thumbnail", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
    )
    assert len(loaded) == 2 and all(loaded)
    assert page.evaluate(LAYOUT_SHIFT) == 0
    assert errors == []
