"""Full articles as values: a post whose article is due (`ArticleJob`) and
what its page came to (`Article`). Pure: the articles service, the driver and
the parse processes' extraction (`ingest/article.py`) pass them between them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from feedsvc.fetched import NO_OPTIONS, FetchOptions


@dataclass(frozen=True)
class ArticleJob:
    """A post whose article is due: its page, and what picks the article in it."""

    post_id: int
    url: str
    selector: str | None = None
    # How many tries went before this one.
    tries: int = 0
    # The source's fetch options; its headers, cookie and credentials go only
    # to its feed's server (`feed_url`), where the page may be too.
    options: FetchOptions = NO_OPTIONS
    feed_url: str | None = None

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


@dataclass(frozen=True)
class Article:
    """The sanitized article, or why there is none (`transient`: try again later)."""

    html: str | None = None
    error: str | None = None
    transient: bool = False
