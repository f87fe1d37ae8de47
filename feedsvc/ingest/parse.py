"""Feed bytes to normalized entries. No I/O.

RSS, Atom and RDF go through feedparser; JSON Feed 1.0/1.1, which the released
feedparser does not read, is mapped here to the same `ParsedFeed`/`ParsedEntry`.
A feed that parses only in part (feedparser's "bozo", a JSON Feed with fields of
the wrong type) is kept as far as it parses, with the reason recorded in words;
bytes that are no feed at all raise `NotAFeed`.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import functools
import hashlib
import html
import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import feedparser

from feedsvc import content
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.ingest import feedparser_tuning  # noqa: F401  (feedparser, faster)
from feedsvc.ingest.types import (
    Enclosure,
    Episode,
    FeedMeta,
    ParsedEntry,
    ParsedFeed,
    Podcast,
    Thumbnail,
)
from feedsvc.urls import joins_to_itself


class NotAFeed(FeedsvcError):
    """The bytes are not a feed; the message says what they seem to be."""

    kind = ErrorKind.NOT_A_FEED


_SY_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2592000,
               "yearly": 31536000}  # fmt: skip


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """The feed in `body`, fetched from `url`; `NotAFeed` says why when it is none.

    Every text in the result is free of what no XML document, database or
    sanitizer takes (NUL and other control characters, lone surrogates).
    """
    if _looks_like_json(body, content_type):
        return _cleaned(_parse_json_feed(body, url))
    return _cleaned(_parse_xml_feed(body, url, content_type))


def _cleaned(feed: ParsedFeed) -> ParsedFeed:
    entries = tuple(map(_cleaned_entry, feed.entries))
    changed = any(new is not old for new, old in zip(entries, feed.entries, strict=True))
    meta = _clean_strings(feed.meta)
    if not changed and meta is feed.meta:
        return feed
    return ParsedFeed(meta, entries)


def _cleaned_entry(entry: ParsedEntry) -> ParsedEntry:
    """The entry with clean text; the same object when nothing needed cleaning."""
    replaced: dict[str, Any] = {}
    key = storable_key(content.strip_xml_illegal(entry.key))
    if key != entry.key:
        replaced["key"] = key
    enclosures = tuple(_clean_strings(enclosure) for enclosure in entry.enclosures)
    if any(new is not old for new, old in zip(enclosures, entry.enclosures, strict=True)):
        replaced["enclosures"] = enclosures
    return _clean_strings(entry, **replaced)  # type: ignore[no-any-return]


# An index row holds at most 2,704 bytes on PostgreSQL: a key must fit with room.
MAX_KEY_BYTES = 1000


def storable_key(key: str) -> str:
    """The entry key, or a digest of it when it is too long to index."""
    if len(key.encode("utf-8")) <= MAX_KEY_BYTES:
        return key
    return "hash:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _clean_strings(value: Any, **replaced: Any) -> Any:
    """The dataclass with its text fields (and tuples of text) cleaned."""
    changes = dict(replaced)
    for name in _field_names(value.__class__):
        if name in changes:
            continue
        current = getattr(value, name)
        if isinstance(current, str):
            clean = content.strip_xml_illegal(current)
            if clean is not current:
                changes[name] = clean
        elif isinstance(current, tuple) and current and isinstance(current[0], str):
            texts = tuple(content.strip_xml_illegal(text) for text in current)
            if texts != current:
                changes[name] = texts
    return dataclasses.replace(value, **changes) if changes else value


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    # dataclasses.fields() builds its answer anew on every call: once per entry adds up.
    return tuple(item.name for item in dataclasses.fields(kind))


def _parse_xml_feed(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
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
    if _join(base, "") is None:  # a feed link that is no URL resolves nothing
        base = url
    entries = tuple(entry for raw in parsed.entries if (entry := _entry(raw, base)) is not None)
    problem = None
    if parsed.get("bozo"):
        problem = _describe_bozo(parsed.get("bozo_exception"))
    meta = FeedMeta(
        title=content.normalize_space(content.html_to_text(feed.get("title", ""))),
        link=feed.get("link"),
        description=content.html_to_text(feed.get("subtitle", "")),
        upstream_id=feed.get("id") or None,
        updated=_date(dict.get(feed, "updated_parsed")),
        hint_interval=_hint_interval(feed),
        problem=problem,
        podcast=_podcast(feed, base),
        **_websub_links(
            ((link.get("rel"), link.get("href")) for link in feed.get("links", [])), url
        ),
    )
    return ParsedFeed(meta, entries)


def _podcast(feed: Any, base: str) -> Podcast | None:
    """The channel's iTunes description; None for a feed that has none."""
    if not any(str(name).startswith("itunes_") for name in feed) and not _itunes_tags(feed):
        return None
    image = (feed.get("image") or {}).get("href")
    owner = feed.get("publisher_detail") or {}
    categories = _itunes_tags(feed)
    return Podcast(
        image=_join(base, image.strip()) if isinstance(image, str) and image.strip() else None,
        explicit=feed.get("itunes_explicit"),
        category=categories[0] if categories else None,
        owner_name=_short_text(owner.get("name")),
        owner_email=_short_text(owner.get("email")),
    )


