"""One look at a URL before it becomes a source: is it a feed, and what does it say?"""

from __future__ import annotations

from feedsvc.fetched import FetchResult
from feedsvc.ingest import policy
from feedsvc.ingest.parse import ParsedFeed
from feedsvc.ingest.plan import Parsed, observe
from feedsvc.ingest.work import parse_body


def parse_fetched(fetched: FetchResult) -> tuple[ParsedFeed | None, policy.Observation]:
    """Parse a fetch that has a body; otherwise, or when it is no feed, say why."""
    if not fetched.has_body:
        return None, observe(fetched, None)
    feed, error = parse_body(fetched)
    return feed, observe(fetched, None if feed else Parsed(error=error))
