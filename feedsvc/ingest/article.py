"""An entry's web page to its article: pure, run in the parse worker processes.

The article is the element a source's CSS selector picks (Miniflux's scraper
rules), else what trafilatura extracts (the strongest open extractor on public
benchmarks: it falls back on its own readability port and jusText where its
rules find too little). It is then sanitized like feed content, its links and
images made absolute against the page (its <base href>, else its final URL).

Why a page gave nothing comes back in words, with whether trying it again
later may help (a timeout, a 503) or not (a 404, a PDF, a refused address).
"""

from __future__ import annotations

from urllib.parse import urljoin

import lxml.etree
import lxml.html

from feedsvc import content, selectors
from feedsvc.fetched import FetchResult
from feedsvc.fulltext import Article

HTML_TYPES = ("text/html", "application/xhtml+xml")
# Statuses and fetch errors that another try may get past.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
TRANSIENT_ERRORS = frozenset({"timeout", "connection", "tls"})
# An article shorter than this (in characters of text) is no article: a
# cookie wall, a "please enable JavaScript" page.
MIN_TEXT = 100


def extract_article(fetched: FetchResult, selector: str | None = None) -> Article:
    """The article in a fetched page, or why there is none."""
    problem = page_problem(fetched)
    if problem is not None:
        return problem
    # Imported on first use: parse processes of a service with no full-text
    # source never load it (about 10 MB each).
    from trafilatura.utils import load_html

    tree = load_html(fetched.content)
    if tree is None:
        return Article(error="the page could not be parsed as HTML")
    base = page_base(tree, fetched.final_url)
    if selector:
        html = _selected(tree, selector)
        if not html:
            return Article(error=f"nothing on the page matches the selector {selector!r}")
    else:
        # trafilatura resolves links itself, against the URL it is given.
        html = _extracted(tree, base)
        if not html:
            return Article(error="no article found on the page")
    body = content.sanitize_html(html, base)
    if len(content.html_to_text(body)) < MIN_TEXT and not selector:
        return Article(error=f"the article found has less than {MIN_TEXT} characters of text")
    return Article(html=body)


def page_problem(fetched: FetchResult) -> Article | None:
    """Why a fetch brought no page to extract from, or None if it did."""
    if fetched.error_kind is not None:
        return Article(error=fetched.error, transient=fetched.error_kind in TRANSIENT_ERRORS)
    status = fetched.status or 0
    if not 200 <= status < 300 or status == 204:
        return Article(error=f"HTTP {status}", transient=status in TRANSIENT_STATUSES)
    kind = fetched.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind and kind not in HTML_TYPES:
        return Article(error=f"the page is {kind}, not HTML")
    if not fetched.content.strip():
        return Article(error="the page is empty")
    return None


def page_base(tree: lxml.html.HtmlElement, url: str) -> str:
    """What relative URLs in the page resolve against: its <base href>, else its URL."""
    for href in tree.xpath("//head/base/@href")[:1]:
        if str(href).strip():
            return urljoin(url, str(href).strip())
    return url


def _selected(tree: lxml.html.HtmlElement, selector: str) -> str:
    try:
        found = selectors.select(tree, selector)
    except selectors.BadSelector:
        return ""  # refused when saved; one stored before a check changed picks nothing
    return "".join(lxml.html.tostring(element, encoding="unicode") for element in found)


def _extracted(tree: lxml.html.HtmlElement, url: str) -> str:
    import trafilatura

    html = trafilatura.extract(
        tree,
        url=url,
        output_format="html",
        include_comments=False,
        include_tables=True,
        include_images=True,
        include_links=True,
        include_formatting=True,
    )
    return html or ""
