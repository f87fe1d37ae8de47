"""Find the feeds behind an address an admin pastes: a feed's, or a site's.

A site's page names its feeds in `<link rel="alternate">` (autodiscovery); when
it names none, the usual feed paths are tried. Every fetch goes through the
guarded fetcher, so an admin's URL cannot reach an internal address either.

Discovery runs inside a web request, so it has a total budget (a few fetches,
each cut at the time left) and answers with what it found when that runs out.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from feedsvc import messages
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.fetched import NO_OPTIONS, FetchOptions, FetchResult
from feedsvc.fetcher import Fetcher
from feedsvc.ingest.parse import ParsedFeed
from feedsvc.ingest.probe import parse_fetched
from feedsvc.vocabulary import FetchErrorKind

FEED_TYPES = {
    "application/atom+xml": "Atom",
    "application/rss+xml": "RSS",
    "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed",
    "application/rdf+xml": "RSS",
    "application/xml": "XML",
    "text/xml": "XML",
}
# Tried, in order, when a page names no feed (as WordPress, Hugo, Jekyll publish them).
USUAL_PATHS = ("/feed", "/feed.xml", "/atom.xml", "/rss.xml", "/index.xml")
PREVIEW_ENTRIES = 5


class DiscoveryError(FeedsvcError):
    """No feed was found; `kind` is refused, unreachable or not_a_feed."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message, "url", kind)


