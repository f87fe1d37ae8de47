"""Fetching on request (add, preview, fetch now), from the web process."""

from __future__ import annotations

from feedsvc.discovery import Preview
from feedsvc.fetcher import Fetcher
from feedsvc.ingest.pipeline import RefreshReport, refresh_source
from feedsvc.subscriptions import Subscribed, Wanted, find_feed, subscribe
from feedsvc.web.context import current_time, end_session, get_db, settings


def fetcher() -> Fetcher:
    """A guarded fetcher with the app's settings; use it in a `with` block."""
    return Fetcher(settings().fetch)


def refresh_now(source_id: int) -> RefreshReport:
    """Refresh one source now, as the worker would, and say how it went."""
    end_session(commit=True)  # the request's work so far; the refresh records in its own
    with fetcher() as client:
        return refresh_source(get_db(), source_id, fetcher=client, now=current_time(),
                              settings=settings().ingest)  # fmt: skip


def find_feed_now(url: str) -> Preview:
    """The one feed at `url`, previewed (see `subscriptions.find_feed`)."""
    with fetcher() as client:
        return find_feed(get_db(), client, url, budget=settings().admin.discovery_timeout)


def subscribe_now(wanted: Wanted, *, check: bool = True, first_fetch: bool = True) -> Subscribed:
    """Add a source and fetch it at once (see `subscriptions.subscribe`)."""
    end_session(commit=True)  # the request's work so far; the source is added in its own
    with fetcher() as client:
        return subscribe(get_db(), client, wanted, current_time(),
                         settings=settings().ingest, check=check, first_fetch=first_fetch,
                         budget=settings().admin.discovery_timeout)  # fmt: skip
