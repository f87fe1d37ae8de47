"""Fetching on request (add, preview, fetch now), from the web process."""

from __future__ import annotations

from flask import current_app

from feedsvc.discovery import Preview
from feedsvc.ingest.fetch import Fetcher
from feedsvc.ingest.pipeline import RefreshReport, refresh_source
from feedsvc.ingest.settings import settings_from_config
from feedsvc.subscriptions import Subscribed, Wanted, find_feed, subscribe
from feedsvc.web.context import current_time, end_session, get_db


def fetcher() -> Fetcher:
    """A guarded fetcher with the app's settings; use it in a `with` block."""
    fetch_settings, _ = settings_from_config(current_app.config)
    return Fetcher(fetch_settings)


def refresh_now(source_id: int) -> RefreshReport:
    """Refresh one source now, as the worker would, and say how it went."""
    end_session(commit=True)  # the request's work so far; the refresh records in its own
    _, ingest_settings = settings_from_config(current_app.config)
    with fetcher() as client:
        return refresh_source(get_db(), source_id, fetcher=client, now=current_time(),
                              settings=ingest_settings)  # fmt: skip


def find_feed_now(url: str) -> Preview:
    """The one feed at `url`, previewed (see `subscriptions.find_feed`)."""
    with fetcher() as client:
        return find_feed(get_db(), client, url, budget=current_app.config["DISCOVERY_TIMEOUT"])


def subscribe_now(wanted: Wanted, *, check: bool = True, first_fetch: bool = True) -> Subscribed:
    """Add a source and fetch it at once (see `subscriptions.subscribe`)."""
    end_session(commit=True)  # the request's work so far; the source is added in its own
    _, ingest_settings = settings_from_config(current_app.config)
    with fetcher() as client:
        return subscribe(get_db(), client, wanted, current_time(),
                         settings=ingest_settings, check=check, first_fetch=first_fetch,
                         budget=current_app.config["DISCOVERY_TIMEOUT"])  # fmt: skip
