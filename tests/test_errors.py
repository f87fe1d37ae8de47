"""One error family: every error a caller can cause is a FeedsvcError with a kind."""

from __future__ import annotations

import pytest

from feedsvc import errors
from feedsvc.accounts import AccountError
from feedsvc.discovery import DiscoveryError, OutOfTime
from feedsvc.errors import FeedsvcError
from feedsvc.fetcher import AddressRefused
from feedsvc.ingest.parse import NotAFeed
from feedsvc.opml import OpmlError
from feedsvc.posts import PostError
from feedsvc.publish.service import BadFeedRequest, FeedNotFound
from feedsvc.sources import SourceError
from feedsvc.urls import NotWebUrl
from feedsvc.web.problems import STATUS

KINDS = {value for name, value in vars(errors).items() if name.isupper()}


@pytest.mark.parametrize("error, kind, field", [
    (AccountError("no user named 'x'", "username", errors.NOT_FOUND), errors.NOT_FOUND, "username"),
    (DiscoveryError(errors.REFUSED, "refused"), errors.REFUSED, "url"),
    (OutOfTime("too slow"), errors.UNREACHABLE, "url"),
    (AddressRefused("10.0.0.1 is private"), errors.REFUSED, None),
    (NotAFeed("not a feed: HTML"), errors.NOT_A_FEED, None),
    (OpmlError("no feeds in this file"), errors.INVALID, "file"),
    (PostError("a post needs a title", "title"), errors.INVALID, "title"),
    (BadFeedRequest("alt must be atom, rss or json"), errors.INVALID, None),
    (FeedNotFound("no tag 'x'"), errors.NOT_FOUND, None),
    (SourceError("the interval must be at least 60 seconds", "interval"), errors.INVALID,
     "interval"),
    (NotWebUrl("not an http(s) URL"), errors.INVALID, "url"),
])  # fmt: skip
def test_every_service_error_is_one_of_the_family(
    error: FeedsvcError, kind: str, field: str | None
) -> None:
    assert isinstance(error, FeedsvcError)
    assert (error.kind, error.field) == (kind, field)
    # The API has a status for every kind there is.
    assert error.kind in KINDS and set(STATUS) == KINDS
