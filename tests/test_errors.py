"""One error family: every error a caller can cause is a FeedsvcError with a kind."""

from __future__ import annotations

import pytest

from feedsvc.accounts import AccountError
from feedsvc.discovery import DiscoveryError, OutOfTime
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.fetcher import AddressRefused
from feedsvc.ingest.parse import NotAFeed
from feedsvc.opml import OpmlError
from feedsvc.posts import PostError
from feedsvc.publish.service import BadFeedRequest, FeedNotFound
from feedsvc.sources import SourceError
from feedsvc.urls import NotWebUrl
from feedsvc.web.problems import STATUS

KINDS = set(ErrorKind)


@pytest.mark.parametrize("error, kind, field", [
    (AccountError("no user named 'x'", "username", ErrorKind.NOT_FOUND), ErrorKind.NOT_FOUND,
     "username"),
    (DiscoveryError(ErrorKind.REFUSED, "refused"), ErrorKind.REFUSED, "url"),
    (OutOfTime("too slow"), ErrorKind.UNREACHABLE, "url"),
    (AddressRefused("10.0.0.1 is private"), ErrorKind.REFUSED, None),
    (NotAFeed("not a feed: HTML"), ErrorKind.NOT_A_FEED, None),
    (OpmlError("no feeds in this file"), ErrorKind.INVALID, "file"),
    (PostError("a post needs a title", "title"), ErrorKind.INVALID, "title"),
    (BadFeedRequest("alt must be atom, rss or json"), ErrorKind.INVALID, None),
    (FeedNotFound("no tag 'x'"), ErrorKind.NOT_FOUND, None),
    (SourceError("the interval must be at least 60 seconds", "interval"), ErrorKind.INVALID,
     "interval"),
    (NotWebUrl("not an http(s) URL"), ErrorKind.INVALID, "url"),
])  # fmt: skip
def test_every_service_error_is_one_of_the_family(
    error: FeedsvcError, kind: str, field: str | None
) -> None:
    assert isinstance(error, FeedsvcError)
    assert (error.kind, error.field) == (kind, field)
    # The API has a status for every kind there is.
    assert error.kind in KINDS and set(STATUS) == KINDS