def _itunes_tags(feed: Any) -> list[str]:
    terms = [(t.get("term") or "").strip() for t in feed.get("tags", [])
             if "itunes.com" in (t.get("scheme") or "")]  # fmt: skip
    return [term for term in terms if term]


def _short_text(value: Any, limit: int = 255) -> str | None:
    text = content.normalize_space(content.strip_xml_illegal(str(value or "")))[:limit]
    return text or None


# What an episode is made of; most entries have none of it.
EPISODE_KEYS = ("itunes_duration", "image", "itunes_episode", "itunes_explicit")


def _episode(raw: Any, base: str) -> Episode | None:
    if not any(key in raw for key in EPISODE_KEYS):
        return None
    image = (raw.get("image") or {}).get("href")
    episode = Episode(
        duration=duration_seconds(raw.get("itunes_duration")),
        image=_join(base, image.strip()) if isinstance(image, str) and image.strip() else None,
        episode=_positive_int(raw.get("itunes_episode")),
        explicit=raw.get("itunes_explicit"),
    )
    return None if episode == Episode() else episode


def duration_seconds(value: Any) -> int | None:
    """itunes:duration ("1:02:03", "62:03", "3723", "3723.5") in whole seconds."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        parts = [float(part) for part in text.split(":")]
    except ValueError:
        return None
    if len(parts) > 3 or any(part < 0 or not math.isfinite(part) for part in parts):
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return int(seconds) if seconds < 10**7 else None


def _positive_int(value: Any) -> int | None:
    if value is None:  # most entries: no exception raised and caught for them
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None


def _thumbnail(raw: Any, base: str) -> Thumbnail | None:
    for found in raw.get("media_thumbnail") or []:
        url = (found.get("url") or "").strip()
        href = _join(base, url) if url else None
        if href:
            width, height = _positive_int(found.get("width")), _positive_int(found.get("height"))
            return Thumbnail(href, width, height)
    return None


def _entry(raw: Any, base: str) -> ParsedEntry | None:
    link = raw.get("link")
    if link:
        link = _join(base, link.strip())
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
        original_link=_original_link(raw, base),
        thumbnail=_thumbnail(raw, base),
        episode=_episode(raw, base),
        **_discussion(raw, base),
    )


FEED_TYPES = ("application/atom+xml", "application/rss+xml", "application/xml", "text/xml",
              "application/feed+json")  # fmt: skip


def _discussion(raw: Any, base: str) -> dict[str, str | None]:
    """Where upstream discusses the entry: RSS <comments> and wfw:commentRss,
    or Atom rel="replies" links (a page, or a feed by its type)."""
    page, feed = raw.get("comments"), raw.get("wfw_commentrss")
    for link in raw.get("links", []):
        if link.get("rel") != "replies" or not link.get("href"):
            continue
        if (link.get("type") or "").split(";")[0].strip().lower() in FEED_TYPES:
            feed = feed or link["href"]
        else:
            page = page or link["href"]
    return {
        "comments_url": _join(base, page.strip())
        if isinstance(page, str) and page.strip()
        else None,
        "comments_feed": _join(base, feed.strip())
        if isinstance(feed, str) and feed.strip()
        else None,
    }


def _original_link(raw: Any, base: str) -> str | None:
    """The publisher's link a proxy kept beside its own: feedburner:origLink,
    pheedo:origLink and the like (feedparser names them prefix_origlink)."""
    for name, value in raw.items():
        if name.endswith("origlink") and isinstance(value, str) and value.strip():
            return _join(base, value.strip())
    return None


def _author(raw: Any) -> str | None:
    name = raw.get("author_detail", {}).get("name") or raw.get("author")
    if not name and raw.get("authors"):
        name = ", ".join(a.get("name", "") for a in raw["authors"] if a.get("name"))
    return content.normalize_space(content.html_to_text(name))[:500] if name else None


def _enclosures(raw: Any, base: str) -> list[Enclosure]:
    found = []
    for link in raw.get("links", []):
        if link.get("rel") != "enclosure" or not link.get("href"):
            continue
        href = _join(base, link["href"])
        if not href:
            continue
        try:
            length = int(link.get("length") or 0)
        except ValueError:
            length = 0
        found.append(Enclosure(url=href, type=link.get("type", ""), length=max(length, 0)))
    return found


# --- WebSub discovery (https://www.w3.org/TR/websub/#discovery) ----------------

# Hubs kept of those a feed names: the subscriber uses the first.
MAX_HUBS = 5
_LINK_VALUE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_REL = re.compile(r"""(?i)\brel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""")


def _websub_links(links: Any, base: str) -> dict[str, Any]:
    """`hubs` and `self_url` from (rel, href) pairs: absolute http(s) URLs only."""
    hubs: list[str] = []
    self_url = None
    for rel, href in links:
        if not isinstance(rel, str) or not isinstance(href, str) or not href.strip():
            continue
        url = _join(base, href.strip())
        if url is None or not url.lower().startswith(("http://", "https://")):
            continue
        rels = rel.lower().split()
        if "hub" in rels and url not in hubs and len(hubs) < MAX_HUBS:
            hubs.append(url)
        if "self" in rels and self_url is None:
            self_url = url
    return {"hubs": tuple(hubs), "self_url": self_url}


def link_header_pairs(value: str) -> list[tuple[str, str]]:
    """(rel, URL) pairs of an HTTP Link header (RFC 8288), each rel on its own."""
    pairs = []
    for match in _LINK_VALUE.finditer(value):
        for rel in _REL.finditer(match.group(2)):
            pairs.append((rel.group(1) or rel.group(2) or "", match.group(1).strip()))
    return pairs


def with_link_header(feed: ParsedFeed, value: str | None, url: str) -> ParsedFeed:
    """The feed with the hubs and self its response's Link header names, which
    come before the document's (WebSub discovery looks at the header first)."""
    if not value:
        return feed
    found = _websub_links(link_header_pairs(value[:8192]), url)
    meta = dataclasses.replace(feed.meta, hubs=found["hubs"] or feed.meta.hubs,
                               self_url=found["self_url"] or feed.meta.self_url)  # fmt: skip
    return dataclasses.replace(feed, meta=meta)


