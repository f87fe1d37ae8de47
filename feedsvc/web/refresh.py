"""Fetching on an admin's request (add, preview, fetch now), from the web process."""

from __future__ import annotations

from flask import current_app

from feedsvc.ingest.fetch import Fetcher
from feedsvc.ingest.pipeline import RefreshReport, refresh_source
from feedsvc.ingest.settings import settings_from_config
from feedsvc.web.context import current_time, get_db


def fetcher() -> Fetcher:
    """A guarded fetcher with the app's settings; use it in a `with` block."""
    fetch_settings, _ = settings_from_config(current_app.config)
    return Fetcher(fetch_settings)


def refresh_now(source_id: int) -> RefreshReport:
    """Refresh one source now, as the worker would, and say how it went."""
    _, ingest_settings = settings_from_config(current_app.config)
    with fetcher() as client:
        return refresh_source(get_db(), source_id, fetcher=client, now=current_time(),
                              settings=ingest_settings)  # fmt: skip
