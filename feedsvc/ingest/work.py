"""The pure middle of a refresh in one call: parse → prepare → process; and
the extraction of a full article from its page.

A driver runs `work` in worker processes; this module imports only what it
needs (no database, no HTTP client), so those processes stay small.
"""

from __future__ import annotations

from feedsvc.fetched import FetchResult
from feedsvc.fulltext import Article
from feedsvc.ingest.article import extract_article
from feedsvc.ingest.parse import NotAFeed, parse_feed, with_link_header
from feedsvc.ingest.prepare import prepare_feed
from feedsvc.ingest.process import process_feed
from feedsvc.ingest.types import Parsed, ParsedFeed, PrepareSettings, Target


def work(
    fetched: FetchResult, target: Target, settings: PrepareSettings, known: frozenset[str]
) -> Parsed | None:
    """Parse, prepare and process a body: pure, so it runs in worker processes.

    None when there was no body (a 304, an error); a body that is not a feed
    comes back as `Parsed(error=...)`.
    """
    if not fetched.has_body:
        return None
    feed, error = parse_body(fetched)
    if feed is None:
        return Parsed(error=error)
    try:
        prepared = prepare_feed(feed, target.base_url, settings, known, target.strip_selectors,
                                target.category_options)  # fmt: skip
        return Parsed(feed=process_feed(prepared, target))
    except Exception as exc:  # a bug of ours on odd input: the source says so, the rest go on
        return Parsed(error=f"the entries could not be prepared: {type(exc).__name__}")


def extract(fetched: FetchResult, selector: str | None) -> Article:
    """An entry's page to its article, in a worker process (trafilatura is CPU-bound)."""
    try:
        return extract_article(fetched, selector)
    except Exception as exc:  # a bug of ours, or the extractor's, on odd input
        return Article(error=f"the article could not be extracted: {type(exc).__name__}")


def parse_body(fetched: FetchResult) -> tuple[ParsedFeed | None, str | None]:
    """The fetched body as a feed, or None and why it is not one."""
    try:
        feed = parse_feed(fetched.content, fetched.final_url, fetched.headers.get("content-type"))
    except NotAFeed as exc:
        return None, str(exc)
    except Exception as exc:  # feedparser on hostile bytes
        return None, f"the feed could not be parsed: {type(exc).__name__}"
    return with_link_header(feed, fetched.headers.get("link"), fetched.final_url), None