def _join(base: str, href: str) -> str | None:
    """`href` resolved against `base`; None when either is no URL at all
    (urljoin raises on a broken IPv6 host such as "http://[::1")."""
    if joins_to_itself(base, href):
        return href  # most links and ids: urljoin's answer, without its two parses
    try:
        return urljoin(base, href)
    except ValueError:
        return None


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


# --- JSON Feed (https://jsonfeed.org/version/1.1) -------------------------------

_JSON_CONTENT_TYPES = {"application/feed+json", "application/json"}
_JSON_FEED_VERSIONS = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
# The first byte that is not a byte-order mark or white space.
_FIRST_BYTE = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(\S)")
# Nothing in a feed needs a longer integer; longer ones read as floats (often
# inf) rather than costing quadratic time or tripping Python's 4300-digit limit.
_MAX_INT_DIGITS = 100
_MAX_SIZE = 2**63 - 1
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_MAX_PROBLEMS_SHOWN = 5


class _Problems:
    """What was wrong with a JSON Feed, in words: the first few, and a count."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.count = 0

    def add(self, problem: str) -> None:
        self.count += 1
        if len(self.shown) < _MAX_PROBLEMS_SHOWN:
            self.shown.append(problem)

    def describe(self) -> str | None:
        if not self.count:
            return None
        more = self.count - len(self.shown)
        return (
            "the JSON Feed is malformed: "
            + "; ".join(self.shown)
            + (f" (and {more} more)" if more else "")
        )


@dataclass(frozen=True)
class _Fields:
    """Typed reads from one JSON object: a value of the wrong type is noted
    in `problems` and read as absent, so one bad field loses only itself."""

    data: dict[str, Any]
    where: str
    problems: _Problems

    def note(self, key: str, value: Any, expected: str) -> None:
        self.problems.add(f'{self.where}: "{key}" is {_kind(value)}, not {expected}')

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value or ""
        self.note(key, value, "text")
        return ""

    def list(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None or isinstance(value, list):
            return value or []
        self.note(key, value, "a list")
        return []

    def object(self, key: str) -> _Fields | None:
        value = self.data.get(key)
        if isinstance(value, dict):
            return _Fields(value, f"{self.where} {key}", self.problems)
        if value is not None:
            self.note(key, value, "an object")
        return None

    def url(self, key: str, base: str) -> str | None:
        """The URL resolved against `base`; its scheme is checked later, by `urls.web_url`."""
        href = self.text(key).strip()
        if not href:
            return None
        joined = _join(base, href)
        if joined is None:
            self.problems.add(f'{self.where}: "{key}" is not a URL')
        return joined


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    first = _FIRST_BYTE.match(body)
    if first is None:  # nothing but white space: the XML path says the response was empty
        return False
    if first.group(1) in b"{[":
        return True
    kind = (content_type or "").split(";")[0].strip().lower()
    # Servers label XML feeds as JSON and back: the bytes have the last word.
    return kind in _JSON_CONTENT_TYPES and first.group(1) != b"<"


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    problems = _Problems()
    document = _load_json(body, problems)
    if not isinstance(document, dict):
        raise NotAFeed(f"not a feed: the JSON document is {_kind(document)}, not a JSON Feed")
    _check_version(document.get("version"))
    feed = _Fields(document, "the feed", problems)
    title = content.normalize_space(feed.text("title"))
    link = feed.url("home_page_url", url)
    description = content.normalize_space(feed.text("description"))
    # The URL the feed gives for itself is its identity, as an Atom id is.
    upstream_id = feed.url("feed_url", url)
    if "items" not in document:
        problems.add('the feed has no "items"')
    hubs = [("hub", hub.get("url")) for hub in feed.list("hubs") if isinstance(hub, dict)]
    entries = _json_entries(feed, url)
    meta = FeedMeta(
        title=title,
        link=link,
        description=description,
        upstream_id=upstream_id,
        updated=None,  # JSON Feed has no feed-level date
        **_websub_links([*hubs, ("self", upstream_id)], url),
        problem=problems.describe(),  # last: every field above has been read
    )
    return ParsedFeed(meta, entries)


def _json_entries(feed: _Fields, base: str) -> tuple[ParsedEntry, ...]:
    feed_author = _authors(feed)
    entries = []
    for number, raw in enumerate(feed.list("items"), 1):
        if not isinstance(raw, dict):
            feed.problems.add(f"item {number} is {_kind(raw)}, not an object")
            continue
        entry = _json_entry(_Fields(raw, f"item {number}", feed.problems), base, feed_author)
        if entry is not None:
            entries.append(entry)
    return tuple(entries)


def _load_json(body: bytes, problems: _Problems) -> Any:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = body.decode("utf-8-sig", errors="replace")
        problems.add("the JSON is not valid UTF-8; the bad bytes were replaced")
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise NotAFeed(
            f"not a feed: invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise NotAFeed("not a feed: the JSON is nested too deeply to read") from None


def _bounded_int(digits: str) -> int | float:
    return int(digits) if len(digits) <= _MAX_INT_DIGITS else float(digits)


def _check_version(version: Any) -> None:
    if isinstance(version, str) and version.strip().lower().startswith(_JSON_FEED_VERSIONS):
        return
    if version is None:
        found = 'no "version"'
    elif isinstance(version, str):
        found = f'"version" {version[:100]!r}'
    else:
        found = f'a "version" that is {_kind(version)}'
    raise NotAFeed(
        f"not a feed: a JSON document but not a JSON Feed ({found}; "
        f"a JSON Feed's starts with {_JSON_FEED_VERSIONS[0]})"
    )


def _json_entry(item: _Fields, base: str, feed_author: str | None) -> ParsedEntry | None:
    # external_url is the page a link-blog item points at: the link when the
    # item has no page of its own.
    link = item.url("url", base) or item.url("external_url", base)
    title = content.normalize_space(item.text("title"))
    summary = item.text("summary").strip()
    content_html = (
        item.text("content_html").strip()
        or _text_to_html(item.text("content_text"))
        or _text_to_html(summary)
    )
    key = _item_id(item) or link or ""
    if not key:
        if not (title or content_html):
            item.problems.add(f"{item.where} has no id, url, title or content")
            return None
        key = "hash:" + content.content_hash(title, content_html)
    return ParsedEntry(
        key=key[:1024],
        title=title,
        link=link,
        # JSON Feed 1.1: an item without authors has the feed's.
        author=_authors(item) or feed_author,
        published=_json_date(item, "date_published"),
        updated=_json_date(item, "date_modified"),
        content_html=content_html,
        summary_html=html.escape(summary),
        tags=_json_tags(item),
        enclosures=_attachments(item, base),
    )


def _item_id(item: _Fields) -> str:
    """The id as text: JSON Feed allows a number, which readers coerce."""
    value = item.data.get("id")
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if value is not None:
        item.note("id", value, "text or a usable number")
    return ""


def _authors(fields: _Fields) -> str | None:
    """Names from "authors" (1.1), else "author" (1.0), joined as the XML path does."""
    authors: list[Any] = fields.list("authors")
    if not authors and (single := fields.object("author")) is not None:
        authors = [single.data]
    names = []
    for number, raw in enumerate(authors, 1):
        if not isinstance(raw, dict):
            fields.problems.add(f"{fields.where} author {number} is {_kind(raw)}, not an object")
            continue
        name = content.normalize_space(
            _Fields(raw, f"{fields.where} author {number}", fields.problems).text("name")
        )
        if name:
            names.append(name)
    return ", ".join(names)[:500] or None


def _json_date(item: _Fields, key: str) -> dt.datetime | None:
    text = item.text(key).strip()
    if not text:
        return None
    try:
        # RFC 3339 allows a lower-case "t" and "z"; fromisoformat does not.
        value = dt.datetime.fromisoformat(text.upper())
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        item.problems.add(f'{item.where}: "{key}" is not an RFC 3339 date: {text[:40]!r}')
        return None


def _json_tags(item: _Fields) -> tuple[str, ...]:
    tags = []
    for raw in item.list("tags"):
        if isinstance(raw, str):
            tags.append(content.normalize_space(raw))
        else:
            item.problems.add(f"{item.where}: a tag is {_kind(raw)}, not text")
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _attachments(item: _Fields, base: str) -> tuple[Enclosure, ...]:
    found = []
    for number, raw in enumerate(item.list("attachments"), 1):
        where = f"{item.where} attachment {number}"
        if not isinstance(raw, dict):
            item.problems.add(f"{where} is {_kind(raw)}, not an object")
            continue
        attachment = _Fields(raw, where, item.problems)
        url = attachment.url("url", base)
        if not url:
            item.problems.add(f'{where} has no "url"')
            continue
        found.append(
            Enclosure(url=url, type=attachment.text("mime_type").strip(), length=_size(attachment))
        )
    return tuple(found)


def _size(attachment: _Fields) -> int:
    """size_in_bytes as a count of bytes; 0 (unknown) when it is none."""
    value = attachment.data.get("size_in_bytes")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        attachment.note("size_in_bytes", value, "a number")
        return 0
    if not (math.isfinite(value) and 0 <= value <= _MAX_SIZE):
        attachment.problems.add(
            f'{attachment.where}: "size_in_bytes" is out of range: {str(value)[:30]}'
        )
        return 0
    return int(value)


def _text_to_html(text: str) -> str:
    """Plain text as HTML: blank lines part paragraphs, single newlines break lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ""
    paragraphs = _PARAGRAPH_BREAK.split(text)
    return "".join(
        "<p>" + html.escape(paragraph).replace("\n", "<br>") + "</p>" for paragraph in paragraphs
    )


def _kind(value: Any) -> str:
    """A JSON value's type, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"
