"""Render a list of entries as Atom 1.0, RSS 2.0 or JSON Feed 1.1. Pure.

Input is plain values (`FeedSpec`, `FeedEntry`), never ORM rows; output is bytes.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from feedgen.feed import FeedGenerator

from feedsvc.content import strip_xml_illegal
from feedsvc.media import Enclosure, Episode, Podcast
from feedsvc.publish import feedgen_ext
from feedsvc.urls import web_url
from feedsvc.version import __version__

GENERATOR = "feedsvc"
ATOM = "atom"
RSS = "rss"
JSON = "json"
FORMATS = (ATOM, RSS, JSON)
CONTENT_TYPES = {
    ATOM: "application/atom+xml; charset=utf-8",
    RSS: "application/rss+xml; charset=utf-8",
    JSON: "application/feed+json; charset=utf-8",
}


@dataclass(frozen=True)
class Origin:
    """The upstream feed a republished entry came from."""

    feed_url: str
    title: str
    site_url: str | None = None
    feed_id: str | None = None
    updated: dt.datetime | None = None


@dataclass(frozen=True)
class AlsoReported:
    """Another source that brought the same story: its own link and its name."""

    source_title: str
    feed_url: str
    url: str | None = None


# Enclosure types Apple takes, by the URL's ending (as the feed validator checks).
ITUNES_EXTENSIONS = frozenset({"m4a", "mp3", "mov", "mp4", "m4v", "pdf", "epub"})


@dataclass(frozen=True)
class Replies:
    """A post's own comments: the section of its page and its comment feed
    (`feed`: the address without the format's suffix), and how many."""

    count: int
    page_url: str
    feed: str


@dataclass(frozen=True)
class InReplyTo:
    """What a comment answers (RFC 4685 thr:in-reply-to): the id of an entry and its page."""

    ref: str
    href: str


@dataclass(frozen=True)
class FeedEntry:
    id: str
    title: str
    url: str
    published: dt.datetime
    updated: dt.datetime
    summary: str
    # None in summary feeds.
    content_html: str | None = None
    original_url: str | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    image: str | None = None
    origin: Origin | None = None
    # The same story from other sources: Atom rel="related" links, JSON `_also_reported_by`.
    also_reported_by: tuple[AlsoReported, ...] = ()
    episode: Episode | None = None
    # A post's comments (Atom rel="replies" with thr:count; RSS <comments>,
    # wfw:commentRss and slash:comments), and what a comment answers.
    replies: Replies | None = None
    in_reply_to: tuple[InReplyTo, ...] = ()


@dataclass(frozen=True)
class FeedSpec:
    id: str
    title: str
    subtitle: str
    self_url: str
    alternate_url: str
    updated: dt.datetime
    author: str
    language: str = "en"
    icon: str | None = None
    logo: str | None = None
    hubs: tuple[str, ...] = ()
    # RFC 5005 paging links, by relation (first, next, previous, last).
    paging: dict[str, str] = field(default_factory=dict)
    # A podcast source's own feed: its RSS speaks iTunes (when `complete`).
    podcast: Podcast | None = None


def render(kind: str, spec: FeedSpec, entries: Sequence[FeedEntry]) -> bytes:
    """The feed in one format; every renderer goes through here."""
    entries = [web_only(entry) for entry in entries]
    if kind == JSON:
        return _render_json(spec, entries)
    generator = _generator(spec, entries, podcast=kind == RSS, fmt=kind)
    if kind == ATOM:
        return bytes(generator.atom_str(pretty=False))
    if kind == RSS:
        return hex_references(bytes(generator.rss_str(pretty=False)))
    raise ValueError(f"unknown feed format {kind!r}")


# What the RSS Best Practices Profile asks of plain text (and the W3C validator's
# CharacterData warning checks): "&", "<" and ">" as hexadecimal character
# references, which every aggregator decodes alike. Same characters for XML.
_HEX_REFERENCES = ((b"&amp;", b"&#x26;"), (b"&lt;", b"&#x3C;"), (b"&gt;", b"&#x3E;"))


def hex_references(document: bytes) -> bytes:
    for entity, reference in _HEX_REFERENCES:
        document = document.replace(entity, reference)
    return document


def web_only(entry: FeedEntry) -> FeedEntry:
    """The entry without the upstream URLs that are not http(s): a row stored
    before that rule held (or by a bug) must still never reach a reader.

    The original link, image and origin site are left out; an enclosure or an
    origin without a web URL goes whole. The entry's own link is ours.
    """
    original, image = web_url(entry.original_url), web_url(entry.image)
    enclosures = tuple(
        replace(enclosure, url=url)
        for enclosure in entry.enclosures
        if (url := web_url(enclosure.url)) is not None
    )
    origin = _web_origin(entry.origin)
    also = tuple(
        replace(other, url=web_url(other.url), feed_url=feed_url)
        for other in entry.also_reported_by
        if (feed_url := web_url(other.feed_url)) is not None
    )
    kept = (entry.original_url, entry.image, entry.enclosures, entry.origin, entry.also_reported_by)
    if (original, image, enclosures, origin, also) == kept:
        return entry
    return replace(entry, original_url=original, image=image, enclosures=enclosures, origin=origin,
                   also_reported_by=also)  # fmt: skip


def _web_origin(origin: Origin | None) -> Origin | None:
    if origin is None:
        return None
    feed_url = web_url(origin.feed_url)
    if feed_url is None:
        return None
    return replace(origin, feed_url=feed_url, site_url=web_url(origin.site_url))


def _clean(text: str | None) -> str:
    return strip_xml_illegal(text or "")


def _generator(
    spec: FeedSpec, entries: Sequence[FeedEntry], podcast: bool = False, fmt: str = ATOM
) -> FeedGenerator:
    fg = FeedGenerator()
    # RSS <author> must be an e-mail address; dc:creator carries names.
    fg.load_extension("dc", atom=False, rss=True)
    # media:thumbnail: the picture readers show beside an entry.
    fg.load_extension("media", atom=True, rss=True)
    fg.register_extension(
        feedgen_ext.NAMESPACE, feedgen_ext.FeedsvcFeedExtension, feedgen_ext.FeedsvcEntryExtension
    )
    fg.id(spec.id)
    fg.title(_clean(spec.title) or "feedsvc")
    fg.subtitle(_clean(spec.subtitle) or _clean(spec.title) or "feedsvc")
    fg.author({"name": _clean(spec.author) or "feedsvc"})
    fg.link(href=spec.self_url, rel="self")
    extra = [{"rel": "hub", "href": hub} for hub in spec.hubs]
    extra += [{"rel": rel, "href": href} for rel, href in spec.paging.items()]
    for link in extra:
        fg.link(**link)
    getattr(fg, feedgen_ext.NAMESPACE).rss_links = extra
    getattr(fg, feedgen_ext.NAMESPACE).threads = any(
        entry.replies is not None or entry.in_reply_to for entry in entries
    )
    # Last: feedgen uses the last link as RSS's channel <link>.
    fg.link(href=spec.alternate_url, rel="alternate", type="text/html")
    fg.language(spec.language)
    fg.updated(spec.updated)
    fg.lastBuildDate(spec.updated)
    fg.generator(GENERATOR, version=__version__)
    if spec.icon:
        fg.icon(spec.icon)
    if spec.logo:
        fg.logo(spec.logo)
        fg.image(url=spec.logo, title=_clean(spec.title), link=spec.alternate_url)
    itunes = podcast and spec.podcast is not None and spec.podcast.complete
    if itunes and spec.podcast is not None:
        _podcast_channel(fg, spec.podcast)

    for entry in entries:
        fe = fg.add_entry(order="append")
        fe.id(entry.id)
        fe.guid(entry.id, permalink=False)
        fe.title(_clean(entry.title) or "(untitled)")
        fe.link(href=entry.url, rel="alternate", type="text/html")
        links = [{"rel": "alternate", "type": "text/html", "href": entry.url}]
        if entry.original_url and entry.original_url != entry.url:
            links.append({"rel": "via", "href": entry.original_url})
        links += [
            {"rel": "enclosure", "href": e.url, "type": e.type or "application/octet-stream",
             "length": str(e.length or 0)}
            for e in entry.enclosures
        ]  # fmt: skip
        # One related link per address, however many sources share it.
        related: dict[str, AlsoReported] = {}
        for other in entry.also_reported_by:
            if other.url:
                related.setdefault(other.url, other)
        links += [{"rel": "related", "href": url, "title": _clean(other.source_title)}
                  for url, other in related.items()]  # fmt: skip
        if entry.replies is not None:
            count = str(entry.replies.count)
            links += [
                {"rel": "replies", "type": "application/atom+xml",
                 "href": f"{entry.replies.feed}.{ATOM}", feedgen_ext.THR_COUNT: count},
                {"rel": "replies", "type": "text/html", "href": entry.replies.page_url,
                 feedgen_ext.THR_COUNT: count},
            ]  # fmt: skip
            fe.comments(entry.replies.page_url)
        ext = getattr(fe, feedgen_ext.NAMESPACE)
        ext.links = links
        ext.origin = entry.origin
        ext.in_reply_to = entry.in_reply_to
        if entry.replies is not None:
            ext.comment_feed = f"{entry.replies.feed}.{RSS}"
            ext.comment_count = entry.replies.count
        for name in entry.authors:
            fe.author({"name": _clean(name)})
        if entry.authors:
            fe.dc.dc_creator([_clean(name) for name in entry.authors])
        fe.published(entry.published)
        fe.updated(entry.updated)
        for term in entry.categories:
            fe.category(term=_clean(term))
        # The summary is plain text, but RSS's description is HTML: escaped
        # once as HTML (and Atom says so), "x < y" is text in both.
        if entry.summary:
            fe.summary(html.escape(_clean(entry.summary), quote=False), type="html")
        if entry.content_html is not None:
            fe.content(_clean(entry.content_html), type="html")
        elif not entry.summary:
            fe.description(html.escape(_clean(entry.title), quote=False))
        if entry.image:
            fe.media.thumbnail({"url": entry.image}, group=None)
        if entry.enclosures:
            # RSS allows one enclosure per item; Atom gets them all as links.
            first = entry.enclosures[0]
            fe.enclosure(
                first.url, str(first.length or 0), first.type or "application/octet-stream"
            )
        if itunes and entry.episode is not None and _itunes_enclosure(entry):
            _podcast_episode(fe, entry.episode)
    return fg


def _podcast_channel(fg: FeedGenerator, podcast: Podcast) -> None:
    # feedgen's podcast extension, RSS only; loaded before any entry is added.
    fg.load_extension("podcast", atom=False, rss=True)
    if podcast.image:
        fg.podcast.itunes_image(podcast.image)
    fg.podcast.itunes_category({"cat": _clean(podcast.category)})
    fg.podcast.itunes_owner(_clean(podcast.owner_name) or _clean(podcast.owner_email),
                            _clean(podcast.owner_email))  # fmt: skip
    getattr(fg, feedgen_ext.NAMESPACE).itunes_explicit = podcast.explicit


def _itunes_enclosure(entry: FeedEntry) -> bool:
    """An item speaks iTunes only when its (first) enclosure is a file Apple takes."""
    if not entry.enclosures:
        return False
    return entry.enclosures[0].url.rsplit(".", 1)[-1] in ITUNES_EXTENSIONS


def _podcast_episode(fe: Any, episode: Episode) -> None:
    if episode.duration is not None:
        fe.podcast.itunes_duration(_duration(episode.duration))
    if episode.image:
        fe.podcast.itunes_image(episode.image)
    if episode.episode is not None:
        fe.podcast.itunes_episode(episode.episode)
    getattr(fe, feedgen_ext.NAMESPACE).itunes_explicit = episode.explicit


def _duration(seconds: int) -> str:
    """H:MM:SS, the form every podcast app and the validator read."""
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}"


