"""The admin as people use it, in Chromium: honest states, the no-worker banner,
forms that keep what was typed, the posts list and phone widths (issue 22).

Debian's Chromium, as in test_browser; the upstream feeds are a server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from feedsvc.db import Database
from feedsvc.models import WorkerHeartbeat
from feedsvc.sources import add_source
from tests.admin_helpers import PASSWORD, USERNAME
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss
from tests.ingesting import store_feed
from tests.test_admin_browser import live_admin  # noqa: F401
from tests.test_browser import CHROMIUM, browser, open_page, screenshots, shows  # noqa: F401

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no browser: apt-get install chromium (Debian's package)"
)


def signed_in(browser: Any, base: str, width: int = 1280) -> tuple[Any, list[str]]:  # noqa: F811
    """A page signed in to the admin, and the console errors it logs."""
    page, _, errors = open_page(browser, base, width)
    page.goto(base + "/admin/sign-in")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")
    return page, errors


def beat(db: Database, when: dt.datetime) -> None:
    with db.session() as session:
        session.merge(WorkerHeartbeat(name="w1", beat_at=when, started_at=when))


def test_one_failing_fetch_shows_an_amber_warning_with_its_count(
    browser: Any,  # noqa: F811
    live_admin: str,  # noqa: F811
    db: Database,
    feed_server: FeedServer,
    screenshots: Path,  # noqa: F811
) -> None:
    feed_server.routes["/ok.xml"] = Reply(200, rss("Fine feed", []), RSS_TYPE)
    feed_server.routes["/broken.xml"] = Reply(500, b"oops", {"Content-Type": "text/plain"})
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        add_source(session, feed_server.url("/ok.xml"), now, title="Fine feed")
        broken = add_source(session, feed_server.url("/broken.xml"), now, title="Broken feed")
        session.flush()
        broken_id = broken.id
    page, errors = signed_in(browser, live_admin)
    page.goto(f"{live_admin}/admin/sources/{broken_id}")
    page.get_by_role("button", name="Fetch now").click()
    page.goto(live_admin + "/admin/sources")
    rows = page.locator("table.sources tbody tr")
    # The failing-or-warning source is listed first, amber, with its count.
    first = rows.first
    assert "Broken feed" in first.inner_text()
    badge = first.locator(".state")
    assert badge.inner_text().lower() == "warning · 1 error"
    colour = badge.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(254, 243, 199)"  # amber, not the active green
    assert rows.nth(1).locator(".state").inner_text().lower() == "active"
    page.screenshot(path=screenshots / "admin-sources-warning.png", full_page=True)
    assert errors == []


def test_the_no_worker_banner_comes_and_goes_with_the_heartbeat(
    browser: Any,  # noqa: F811
    live_admin: str,  # noqa: F811
    db: Database,
) -> None:
    page, errors = signed_in(browser, live_admin)
    banner = page.locator("#worker-banner")
    for path in ("/admin/", "/admin/sources", "/admin/posts", "/admin/rules", "/admin/users"):
        page.goto(live_admin + path)
        shows(banner)
        assert "Sources are not being fetched: start feedsvc worker" in banner.inner_text()
    beat(db, dt.datetime.now(dt.UTC))
    page.goto(live_admin + "/admin/sources")
    assert banner.count() == 0
    health = page.request.get(live_admin + "/healthz").json()
    assert health["worker"] == "ok"
    # A worker silent too long is as good as none: the banner is back, as /healthz says.
    beat(db, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    page.goto(live_admin + "/admin/")
    assert banner.is_visible() and "last worker beat 60 min ago" in banner.inner_text()
    assert page.request.get(live_admin + "/healthz").json()["worker"] == "stale"
    assert errors == []


def test_a_bad_interval_on_the_preview_keeps_the_preview_and_what_was_typed(
    browser: Any,  # noqa: F811
    live_admin: str,  # noqa: F811
    feed_server: FeedServer,
    screenshots: Path,  # noqa: F811
) -> None:
    items = [{"guid": f"g{i}", "title": f"Entry {i}", "link": f"http://example.org/{i}",
              "description": "<p>Body</p>", "pubDate": f"Mon, 0{i} Nov 2026 10:00:00 GMT"}
             for i in range(1, 4)]  # fmt: skip
    feed_server.routes["/feed.xml"] = Reply(200, rss("Their feed", items), RSS_TYPE)
    page, errors = signed_in(browser, live_admin)
    page.goto(live_admin + "/admin/sources/new")
    page.get_by_label("A feed's address").fill(feed_server.url("/feed.xml"))
    page.get_by_role("button", name="Find the feed").click()
    page.get_by_label("Title").fill("My own title")
    page.get_by_label("Tags").fill("friends, games")
    page.get_by_label("Republish").select_option("summary")
    page.get_by_label("Custom…").check()
    page.get_by_label("Custom interval, in minutes").fill("1")
    fetches = len(feed_server.requests)
    page.get_by_role("button", name="Add this source").click()

    # Still the preview, with its entries, and every value as typed.
    shows(page.get_by_role("heading", name="Preview: Their feed"))
    shows(page.get_by_text("Entry 3"))
    assert page.get_by_label("Title").input_value() == "My own title"
    assert page.get_by_label("Tags").input_value() == "friends, games"
    assert page.get_by_label("Republish").input_value() == "summary"
    assert page.get_by_label("Custom…").is_checked()
    assert page.get_by_label("Custom interval, in minutes").input_value() == "1"
    error = page.locator("#interval-error")
    assert error.is_visible() and "at least 300 seconds (5 minutes)" in error.inner_text()
    # The error is beside the chooser, inside its fieldset.
    assert page.locator("fieldset.interval #interval-error").count() == 1
    assert len(feed_server.requests) == fetches  # the preview came back without a fetch
    page.screenshot(path=screenshots / "admin-preview-bad-interval.png", full_page=True)

    page.get_by_label("Every 15 minutes").check()
    page.get_by_role("button", name="Add this source").click()
    shows(page.get_by_text("First fetch: ok, 3 new"))
    shows(page.get_by_role("heading", name="My own title"))
    assert page.get_by_label("Every 15 minutes").is_checked()
    # Chromium logs the refused form's 422 as a failed load; nothing else went wrong.
    assert [e for e in errors if "status of 422" not in e] == []


def two_sources_with_posts(db: Database) -> tuple[int, int]:
    now = dt.datetime.now(dt.UTC)
    ids = []
    for name in ("Alpha", "Beta"):
        items = [{"guid": f"{name}{i}", "title": f"{name} post {i}",
                  "link": f"http://{name.lower()}.example/{i}", "description": "<p>Body</p>",
                  "pubDate": f"Mon, 0{i} Nov 2026 10:00:00 GMT"} for i in range(1, 4)]  # fmt: skip
        with db.session() as session:
            source = add_source(session, f"http://{name.lower()}.example/feed.xml", now,
                                title=f"{name} blog")  # fmt: skip
            session.flush()
            ids.append(source.id)
        store_feed(db, ids[-1], rss(name, items), now)
    return ids[0], ids[1]


def test_the_posts_list_filtered_by_source_then_a_bulk_hide(
    browser: Any,  # noqa: F811
    live_admin: str,  # noqa: F811
    db: Database,
    screenshots: Path,  # noqa: F811
) -> None:
    alpha, _ = two_sources_with_posts(db)
    page, errors = signed_in(browser, live_admin)
    page.get_by_role("link", name="Posts", exact=True).click()
    assert page.locator("nav.site-nav a[aria-current='page']").inner_text() == "Posts"
    page.get_by_label("Source").select_option(label="Alpha blog")
    page.get_by_role("button", name="Show", exact=True).click()
    assert f"source={alpha}" in page.url
    rows = page.locator("table.posts tbody tr")
    assert rows.count() == 3
    assert all("Alpha blog" in text for text in rows.all_inner_texts())
    # Status and actions are apart: a status column, and buttons that act.
    assert rows.first.locator("td[data-label='Status']").text_content().strip() == "visible"
    page.get_by_label("Choose Alpha post 1").check()
    page.get_by_label("Choose Alpha post 3").check()
    page.get_by_label("With the ticked posts").select_option("hide")
    page.get_by_role("button", name="Apply").click()
    shows(page.get_by_text("Hidden: 2 posts."))
    assert f"source={alpha}" in page.url  # back on the same filtered list
    statuses = {row.locator("td[data-label='Title']").inner_text():
                row.locator("td[data-label='Status']").text_content().strip()
                for row in rows.all()}  # fmt: skip
    assert statuses == {"Alpha post 1": "hidden", "Alpha post 2": "visible",
                        "Alpha post 3": "hidden"}  # fmt: skip
    page.get_by_label("State").select_option("hidden")
    page.get_by_role("button", name="Show", exact=True).click()
    assert rows.count() == 2
    # A row's own action: show one again.
    page.get_by_role("button", name="Show Alpha post 3").click()
    assert page.get_by_text("Shown: 1 post.").is_visible() and rows.count() == 1
    page.screenshot(path=screenshots / "admin-posts-filtered.png", full_page=True)
    # The public site agrees: the hidden post is gone from its source's page.
    public = page.request.get(f"{live_admin}/sources/{alpha}").text()
    assert "Alpha post 1" not in public and "Alpha post 3" in public
    assert errors == []


def test_the_sources_list_at_390_px_has_no_sideways_scroll(
    browser: Any,  # noqa: F811
    live_admin: str,  # noqa: F811
    db: Database,
    screenshots: Path,  # noqa: F811
) -> None:
    two_sources_with_posts(db)
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        add_source(session, "http://a-very-long-host-name-for-a-feed.example/" + "path/" * 20
                   + "feed.xml?with=a&long=query", now)  # fmt: skip
    page, errors = signed_in(browser, live_admin, width=390)
    for path in (
        "/admin/sources",
        "/admin/posts",
        "/admin/",
        "/admin/rules",
        "/admin/users",
        "/admin/tokens",
        "/admin/opml/import",
        "/admin/posts/new",
    ):
        page.goto(live_admin + path)
        scroll, width = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert width == 390 and scroll <= width, f"{path}: {scroll}px in a {width}px window"
    page.goto(live_admin + "/admin/sources")
    # Rows are cards: each cell labelled, stacked.
    cell = page.locator("table.sources tbody tr").first.locator("td[data-label='State']")
    assert cell.evaluate("el => getComputedStyle(el).display") == "block"
    assert cell.evaluate("el => getComputedStyle(el, '::before').content") == '"State"'
    page.screenshot(path=screenshots / "admin-sources-390.png", full_page=True)
    assert errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_the_admin_pages_have_no_serious_accessibility_violations(
    browser: Any,  # noqa: F811
    live_admin: str,  # noqa: F811
    db: Database,
    width: int,
) -> None:
    """axe-core (tests/accessibility.py) on the sources list with every badge
    and the no-worker banner showing, and on the posts list and a source's page."""
    from tests.accessibility import serious_violations

    alpha, _ = two_sources_with_posts(db)
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        for name, errors in [("Flaky", 2), ("Broken", 12)]:
            source = add_source(session, f"http://{name.lower()}.example/feed", now, title=name)
            source.error_count, source.last_error = errors, "Could not connect. Try again."
    page, _ = signed_in(browser, live_admin, width)
    for path in ("/admin/sources", "/admin/posts", f"/admin/sources/{alpha}", "/admin/"):
        page.goto(live_admin + path)
        assert page.locator("#worker-banner").count() == 1
        assert serious_violations(page) == [], path
