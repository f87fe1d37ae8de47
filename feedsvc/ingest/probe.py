"""One look at a URL before it becomes a source: is it a feed, and what does it say?"""

from __future__ import annotations

from feedsvc import errors
from feedsvc.errors import FeedsvcError
from feedsvc.ingest import policy
from feedsvc.ingest.fetch import REFUSED, Fetcher, FetchResult
from feedsvc.ingest.parse import ParsedFeed
from feedsvc.ingest.plan import Parsed, outcome
from feedsvc.ingest.work import parse_body


def parse_outcome(fetched: FetchResult) -> tuple[ParsedFeed | None, policy.Outcome]:
    """Parse a fetch that has a body; otherwise, or when it is no feed, say why."""
    if not fetched.has_body:
        return None, outcome(fetched, None)
    feed, error = parse_body(fetched)
    return feed, outcome(fetched, None if feed else Parsed(error=error))


class ProbeError(FeedsvcError):
    """The URL is no feed: refused, unreachable or not a feed, in words."""


def probe_feed(fetcher: Fetcher, url: str) -> tuple[FetchResult, ParsedFeed]:
    """Fetch and parse a URL once, to check it is a feed before adding it.

    Raises `ProbeError` with the reason in words when it is not.
    """
    fetched = fetcher.fetch(url)
    if fetched.error:
        kind = errors.REFUSED if fetched.error_kind == REFUSED else errors.UNREACHABLE
        raise ProbeError(f"{url}: {fetched.error}", "url", kind)
    if not fetched.ok:
        raise ProbeError(f"{url}: the server answered HTTP {fetched.status}", "url",
                         errors.UNREACHABLE)  # fmt: skip
    feed, error = parse_body(fetched)
    if feed is None:
        raise ProbeError(f"{url}: {error}", "url", errors.NOT_A_FEED)
    return fetched, feed
