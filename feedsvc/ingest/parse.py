"""Feed bytes to normalized entries, with feedparser. No I/O.

A feed that parses only in part (feedparser's "bozo") is kept as far as it
parses, with the reason recorded; bytes that are no feed at all raise `NotAFeed`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.mixin

from feedsvc import content

# feedparser works out the base URL at every element start — a URL join for
# each of tens of thousands of elements, almost all with the same arguments.
# Both joins are pure functions of their arguments: remember recent answers.
# (A fifth of a cold parse went here.)
feedparser.mixin._urljoin = functools.lru_cache(maxsize=4096)(feedparser.mixin._urljoin)
feedparser.mixin.make_safe_absolute_uri = functools.lru_cache(maxsize=4096)(
    feedparser.mixin.make_safe_absolute_uri
)


class NotAFeed(ValueError):
    """The bytes are not a feed; the message says what they seem to be."""


@dataclass(frozen=True)
class Enclosure:
    url: str
    type: str = ""
    length: int = 0


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


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str | None
    description: str
    upstream_id: str | None
    updated: dt.datetime | None
    entries: tuple[ParsedEntry, ...]
    # The feed's own polling hint in seconds (RSS ttl, sy:updatePeriod).
    hint_interval: int | None = None
    # Why feedparser found the document malformed, when it did.
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_SY_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2592000,
               "yearly": 31536000}  # fmt: skip


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # Our own sanitizer (nh3) runs at store time and resolves relative URLs
    # against each content's xml:base; feedparser doing both too costs half the parse.
    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    feed = parsed.get("feed", {})
    version = parsed.get("version", "")
    if not version and not parsed.entries:
        raise NotAFeed(_not_a_feed_reason(body, content_type, parsed))

    base = feed.get("link") or url
    entries = tuple(entry for raw in parsed.entries if (entry := _entry(raw, base)) is not None)
    problem = None
    if parsed.get("bozo"):
        problem = _describe_bozo(parsed.get("bozo_exception"))
    return ParsedFeed(
        title=content.normalize_space(content.html_to_text(feed.get("title", ""))),
        link=feed.get("link"),
        description=content.html_to_text(feed.get("subtitle", "")),
        upstream_id=feed.get("id") or None,
        updated=_date(dict.get(feed, "updated_parsed")),
        entries=entries,
        hint_interval=_hint_interval(feed),
        problem=problem,
    )


def _entry(raw: Any, base: str) -> ParsedEntry | None:
    link = raw.get("link")
    if link:
        link = urljoin(base, link.strip())
    summary_html = raw.get("summary", "") or ""
    summary_base = (raw.get("summary_detail") or {}).get("base")
    # The richest of the content alternatives and the summary.
    alternatives = [(c.get("value", "") or "", c.get("base")) for c in raw.get("content") or []]
    content_html, content_base = max([*alternatives, (summary_html, summary_base)],
                                     key=lambda pair: len(pair[0]))  # fmt: skip
    title = content.html_to_text(raw.get("title", ""))
    key = (raw.get("id") or "").strip() or link or ""
    if not key:
        if not (title or content_html):
            return None
        key = "hash:" + content.content_hash(title, content_html)
    return ParsedEntry(
        key=key[:1024],
        title=title,
        link=link or None,
        author=_author(raw),
        published=_date(raw.get("published_parsed")),
        # dict.get: feedparser warns when it maps a missing "updated" to "published".
        updated=_date(dict.get(raw, "updated_parsed")),
        content_html=content_html,
        summary_html=summary_html,
        content_base=content_base or None,
        tags=tuple(
            dict.fromkeys(
                content.normalize_space(t.get("term") or t.get("label") or "")
                for t in raw.get("tags", [])
                if (t.get("term") or t.get("label"))
            )
        ),
        enclosures=tuple(_enclosures(raw, base)),
    )


def _author(raw: Any) -> str | None:
    name = raw.get("author_detail", {}).get("name") or raw.get("author")
    if not name and raw.get("authors"):
        name = ", ".join(a.get("name", "") for a in raw["authors"] if a.get("name"))
    return content.normalize_space(content.html_to_text(name))[:500] if name else None


def _enclosures(raw: Any, base: str) -> list[Enclosure]:
    found = []
    for link in raw.get("links", []):
        if link.get("rel") == "enclosure" and link.get("href"):
            try:
                length = int(link.get("length") or 0)
            except ValueError:
                length = 0
            found.append(
                Enclosure(url=urljoin(base, link["href"]), type=link.get("type", ""),
                          length=max(length, 0))
            )  # fmt: skip
    return found


def _date(value: time.struct_time | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), tz=dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _hint_interval(feed: Any) -> int | None:
    ttl = feed.get("ttl")
    if ttl:
        try:
            return max(int(ttl), 1) * 60
        except ValueError:
            pass
    period = _SY_PERIODS.get(str(feed.get("sy_updateperiod", "")).strip().lower())
    if period:
        try:
            frequency = max(int(feed.get("sy_updatefrequency") or 1), 1)
        except ValueError:
            frequency = 1
        return period // frequency
    return None


def _describe_bozo(exc: Any) -> str:
    if exc is None:
        return "the feed is malformed"
    text = str(exc).strip() or type(exc).__name__
    return f"the feed is malformed: {text[:300]}"


def _not_a_feed_reason(body: bytes, content_type: str | None, parsed: Any) -> str:
    head = body[:2048].lstrip().lower()
    kind = (content_type or "").split(";")[0].strip() or "no content type"
    if not body.strip():
        return "not a feed: the response was empty"
    if b"<html" in head or b"<!doctype html" in head:
        return f"not a feed: the server sent an HTML page ({kind})"
    reason = _describe_bozo(parsed.get("bozo_exception")) if parsed.get("bozo") else ""
    return f"not a feed: no RSS, Atom or RDF found ({kind}){'; ' + reason if reason else ''}"
