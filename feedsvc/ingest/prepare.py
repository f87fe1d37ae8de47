"""Parsed entries to post columns: normalize, sanitize, summarize. Pure.

Elements a source's CSS selectors name are taken out of the content here,
before sanitizing: the sanitizer drops the class and id attributes that
selectors match on.

Runs in the parse worker processes. An entry whose parsed form hashes the
same as when it was stored (`entry_hash`) is not prepared again: sanitizing
is the costly part, and most entries of a changed feed are unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from typing import Any

from feedsvc import content, selectors
from feedsvc.ingest.types import (
    FeedMeta,
    ParsedEntry,
    ParsedFeed,
    PreparedEntry,
    PreparedFeed,
    PrepareSettings,
)

# Bump when preparing changes what it makes of the same entry: every stored
# entry is then prepared again on its next fetch.
PREPARE_VERSION = "3"


def entry_hash(
    entry: ParsedEntry,
    base_url: str,
    settings: PrepareSettings,
    strip_selectors: Sequence[str] = (),
) -> str:
    """A digest of everything preparing reads, so equal digests prepare equally
    (a source's selectors changed: its entries are prepared again)."""
    # The base only matters to an entry with neither its own base nor a link.
    base = entry.content_base or entry.link or base_url
    digest = hashlib.sha256(PREPARE_VERSION.encode())
    read = (base, settings, entry, *(("strip", tuple(strip_selectors)) if strip_selectors else ()))
    digest.update(repr(read).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def prepare_feed(
    parsed: ParsedFeed,
    base_url: str,
    settings: PrepareSettings,
    known: Collection[str] = frozenset(),
    strip_selectors: Sequence[str] = (),
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
        digest = entry_hash(entry, base_url, settings, strip_selectors)
        if digest in known:
            unchanged.append((entry.key, digest))
        else:
            entries.append(prepare_entry(entry, digest, base_url, settings, strip_selectors))
    return PreparedFeed(
        meta=FeedMeta(
            title=parsed.title,
            link=parsed.link,
            description=parsed.description,
            upstream_id=parsed.upstream_id,
            updated=parsed.updated,
            hint_interval=parsed.hint_interval,
            problem=parsed.problem,
        ),
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
    summary = content.summarize(entry.summary_html, html, settings.summary_length)
    title = content.normalize_space(entry.title) or content.truncate_text(summary, 80)
    enclosures = [{"url": e.url, "type": e.type, "length": e.length} for e in entry.enclosures]
    image = content.first_image(body) or next(
        (e.url for e in entry.enclosures if e.type.startswith("image/")), None
    )
    return PreparedEntry(
        key=entry.key,
        entry_hash=digest,
        values={
            "title": title,
            "slug": content.slugify(title),
            "link": entry.link,
            "author": entry.author,
            "summary": summary,
            "content": body,
            "image_url": image,
            "enclosures": enclosures,
            "published": entry.published,
            "updated": entry.updated,
        },
        tags=entry.tags,
        original_link=entry.original_link,
        notes=(f"content cut at {content.MAX_CONTENT_BYTES // 1024} KiB",) if cut else (),
    )


def content_digest(values: dict[str, Any], tags: Sequence[str]) -> str:
    """The stored post's `content_hash`: what readers see, after every step.

    The same formula as before `entry_hash` existed, so stored posts compare
    equal and an upgrade rewrites none of them."""
    return content.content_hash(
        values["title"], values["content"], values["summary"], values["link"], values["author"],
        "|".join(tags), repr(values["enclosures"]),
    )  # fmt: skip
