"""Subscribing to a feed: the one way a source is added, by the admin, the API and the CLI.

discovery → preview → checks → add (title, tags, interval, mode, full articles) → first fetch.
Each entry point only formats the result, or the typed error: `NeedsChoice`
(a page names several feeds), `DiscoveryError` (not a feed, unreachable, or
refused by the fetch guard), `SourceExists` (already subscribed), `SourceError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from feedsvc import sources
from feedsvc.db import Database
from feedsvc.discovery import Candidate, Preview, discover
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.fetch_options import FetchOptionsWanted
from feedsvc.fetched import NO_OPTIONS, FetchOptions
from feedsvc.fetcher import Fetcher
from feedsvc.ingest.pipeline import RefreshReport, refresh_source
from feedsvc.ingest.settings import IngestSettings
from feedsvc.models import Source
from feedsvc.sources import SourceExists, normalize_feed_url
from feedsvc.urls import web_url


class NeedsChoice(FeedsvcError):
    """The address is a page naming several feeds: the caller picks one."""

    kind = ErrorKind.NEEDS_CHOICE

    def __init__(self, url: str, candidates: Sequence[Candidate]) -> None:
        super().__init__(f"{url} is a web page, not a feed; it names {len(candidates)} feeds: "
                         "add one of those", "url")  # fmt: skip
        self.candidates = list(candidates)

    def extra(self) -> dict[str, Any]:
        return {"candidates": [asdict(candidate) for candidate in self.candidates]}


@dataclass(frozen=True)
class Wanted:
    """What the caller asks for; title and site URL default to the feed's own."""

    url: str
    title: str = ""
    site_url: str | None = None
    tags: Sequence[str] = ()
    interval: int | None = None
    mode: str | None = None
    fetch_full: bool = False
    # How it is fetched (its User-Agent, headers, cookie, credentials), discovery included.
    fetch_options: FetchOptionsWanted | None = None


@dataclass(frozen=True)
class Subscribed:
    source_id: int
    title: str
    feed_url: str
    first_fetch: RefreshReport | None


def find_feed(
    db: Database, fetcher: Fetcher, url: str, *, budget: float, options: FetchOptions = NO_OPTIONS
) -> Preview:
    """The one feed at `url` (a feed's address, or a page naming one), previewed,
    unless it is a source already."""
    url = normalize_feed_url(url)
    _not_subscribed(db, url)
    candidates, preview = discover(fetcher, url, budget=budget, options=options)
    if preview is None:
        raise NeedsChoice(url, candidates)
    _not_subscribed(db, preview.feed_url)
    return preview


def subscribe(
    db: Database,
    fetcher: Fetcher,
    wanted: Wanted,
    now: dt.datetime,
    *,
    settings: IngestSettings,
    budget: float,
    check: bool = True,
    first_fetch: bool = True,
) -> Subscribed:
    """Add the feed at `wanted.url` and fetch it at once.

    With `check`, the URL is looked at first (discovery and preview): it must be
    one feed, and the feed's own title and site fill what the caller left out.
    Without it (a feed previewed already, or added offline), it is added as given.
    """
    url, title, site_url = wanted.url, wanted.title, wanted.site_url
    minimum = settings.schedule.min_interval
    sources.check_interval(wanted.interval, minimum)  # before seconds of discovery
    secret_key = fetcher.settings.secret_key
    # Checked before anything is fetched: a bad header is refused, not sent.
    options = sources.options_to_try(wanted.fetch_options, secret_key)
    if check:
        # Outside the transaction that adds it: discovery takes seconds.
        preview = find_feed(db, fetcher, url, budget=budget, options=options)
        # The feed's own link is upstream's word, not the caller's: dropped if not http(s).
        url, title = preview.feed_url, title or preview.title
        site_url = site_url or web_url(preview.site_url)
    with db.session() as session:
        source = sources.add_source(
            session,
            url,
            now,
            title=title,
            site_url=site_url,
            interval=wanted.interval,
            min_interval=minimum,
            fetch_full=wanted.fetch_full,
        )
        sources.update_source(session, source, now, tags=wanted.tags, mode=wanted.mode)
        if wanted.fetch_options is not None:
            sources.set_fetch_options(source, wanted.fetch_options, secret_key)
        session.flush()
        added = Subscribed(source.id, source.display_title, source.feed_url, None)
    if not first_fetch:
        return added
    report = refresh_source(db, added.source_id, fetcher=fetcher, now=now, settings=settings)
    return Subscribed(added.source_id, added.title, added.feed_url, report)


def _not_subscribed(db: Database, feed_url: str) -> None:
    with db.session(write=False) as session:
        existing = session.scalar(select(Source).where(Source.feed_url == feed_url))
    # Raised outside the block: its rollback would expire what the error shows.
    if existing is not None:
        raise SourceExists(existing)
