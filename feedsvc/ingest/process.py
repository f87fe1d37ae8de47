"""Per-entry steps after preparing, in order: the seam for curation.

Each step takes an entry (and the source it came from) and returns it,
changed or not, or None to drop it. Today's step keeps URLs from outside to
http(s); filter and rewrite rules and full-article fetching plug in here.
Steps are pure or bring their own I/O; they run in the parse worker processes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from feedsvc.ingest.prepare import FeedMeta, PreparedEntry, PreparedFeed, content_digest
from feedsvc.ingest.types import Target
from feedsvc.urls import stored_url

Step = Callable[[PreparedEntry, Target], PreparedEntry | None]


def web_urls_only(entry: PreparedEntry, target: Target) -> PreparedEntry:
    """Links, enclosures and images from upstream are http(s) or left out."""
    values = entry.values
    link = stored_url(values["link"])
    enclosures = [e for e in values["enclosures"] if stored_url(e["url"])]
    image = stored_url(values["image_url"])
    if (link, len(enclosures), image) == (values["link"], len(values["enclosures"]),
                                          values["image_url"]):  # fmt: skip
        return entry
    notes = list(entry.notes)
    if values["link"] and not link:
        notes.append("link dropped: not an http(s) URL of at most 2048 characters")
    if len(enclosures) != len(values["enclosures"]):
        notes.append("enclosure dropped: not an http(s) URL")
    new_values = {**values, "link": link, "enclosures": enclosures, "image_url": image}
    return dataclasses.replace(entry, values=new_values, notes=tuple(notes))


STEPS: tuple[Step, ...] = (web_urls_only,)


def process_feed(feed: PreparedFeed, target: Target, steps: Sequence[Step] = STEPS) -> PreparedFeed:
    """Run every entry through the steps in order; the feed's own URLs too."""
    kept: list[PreparedEntry] = []
    for entry in feed.entries:
        result = run_steps(entry, target, steps)
        if result is not None:
            kept.append(_sealed(result))
    meta: FeedMeta = dataclasses.replace(feed.meta, link=stored_url(feed.meta.link))
    return dataclasses.replace(feed, meta=meta, entries=tuple(kept))


def run_steps(entry: PreparedEntry, target: Target, steps: Sequence[Step]) -> PreparedEntry | None:
    """The entry after every step, or None as soon as one drops it."""
    for step in steps:
        result = step(entry, target)
        if result is None:
            return None
        entry = result
    return entry


def _sealed(entry: PreparedEntry) -> PreparedEntry:
    """The final columns, with the hashes the plan compares against stored posts."""
    values = {
        **entry.values,
        "content_hash": content_digest(entry.values, entry.tags),
        "entry_hash": entry.entry_hash,
    }
    return dataclasses.replace(entry, values=values)
