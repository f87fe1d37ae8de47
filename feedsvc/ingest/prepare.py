"""Parsed entries to post columns: normalize, sanitize, summarize. Pure.

Elements a source's CSS selectors name are taken out of the content here,
before sanitizing: the sanitizer drops the class and id attributes that
selectors match on.

Runs in the parse worker processes. An entry whose parsed form hashes the
same as when it was stored (`entry_hash`) is not prepared again: sanitizing
is the costly part, and most entries of a changed feed are unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Collection, Sequence
from typing import Any

from feedsvc import content, selectors
from feedsvc.ingest.types import (
    Episode,
    ParsedEntry,
    ParsedFeed,
    PreparedEntry,
    PreparedFeed,
    PrepareSettings,
)

# Bump when preparing changes what it makes of the same entry, or the digest's
# form changes: every stored entry is then prepared again on its next fetch.
PREPARE_VERSION = "5"
# The entry's fields but its HTML, which the digest takes as it is.
_FIELDS_BUT_HTML = tuple(
    field.name for field in dataclasses.fields(ParsedEntry)
    if field.name not in ("content_html", "summary_html")
)  # fmt: skip


def entry_hash(
    entry: ParsedEntry,
    base_url: str,
    settings: PrepareSettings,
    strip_selectors: Sequence[str] = (),
    processing: tuple[object, ...] = (),
) -> str:
    """A digest of everything preparing reads, so equal digests prepare equally
    (a source's selectors changed: its entries are prepared again); with
    `processing`, the source's options the process stage applies
    (`Target.category_options`), so changing them processes its entries again."""
    # The base only matters to an entry with neither its own base nor a link.
    base = entry.content_base or entry.link or base_url
    digest = hashlib.sha256(PREPARE_VERSION.encode())
    fields = [getattr(entry, name) for name in _FIELDS_BUT_HTML]
    read = (base, settings, fields, *(("strip", tuple(strip_selectors)) if strip_selectors else ()),
            *processing)  # fmt: skip
    digest.update(repr(read).encode("utf-8", "surrogatepass"))
    # The HTML, most of what is read, unescaped (repr would copy it to escape
    # it), each after its length; RSS often carries one text as both.
    _add_text(digest, entry.content_html)
    _add_text(digest, None if entry.summary_html == entry.content_html else entry.summary_html)
    return digest.hexdigest()


def _add_text(digest: Any, text: str | None) -> None:
    raw = b"" if text is None else text.encode("utf-8", "surrogatepass")
    digest.update(b"\0%d\0" % (-1 if text is None else len(raw)))
    digest.update(raw)


def prepare_feed(
    parsed: ParsedFeed,
    base_url: str,
    settings: PrepareSettings,
    known: Collection[str] = frozenset(),
    strip_selectors: Sequence[str] = (),
    processing: tuple[object, ...] = (),
) -> PreparedFeed:
    """Every entry as post columns, but those whose hash is in `known`.

    A feed that repeats an id keeps the first entry with it.
    """
    entries: list[PreparedEntry] = []
    unchanged: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        if entry.key in seen:
            continue
        seen.add(entry.key)
        digest = entry_hash(entry, base_url, settings, strip_selectors, processing)
        if digest in known:
            unchanged.append((entry.key, digest))
        else:
            entries.append(prepare_entry(entry, digest, base_url, settings, strip_selectors))
    return PreparedFeed(
        meta=parsed.meta,
        entries=tuple(entries),
        unchanged=tuple(unchanged),
        entry_times=tuple(sorted({e.published for e in parsed.entries if e.published})),
    )


def prepare_entry(
    entry: ParsedEntry,
    digest: str,
    base_url: str,
    settings: PrepareSettings,
    strip_selectors: Sequence[str] = (),
) -> PreparedEntry:
    base = entry.content_base or entry.link or base_url
    html, cut = content.cap_html(entry.content_html)
    # Before sanitizing, while class and id still say what an element is.
    html = selectors.remove_elements(html, strip_selectors)
    body = content.sanitize_html(html, base)
    limit = settings.summary_length
    leading = content.sanitized_leading_text(body, limit)
    summary = content.choose_summary(_own_summary_text(entry, leading, limit), leading, limit)
    title = content.normalize_space(entry.title) or content.truncate_text(summary, 80)
    enclosures = [{"url": e.url, "type": e.type, "length": e.length} for e in entry.enclosures]
    image, width, height = _thumbnail(entry, body)
    return PreparedEntry(
        key=entry.key,
        entry_hash=digest,
        values={
            "title": title,
            "slug": content.slugify(title),
            "link": entry.link,
            "author": entry.author,
            "author_slug": content.author_slug(entry.author),
            "summary": summary,
            "content": body,
            "image_url": image,
            "image_width": width,
            "image_height": height,
            "enclosures": enclosures,
            "itunes": _itunes(entry.episode),
            "published": entry.published,
            "updated": entry.updated,
            "upstream_comments_url": entry.comments_url,
            "upstream_comments_feed": entry.comments_feed,
        },
        tags=entry.tags,
        original_link=entry.original_link,
        notes=(f"content cut at {content.MAX_CONTENT_BYTES // 1024} KiB",) if cut else (),
    )


def _own_summary_text(entry: ParsedEntry, content_leading: str, limit: int) -> str:
    if not entry.summary_html:
        return ""
    # RSS often carries one text as both: it is converted once.
    if entry.summary_html == entry.content_html:
        return content_leading
    return content.leading_text(content.cap_html(entry.summary_html)[0], limit)


def _thumbnail(entry: ParsedEntry, body: str) -> tuple[str | None, int | None, int | None]:
    """The listing's picture and its size where known: the publisher's
    media:thumbnail, else the content's first image, else an image enclosure,
    else the episode's artwork."""
    if entry.thumbnail is not None:
        return entry.thumbnail.url, entry.thumbnail.width, entry.thumbnail.height
    first = content.first_image(body)
    if first is not None:
        size = content.first_image_size(body)
        return first, *(size or (None, None))
    enclosed = next((e.url for e in entry.enclosures if e.type.startswith("image/")), None)
    artwork = entry.episode.image if entry.episode else None
    return enclosed or artwork, None, None


def _itunes(episode: Episode | None) -> dict[str, Any] | None:
    """The post's `itunes` column: what upstream said, nothing made up."""
    if episode is None:
        return None
    found = {"duration": episode.duration, "image": episode.image, "episode": episode.episode,
             "explicit": episode.explicit}  # fmt: skip
    return {name: value for name, value in found.items() if value is not None} or None


def content_digest(values: dict[str, Any], tags: Sequence[str]) -> str:
    """The stored post's `content_hash`: what readers see, after every step.

    The same formula as before `entry_hash` existed, so stored posts compare
    equal and an upgrade rewrites none of them."""
    return content.content_hash(
        values["title"], values["content"], values["summary"], values["link"], values["author"],
        "|".join(tags), repr(values["enclosures"]),
        # Only where there is any: other posts stored before the column compare
        # equal, and are not rewritten (nor shown as updated) for it.
        *((repr(values["itunes"]),) if values.get("itunes") else ()),
    )  # fmt: skip
