"""axe-core in Chromium on the pages a reader sees: no serious or critical
violation on the home, post and popular pages. The check itself is tried on a
page with known faults first, so a helper that finds nothing cannot pass."""

from __future__ import annotations

from typing import Any

import pytest

from tests.accessibility import serious_violations
from tests.test_browser import CHROMIUM, browser, live_site, open_page  # noqa: F401

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no browser: apt-get install chromium (Debian's package)"
)


def test_the_check_finds_serious_faults(browser: Any) -> None:  # noqa: F811
    page = browser.new_page()
    page.set_content(
        '<!doctype html><html lang="en"><head><title>Faulty</title></head><body><main>'
        '<img src="data:," width="10" height="10"><input type="text">'
        '<p style="color:#eee;background:#fff">faint</p></main></body></html>'
    )
    found = " ".join(serious_violations(page))
    assert "image-alt" in found and "label" in found and "color-contrast" in found
    page.set_content(
        '<!doctype html><html lang="en"><head><title>Fine</title></head><body><main>'
        '<h1>Fine</h1><img src="data:," alt="A dot" width="10" height="10">'
        '<label>Name <input type="text"></label></main></body></html>'
    )
    assert serious_violations(page) == []


@pytest.mark.parametrize("path", ["/", "post", "/popular"])
def test_reader_pages_have_no_serious_violations(
    browser: Any,  # noqa: F811
    live_site: str,  # noqa: F811
    path: str,
) -> None:
    page, _, _ = open_page(browser, live_site)
    if path == "post":  # the one with a long <pre>, a wide picture and a long title
        page.goto(live_site + "/")
        path = page.locator("main article h2 a").first.get_attribute("href")
    page.goto(live_site + path)
    page.wait_for_load_state("networkidle")
    assert serious_violations(page) == []