class OutOfTime(DiscoveryError):
    """Discovery's budget ran out before it found a feed."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.UNREACHABLE, message)


@dataclass(frozen=True)
class _Budget:
    seconds: float
    deadline: float  # a time.monotonic() value

    @classmethod
    def start(cls, seconds: float) -> _Budget:
        return cls(seconds, time.monotonic() + seconds)

    def spent(self) -> bool:
        return time.monotonic() >= self.deadline

    def words(self) -> str:
        return f"discovery ran out of time (it stops after {self.seconds:g} s)"


@dataclass(frozen=True)
class Candidate:
    url: str
    title: str
    kind: str


@dataclass(frozen=True)
class PreviewEntry:
    title: str
    link: str | None
    published: dt.datetime | None


@dataclass(frozen=True)
class Preview:
    """A feed, fetched and parsed, as it would be added."""

    feed_url: str
    title: str
    site_url: str | None
    description: str
    entries: tuple[PreviewEntry, ...]


def _join(base: str, href: str | None) -> str | None:
    """`href` resolved against `base`; None when the page's link is no URL
    (`http://[oops/`), which a hostile page must not turn into a crash."""
    if not href:
        return None
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def discover(
    fetcher: Fetcher, url: str, *, budget: float, options: FetchOptions = NO_OPTIONS
) -> tuple[list[Candidate], Preview | None]:
    """The feeds at `url`, and a preview when there is just one: `url` itself
    is a feed, or the page names a single feed.

    All within `budget` seconds: when it runs out, the feeds found so far are
    the answer (a single one then without its preview); none: `OutOfTime`.
    Every fetch goes with the source-to-be's `options` (its own headers,
    cookie and credentials to each fetched URL's host only).
    """
    clock = _Budget.start(budget)
    fetched = _fetch(fetcher, url, clock, options)
    feed, _ = parse_fetched(fetched)
    if feed is not None:
        shown = _preview(fetched, feed)
        return [Candidate(shown.feed_url, shown.title, "feed")], shown
    if not _looks_like_html(fetched):
        kind = fetched.headers.get("content-type") or "no content type"
        raise DiscoveryError(
            ErrorKind.NOT_A_FEED,
            f"{url} is neither a feed nor a web page ({kind}). "
            "Check the address: paste a feed's, or the site's home page.",
        )
    page = _LinkParser()
    page.feed(fetched.content.decode(_charset(fetched), errors="replace"))
    base = _join(fetched.final_url, page.base) or fetched.final_url
    named: dict[str, Candidate] = {}
    for href, title, link_type in page.feeds:
        feed_url = _join(base, href)
        if feed_url and urlsplit(feed_url).scheme in {"http", "https"}:
            kind = FEED_TYPES[link_type]
            named.setdefault(feed_url, Candidate(feed_url, title or kind, kind))
    candidates = list(named.values())
    if len(candidates) == 1:
        try:
            return candidates, _preview_feed(fetcher, candidates[0].url, clock, options)
        except OutOfTime:
            return candidates, None
    if candidates:
        return candidates, None
    title = f" ({page.title.strip()})" if page.title.strip() else ""
    shown = _usual_path_feed(fetcher, fetched.final_url, f"{url} is a web page{title}", clock,
                             options)  # fmt: skip
    return [Candidate(shown.feed_url, shown.title, "feed")], shown


def _usual_path_feed(
    fetcher: Fetcher, site: str, page: str, clock: _Budget, options: FetchOptions
) -> Preview:
    """The feed at the first usual path that has one; DiscoveryError naming the
    paths tried if none has (OutOfTime if the budget ran out first)."""
    tried: list[str] = []
    for path in USUAL_PATHS:
        if clock.spent():
            break
        try:
            guessed: FetchResult | None = _fetch(fetcher, urljoin(site, path), clock, options)
        except OutOfTime:
            break
        except DiscoveryError:
            guessed = None
        tried.append(path)
        feed = parse_fetched(guessed)[0] if guessed is not None else None
        if guessed is not None and feed is not None:
            return _preview(guessed, feed)
    if len(tried) < len(USUAL_PATHS):
        raise OutOfTime(
            f"{page} that names no feed; none was found at "
            f"{', '.join(tried) or 'any usual path'} before {clock.words()}. "
            "Try again, or paste the feed's own address."
        )
    raise DiscoveryError(
        ErrorKind.NOT_A_FEED,
        f"{page} that names no feed, and none was found at " + ", ".join(USUAL_PATHS)
        + ". Look on the site for an RSS or Atom link and paste its address.",
    )


def preview(fetcher: Fetcher, url: str, *, budget: float) -> Preview:
    """Fetch and parse a feed URL within `budget` seconds; raise DiscoveryError
    saying what was found instead."""
    return _preview_feed(fetcher, url, _Budget.start(budget))


def _preview_feed(
    fetcher: Fetcher, url: str, clock: _Budget, options: FetchOptions = NO_OPTIONS
) -> Preview:
    fetched = _fetch(fetcher, url, clock, options)
    feed, observed = parse_fetched(fetched)
    if feed is None:
        found = fetched.headers.get("content-type") or "no content type"
        raise DiscoveryError(
            ErrorKind.NOT_A_FEED,
            f"{url} is not a feed ({found}): {observed.error}. "
            "Check the address, or paste the site's home page to find its feeds.",
        )
    return _preview(fetched, feed)


def _fetch(
    fetcher: Fetcher, url: str, clock: _Budget, options: FetchOptions = NO_OPTIONS
) -> FetchResult:
    fetched = fetcher.fetch(url, deadline=clock.deadline, options=options)
    if fetched.error_kind == FetchErrorKind.TIMEOUT and clock.spent():
        raise OutOfTime(f"{messages.where(url)} did not answer before {clock.words()}. "
                        "Try again, or paste the feed's own address.")  # fmt: skip
    if fetched.error or not fetched.ok:
        kind = ErrorKind.REFUSED if fetched.error_kind == FetchErrorKind.REFUSED else (
            ErrorKind.UNREACHABLE)  # fmt: skip
        words = messages.fetch_problem(fetched.error_kind, fetched.final_url or url,
                                       fetched.status, fetched.error)  # fmt: skip
        raise DiscoveryError(kind, words)
    return fetched


def _preview(fetched: FetchResult, feed: ParsedFeed) -> Preview:
    # A permanent redirect is followed for good; a temporary one is not.
    url = fetched.final_url if fetched.permanent_redirect else fetched.url
    newest = sorted(
        feed.entries,
        key=lambda e: e.published or dt.datetime.min.replace(tzinfo=dt.UTC),
        reverse=True,
    )[:PREVIEW_ENTRIES]
    return Preview(
        feed_url=url,
        title=feed.meta.title,
        site_url=feed.meta.link,
        description=feed.meta.description,
        entries=tuple(PreviewEntry(e.title, e.link, e.published) for e in newest),
    )


def _looks_like_html(fetched: FetchResult) -> bool:
    content_type = fetched.headers.get("content-type", "").lower()
    if "html" in content_type:
        return True
    head = fetched.content[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _charset(fetched: FetchResult) -> str:
    content_type = fetched.headers.get("content-type", "")
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            try:
                "".encode(value.strip('"'))
                return value.strip('"')
            except LookupError:
                break
    return "utf-8"


class _LinkParser(HTMLParser):
    """Collects <link rel="alternate" type="feed type">, <base href> and <title>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.feeds: list[tuple[str, str, str]] = []
        self.base: str | None = None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "link":
            rels = values.get("rel", "").lower().split()
            kind = values.get("type", "").lower().split(";")[0].strip()
            if "alternate" in rels and kind in FEED_TYPES and values.get("href", "").strip():
                self.feeds.append((values["href"].strip(), values.get("title", "").strip(), kind))
        elif tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title and len(self.title) < 300:
            self.title += data
