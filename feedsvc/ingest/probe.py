"""One look at a URL before it becomes a source: is it a feed, and what does it say?"""

from __future__ import annotations

from feedsvc import errors
from feedsvc.errors import FeedsvcError
from feedsvc.ingest import policy
from feedsvc.ingest.fetch import Fetcher, FetchResult
from feedsvc.ingest.parse import ParsedFeed
from feedsvc.ingest.plan import Parsed, observe
from feedsvc.ingest.work import parse_body
from feedsvc.vocabulary import FetchErrorKind


def parse_fetched(fetched: FetchResult) -> tuple[ParsedFeed | None, policy.Observation]:
    """Parse a fetch that has a body; otherwise, or when it is no feed, say why."""
    if not fetched.has_body:
        return None, observe(fetched, None)
    feed, error = parse_body(fetched)
    return feed, observe(fetched, None if feed else Parsed(error=error))


class ProbeError(FeedsvcError):
    """The URL is no feed: refused, unreachable or not a feed, in words."""


def probe_feed(fetcher: Fetcher, url: str) -> tuple[FetchResult, ParsedFeed]:
    """Fetch and parse a URL once, to check it is a feed before adding it.

    Raises `ProbeError` with the reason in words when it is not.
    """
    fetched = fetcher.fetch(url)
    if fetched.error:
        kind = (
            errors.REFUSED if fetched.error_kind == FetchErrorKind.REFUSED else errors.UNREACHABLE
        )
        raise ProbeError(f"{url}: {fetched.error}", "url", kind)
    if not fetched.ok:
        raise ProbeError(f"{url}: the server answered HTTP {fetched.status}", "url",
                         errors.UNREACHABLE)  # fmt: skip
    feed, error = parse_body(fetched)
    if feed is None:
        raise ProbeError(f"{url}: {error}", "url", errors.NOT_A_FEED)
    return fetched, feed
