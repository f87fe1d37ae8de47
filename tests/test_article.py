"""ingest/article.py: an entry's page to its sanitized article, or why not."""

from __future__ import annotations

import datetime as dt

import pytest

from feedsvc.articles import MAX_TRIES, next_try
from feedsvc.fetched import FetchResult
from feedsvc.fulltext import Article
from feedsvc.ingest.article import extract_article

URL = "http://news.example/2026/11/story"
HTML = {"content-type": "text/html; charset=utf-8"}
STORY = (
    "The harbour authority voted on Tuesday to rebuild the old northern pier, "
    "after two winters of storms left its timber frame unsafe for the ferries."
)


def page(body: str, head: str = "") -> bytes:
    return f"""<!doctype html><html><head><title>Pier</title>{head}</head><body>
<nav><a href="/">Home</a> <a href="/sport">Sport</a> <a href="/weather">Weather</a></nav>
<header><h1>Old pier to be rebuilt</h1></header>
{body}
<footer><p>© News Example. <a href="/privacy">Privacy</a> · <a href="/terms">Terms</a></p></footer>
<script>track()</script></body></html>""".encode()


ARTICLE = f"""<article><h1>Old pier to be rebuilt</h1>
<p>{STORY}</p>
<p>Work starts in spring and should take eighteen months, the council said in a
statement, with the <a href="/2026/11/ferries">ferry timetable</a> changed meanwhile.</p>
<figure><img src="img/pier.jpg" alt="The pier" width="640" height="480"></figure>
<p>Residents had campaigned for years to keep the pier, which dates from 1887 and is
the last of its kind on this stretch of the coast.</p></article>
<aside class="related"><p>Related: council budget, parking fees, the new library.</p></aside>"""


def fetched(body: bytes, headers: dict[str, str] = HTML, status: int = 200) -> FetchResult:
    return FetchResult(URL, URL, status, headers, body)


def test_the_extractor_finds_the_article_with_absolute_links() -> None:
    article = extract_article(fetched(page(ARTICLE)))
    assert article.error is None and article.html is not None
    assert STORY in article.html
    assert "Residents had campaigned" in article.html
    assert 'href="http://news.example/2026/11/ferries"' in article.html
    assert 'src="http://news.example/2026/11/img/pier.jpg"' in article.html
    assert "Privacy" not in article.html and "Weather" not in article.html
    assert "track()" not in article.html


def test_links_resolve_against_the_pages_base() -> None:
    head = '<base href="http://cdn.example/assets/">'
    article = extract_article(fetched(page(ARTICLE, head)))
    assert article.html is not None
    assert 'src="http://cdn.example/assets/img/pier.jpg"' in article.html


def test_a_selector_picks_the_element_instead() -> None:
    body = f'<div class="story"><p>{STORY}</p><script>x()</script></div>{ARTICLE}'
    article = extract_article(fetched(page(body)), "div.story")
    assert article.html is not None
    assert STORY in article.html
    assert "Residents" not in article.html and "x()" not in article.html


def test_a_selector_matching_nothing_says_so() -> None:
    article = extract_article(fetched(page(ARTICLE)), "div.missing")
    assert article == Article(error="nothing on the page matches the selector 'div.missing'")


@pytest.mark.parametrize(
    ("result", "error", "transient"),
    [
        (FetchResult(URL, URL, 404, HTML, b"gone"), "HTTP 404", False),
        (FetchResult(URL, URL, 503, HTML, b"busy"), "HTTP 503", True),
        (FetchResult(URL, URL, 200, {"content-type": "application/pdf"}, b"%PDF-1.7"),
         "the page is application/pdf, not HTML", False),
        (FetchResult(URL, URL, error_kind="timeout", error="timed out after 5 s"),
         "timed out after 5 s", True),
        (FetchResult(URL, URL, error_kind="refused", error="refused: no"), "refused: no", False),
        (FetchResult(URL, URL, 200, HTML, b"  "), "the page is empty", False),
    ],
)  # fmt: skip
def test_a_page_without_an_article_says_why(
    result: FetchResult, error: str, transient: bool
) -> None:
    assert extract_article(result) == Article(error=error, transient=transient)


def test_a_page_with_too_little_text_is_no_article() -> None:
    article = extract_article(fetched(page("<p>Please enable JavaScript.</p>")))
    assert article.html is None and article.error is not None


NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("tries", "article", "after"),
    [
        (1, Article(error="HTTP 503", transient=True), dt.timedelta(minutes=10)),
        (2, Article(error="HTTP 503", transient=True), dt.timedelta(hours=1)),
        (3, Article(error="HTTP 503", transient=True), dt.timedelta(hours=6)),
        (MAX_TRIES, Article(error="HTTP 503", transient=True), None),
        (1, Article(error="HTTP 404"), None),
        (1, Article(html="<p>x</p>"), None),
    ],
)
def test_only_a_transient_failure_is_tried_again_a_bounded_number_of_times(
    tries: int, article: Article, after: dt.timedelta | None
) -> None:
    assert next_try(tries, article, NOW) == (None if after is None else NOW + after)
