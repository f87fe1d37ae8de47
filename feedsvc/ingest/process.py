"""Per-entry steps after preparing, in order: the seam for curation.

Each step takes an entry (and the source it came from) and returns it,
changed or not, or None to drop it. The rewrite steps come first (a proxy's
link replaced by the publisher's, tracking parameters off every link), then
URLs from outside are kept to http(s), then the filter rules name the rule
that hides the entry; last, a full-text source's entry is marked for its
article (the page is fetched after the entry is stored: ingest/articles.py). Steps are
pure or bring their own I/O; they run in the parse worker processes. Last,
each entry is sealed with what later stages compare: its content hash, its
canonical link and its story key, the title hashed (the duplicate check itself
needs the database: it is apply's).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from feedsvc import filtering, links, stories
from feedsvc.fields import tag_key
from feedsvc.ingest.prepare import PreparedEntry, PreparedFeed, content_digest
from feedsvc.ingest.types import FeedMeta, Target
from feedsvc.urls import stored_url
from feedsvc.vocabulary import ArticleState

Step = Callable[[PreparedEntry, Target], PreparedEntry | None]


def original_link(entry: PreparedEntry, target: Target) -> PreparedEntry:
    """A proxy's redirect (FeedBurner's) gives way to the publisher's own link."""
    original = stored_url(entry.original_link)
    if not original or original == entry.values["link"]:
        return entry
    return dataclasses.replace(entry, values={**entry.values, "link": original})


def without_tracking(entry: PreparedEntry, target: Target) -> PreparedEntry:
    """Tracking parameters (tracking_params.txt) off the entry's link and the
    links and images in its content."""
    values = entry.values
    link = values["link"] and links.without_tracking(values["link"])
    body = links.clean_links_in_html(values["content"])
    if link == values["link"] and body is values["content"]:
        return entry
    image = values["image_url"] and links.without_tracking(values["image_url"])
    return dataclasses.replace(
        entry, values={**values, "link": link, "content": body, "image_url": image}
    )


# The upstream's discussion of an entry: its comments page and comment feed.
DISCUSSION = ("upstream_comments_url", "upstream_comments_feed")


def web_urls_only(entry: PreparedEntry, target: Target) -> PreparedEntry:
    """Links, enclosures and images from upstream are http(s) or left out."""
    values = entry.values
    link = stored_url(values["link"])
    enclosures = [e for e in values["enclosures"] if stored_url(e["url"])]
    image = stored_url(values["image_url"])
    itunes = values.get("itunes")
    if itunes and "image" in itunes and not stored_url(itunes["image"]):
        itunes = {name: value for name, value in itunes.items() if name != "image"} or None
    discussion = {name: stored_url(values.get(name)) for name in DISCUSSION}
    before = (values["link"], len(values["enclosures"]), values["image_url"], values.get("itunes"),
              {name: values.get(name) for name in DISCUSSION})  # fmt: skip
    if (link, len(enclosures), image, itunes, discussion) == before:
        return entry
    notes = list(entry.notes)
    if values["link"] and not link:
        notes.append("link dropped: not an http(s) URL of at most 2048 characters")
    if len(enclosures) != len(values["enclosures"]):
        notes.append("enclosure dropped: not an http(s) URL")
    new_values = {**values, "link": link, "enclosures": enclosures, "image_url": image,
                  "itunes": itunes, **discussion}  # fmt: skip
    if image != values["image_url"]:
        new_values |= {"image_width": None, "image_height": None}
    return dataclasses.replace(entry, values=new_values, notes=tuple(notes))


def upstream_categories(entry: PreparedEntry, target: Target) -> PreparedEntry:
    """The entry's categories become its tags as the source's admin wants:
    none (`keep_categories` off), or each renamed or dropped (`category_names`,
    matched in any case and spacing: fields.tag_key). Before the filter rules,
    which match the tags as they will be stored."""
    if not entry.tags or (target.keep_categories and not target.category_names):
        return entry
    tags: tuple[str, ...] = ()
    if target.keep_categories:
        names = {tag_key(category): new_name for category, new_name in target.category_names}
        renamed = (names.get(tag_key(tag), tag) for tag in entry.tags)
        tags = tuple(dict.fromkeys(tag for tag in renamed if tag))
    return dataclasses.replace(entry, tags=tags)


def filter_rules(entry: PreparedEntry, target: Target) -> PreparedEntry:
    """Name the filter rule that hides the entry (`hidden_by_rule`), or None.

    A hidden entry is stored hidden, never dropped, so that a rule deleted
    brings it back; date rules are the plan's, which knows when it is first seen."""
    if not target.rules:
        return entry
    fields = filtering.entry_fields(entry.values, entry.tags)
    rule = filtering.hiding_rule(target.rules, fields)
    values = {**entry.values, "hidden_by_rule": rule.id if rule else None}
    return dataclasses.replace(entry, values=values)


def full_article(entry: PreparedEntry, target: Target) -> PreparedEntry:
    """A full-text source's new or changed entry has its article fetched again.

    The entry goes in with the feed's content; the worker fetches the page once
    it is stored (ingest/articles.py), so a slow page never holds the feed up,
    and a failed one is retried on its own schedule."""
    if not target.fetch_full or not entry.values["link"]:
        return entry
    values = {**entry.values, "article_state": ArticleState.PENDING, "article_error": None,
              "article_tries": 0, "article_next_at": None}  # fmt: skip
    return dataclasses.replace(entry, values=values)


STEPS: tuple[Step, ...] = (
    original_link, without_tracking, web_urls_only, upstream_categories, filter_rules,
    full_article,
)  # fmt: skip


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
    """The final columns, with the hashes the plan compares against stored posts,
    and what apply looks the same story up by."""
    values = {
        **entry.values,
        "content_hash": content_digest(entry.values, entry.tags),
        "entry_hash": entry.entry_hash,
        # stored_url: it must fit its column like any link.
        "canonical_link": stored_url(links.canonical_link(entry.values["link"])),
    }
    bands = stories.story_bands(str(values["title"] or ""))
    return dataclasses.replace(entry, values=values, story_bands=bands)