def _render_json(spec: FeedSpec, entries: Sequence[FeedEntry]) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    document: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec.title,
        "home_page_url": spec.alternate_url,
        "feed_url": spec.self_url,
        "description": spec.subtitle,
        "language": spec.language,
        "authors": [{"name": spec.author}],
        "items": [_json_item(entry) for entry in entries],
    }
    if spec.icon:
        document["favicon"] = spec.icon
    if spec.logo:
        document["icon"] = spec.logo
    if spec.hubs:
        document["hubs"] = [{"type": "WebSub", "url": hub} for hub in spec.hubs]
    if "next" in spec.paging:
        document["next_url"] = spec.paging["next"]
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_item(entry: FeedEntry) -> dict[str, object]:
    item: dict[str, object] = {
        "id": entry.id,
        "url": entry.url,
        "title": entry.title,
        "summary": entry.summary,
        "date_published": rfc3339(entry.published),
        "date_modified": rfc3339(entry.updated),
    }
    if entry.content_html is not None:
        item["content_html"] = entry.content_html
    else:
        item["content_text"] = entry.summary
    if entry.original_url:
        item["external_url"] = entry.original_url
    if entry.authors:
        item["authors"] = [{"name": name} for name in entry.authors]
    if entry.categories:
        item["tags"] = list(entry.categories)
    if entry.image:
        item["image"] = entry.image
    if entry.enclosures:
        item["attachments"] = [
            {"url": e.url, "mime_type": e.type or "application/octet-stream",
             **({"size_in_bytes": e.length} if e.length else {})}
            for e in entry.enclosures
        ]  # fmt: skip
    if entry.origin is not None:
        item["_source"] = {"feed_url": entry.origin.feed_url, "title": entry.origin.title,
                           "home_page_url": entry.origin.site_url}  # fmt: skip
    if entry.replies is not None:
        item["_comments"] = {"count": entry.replies.count, "url": entry.replies.page_url,
                             "feed_url": f"{entry.replies.feed}.{JSON}"}  # fmt: skip
    if entry.in_reply_to:
        item["_in_reply_to"] = [{"id": target.ref, "url": target.href}
                                for target in entry.in_reply_to]  # fmt: skip
    if entry.also_reported_by:
        item["_also_reported_by"] = [
            {"title": other.source_title, "feed_url": other.feed_url,
             **({"url": other.url} if other.url else {})}
            for other in entry.also_reported_by
        ]  # fmt: skip
    return item


def rfc3339(value: dt.datetime) -> str:
    """UTC, with Z: the form Atom, JSON Feed and Blogger's parameters take."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
