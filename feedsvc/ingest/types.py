"""The values that pass between the ingest stages, and nothing else.

Plain frozen dataclasses with no behaviour to speak of, so any stage — and
any test — can build and compare them without loading HTTP, parsing or
database code.

    Target ─fetch→ FetchResult ─parse→ ParsedFeed ─prepare→ PreparedFeed
           ─process→ PreparedFeed (in Parsed) ─plan→ Plan ─apply→ rows
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from feedsvc.fetched import NO_OPTIONS, FetchOptions
from feedsvc.filtering import Rule
from feedsvc.media import Enclosure, Episode, Podcast


@dataclass(frozen=True)
class Target:
    """What a refresh starts from: one source's URL, validators and options,
    read once (while claiming, or by `load.load_target`) and passed to every stage."""

    id: int
    feed_url: str
    etag: str | None = None
    last_modified: str | None = None
    # Relative links in entries resolve against this (the site, else the feed).
    site_url: str | None = None
    # Never stored anything: there is nothing to compare entries with.
    fresh: bool = True
    # CSS selectors of elements removed from the content before sanitizing.
    strip_selectors: tuple[str, ...] = ()
    # The filter rules the entries go through: global first, then the source's own.
    rules: tuple[Rule, ...] = ()
    # Fetch each new entry's page for its article (feedsvc/articles.py).
    fetch_full: bool = False
    # Upstream categories as tags: kept or not, and renamed or dropped
    # ((category, new name or "") pairs, see process.upstream_categories).
    keep_categories: bool = True
    category_names: tuple[tuple[str, str], ...] = ()
    options: FetchOptions = NO_OPTIONS

    @property
    def category_options(self) -> tuple[object, ...]:
        """The category options as the entry hash reads them: () by default,
        so entries of sources that never set them keep their hashes."""
        if self.keep_categories and not self.category_names:
            return ()
        return ("categories", self.keep_categories, self.category_names)

    @property
    def base_url(self) -> str:
        return self.site_url or self.feed_url

    @property
    def host(self) -> str:
        return host_of(self.feed_url)


@functools.lru_cache(maxsize=4096)
def host_of(url: str) -> str:
    """The URL's host, lower case: what the per-host fetch limit counts by.
    Asked for every claim and fetch of a source: remembered, not parsed again."""
    return (urlsplit(url).hostname or "").lower()


@dataclass(frozen=True)
class Thumbnail:
    """media:thumbnail: the picture the publisher chose, and its size if given."""

    url: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class ParsedEntry:
    key: str
    title: str
    link: str | None
    author: str | None
    published: dt.datetime | None
    updated: dt.datetime | None
    content_html: str
    summary_html: str
    tags: tuple[str, ...] = ()
    # The base URL relative links in the content are resolved against (xml:base).
    content_base: str | None = None
    enclosures: tuple[Enclosure, ...] = ()
    # The publisher's own link when a proxy (FeedBurner) gave its redirect as `link`.
    original_link: str | None = None
    thumbnail: Thumbnail | None = None
    episode: Episode | None = None
    # The upstream's own discussion: its comments page (RSS <comments>, Atom
    # rel="replies" of type text/html) and comment feed (wfw:commentRss, Atom
    # rel="replies" of a feed's type).
    comments_url: str | None = None
    comments_feed: str | None = None


@dataclass(frozen=True)
class FeedMeta:
    """What the feed says about itself."""

    title: str = ""
    link: str | None = None
    description: str = ""
    upstream_id: str | None = None
    updated: dt.datetime | None = None
    # The feed's own polling hint in seconds (RSS ttl, sy:updatePeriod).
    hint_interval: int | None = None
    # Why the document was malformed, when it was (it is stored as far as it parsed).
    problem: str | None = None
    podcast: Podcast | None = None
    # WebSub: the hubs the feed names (rel="hub") and its own address (rel="self"),
    # the topic to subscribe to.
    hubs: tuple[str, ...] = ()
    self_url: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    meta: FeedMeta
    entries: tuple[ParsedEntry, ...]


@dataclass(frozen=True)
class PrepareSettings:
    summary_length: int = 300


@dataclass(frozen=True)
class PreparedEntry:
    """An entry turned into the columns of a post."""

    key: str
    # Of the parsed entry: equal hashes mean nothing upstream changed.
    entry_hash: str
    values: dict[str, Any]
    tags: tuple[str, ...] = ()
    # What a step said about the entry ("content cut at 1 MiB", a dropped link).
    notes: tuple[str, ...] = ()
    # The publisher's own link behind a proxy's (feedburner:origLink).
    original_link: str | None = None
    # The entry's story key (its title in words, hashed): the same story elsewhere has it too.
    story_bands: tuple[int, ...] = ()


@dataclass(frozen=True)
class PreparedFeed:
    meta: FeedMeta
    entries: tuple[PreparedEntry, ...] = ()
    # Entries skipped as unchanged: (key, entry hash), matched to posts by the plan.
    unchanged: tuple[tuple[str, str], ...] = ()
    # Publication times of every entry in the feed, for the adaptive interval.
    entry_times: tuple[dt.datetime, ...] = field(default=())


@dataclass(frozen=True)
class Parsed:
    """What a body came to after parse → prepare → process."""

    feed: PreparedFeed | None = None
    # Why the body is not a feed (it is then an error of the source's).
    error: str | None = None
