"""What a refresh starts from: one source's URL, validators and options.

A plain value, read once (while claiming, or by `load_target`) and passed to
every stage, so no stage goes back to the database to ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Target:
    id: int
    feed_url: str
    etag: str | None = None
    last_modified: str | None = None
    # Relative links in entries resolve against this (the site, else the feed).
    site_url: str | None = None
    # Never stored anything: there is nothing to compare entries with.
    fresh: bool = True

    @property
    def base_url(self) -> str:
        return self.site_url or self.feed_url

    @property
    def host(self) -> str:
        return (urlsplit(self.feed_url).hostname or "").lower()
