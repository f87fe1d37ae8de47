"""Each story once: new posts that another source already brought are stored
hidden, as duplicates of the first post of the story (`Post.duplicate_of_id`).

Runs in apply's transaction, before the new posts go in. A new entry is the
same story as a stored post of another source when their canonical links are
equal, or when their titles are the same in words and their texts nearly so
(`feedsvc.stories`): candidates are looked up by their title's key in
`story_bands` (a week of original posts), then compared by text. Entries of
the same group are compared with each other too, in order: the first stays.
Never merged: two posts of one source, nor anything with a hidden original.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc import content, stories
from feedsvc.ingest import bulk
from feedsvc.ingest.prepare import PreparedEntry
from feedsvc.models import Post, StoryBand

CHUNK = 500


@dataclass(frozen=True)
class InGroup:
    """The same story as the entry at this index of the group: its id is known
    only once it is inserted."""

    index: int


@dataclass
class _Story:
    source_id: int
    entry: PreparedEntry
    _shingles: frozenset[str] | None = None

    @property
    def shingles(self) -> frozenset[str]:
        if self._shingles is None:
            values = self.entry.values
            self._shingles = stories.shingles(_text(values.get("content"), values.get("summary")))
        return self._shingles

    @property
    def title(self) -> str:
        return stories.title_key(self.entry.values.get("title") or "")


def _text(body: object, summary: object) -> str:
    if isinstance(body, str) and body:
        return content.sanitized_text(body)
    return summary if isinstance(summary, str) else ""


def find_originals(
    session: Session, new: Sequence[tuple[int, PreparedEntry]], now: dt.datetime
) -> list[int | InGroup | None]:
    """For each (source id, entry), in order: the id of the stored original,
    the index of an earlier entry of the group that is, or None (a new story)."""
    items = [_Story(source_id, entry) for source_id, entry in new]
    by_link = _originals_by_link(session, [i.entry.values.get("canonical_link") for i in items])
    band_candidates = _candidates_by_band(session, [b for i in items for b in i.entry.story_bands],
                                          now)  # fmt: skip
    stored_text: dict[int, frozenset[str]] = {}
    group_links: dict[str, int] = {}
    group_bands: dict[int, list[int]] = {}
    found: list[int | InGroup | None] = []
    for index, item in enumerate(items):
        link = item.entry.values.get("canonical_link")
        match: int | InGroup | None = None
        stored = by_link.get(link) if link else None
        if stored is not None:
            match = next((post for post, source in stored if source != item.source_id), None)
        if match is None:
            match = _by_text(session, item, band_candidates, stored_text)
        if match is None and link and link in group_links:
            earlier = group_links[link]
            match = InGroup(earlier) if items[earlier].source_id != item.source_id else None
        if match is None:
            match = _in_group_by_text(item, items, group_bands)
        found.append(match)
        # A new entry a filter rule hides is nobody's original, like a stored hidden post.
        if match is None and not item.entry.values.get("hidden"):
            if link:
                group_links.setdefault(link, index)
            for band in item.entry.story_bands:
                group_bands.setdefault(band, []).append(index)
    return found


def _originals_by_link(
    session: Session, canonical: Sequence[str | None]
) -> dict[str, list[tuple[int, int]]]:
    """Visible originals by canonical link: (post id, source id), oldest first.

    Selected by link alone, the rest checked here: given `duplicate_of_id IS
    NULL` too, a planner may walk that index (nearly every post) instead."""
    wanted = sorted({link for link in canonical if link})
    dialect = session.get_bind().dialect.name
    found: dict[str, list[tuple[int, int]]] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(Post.canonical_link, Post.id, Post.source_id, Post.duplicate_of_id, Post.hidden)
            .where(bulk.any_of(Post.canonical_link, wanted[start : start + CHUNK], dialect))
            .order_by(Post.id)
        )
        for link, post_id, source_id, duplicate_of, hidden in rows:
            if link is not None and source_id is not None and duplicate_of is None and not hidden:
                found.setdefault(link, []).append((post_id, source_id))
    return found


@dataclass(frozen=True)
class _Candidate:
    post_id: int
    source_id: int
    title: str


def _candidates_by_band(
    session: Session, bands: Sequence[int], now: dt.datetime
) -> dict[int, list[_Candidate]]:
    """Recent visible originals sharing a band, by band: the bands by their
    primary key first, then the few posts they name by theirs."""
    wanted = sorted(set(bands))
    dialect = session.get_bind().dialect.name
    since = now - dt.timedelta(days=stories.WINDOW_DAYS)
    post_bands: dict[int, list[int]] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(StoryBand.band, StoryBand.post_id, StoryBand.created_at).where(
                bulk.any_of(StoryBand.band, wanted[start : start + CHUNK], dialect)
            )
        )
        for band, post_id, created_at in rows:
            if created_at >= since:
                post_bands.setdefault(post_id, []).append(band)
    found: dict[int, list[_Candidate]] = {}
    ids = sorted(post_bands)
    for start in range(0, len(ids), CHUNK):
        posts = session.execute(
            select(Post.id, Post.source_id, Post.title).where(
                Post.id.in_(ids[start : start + CHUNK]),
                Post.source_id.is_not(None),
                Post.duplicate_of_id.is_(None),
                Post.hidden.is_(False),
            )
        )
        for post_id, source_id, title in posts:
            if source_id is None:
                continue
            candidate = _Candidate(post_id, source_id, stories.title_key(title))
            for band in post_bands[post_id]:
                found.setdefault(band, []).append(candidate)
    return found


def _by_text(
    session: Session,
    item: _Story,
    candidates: dict[int, list[_Candidate]],
    stored_text: dict[int, frozenset[str]],
) -> int | None:
    """The oldest stored original with the same title and near-identical text."""
    seen: dict[int, _Candidate] = {}
    for band in item.entry.story_bands:
        for candidate in candidates.get(band, ()):
            seen.setdefault(candidate.post_id, candidate)
    for post_id in sorted(seen):
        candidate = seen[post_id]
        if candidate.source_id == item.source_id or candidate.title != item.title:
            continue
        if post_id not in stored_text:
            body, summary = session.execute(
                select(Post.content, Post.summary).where(Post.id == post_id)
            ).one()
            stored_text[post_id] = stories.shingles(_text(body, summary))
        if stories.near_identical(item.shingles, stored_text[post_id]):
            return post_id
    return None


def _in_group_by_text(
    item: _Story, items: Sequence[_Story], group_bands: dict[int, list[int]]
) -> InGroup | None:
    earlier = sorted({i for band in item.entry.story_bands for i in group_bands.get(band, ())})
    for index in earlier:
        other = items[index]
        if other.source_id == item.source_id or other.title != item.title:
            continue
        if stories.near_identical(item.shingles, other.shingles):
            return InGroup(index)
    return None


def record_bands(
    session: Session, posts: Sequence[tuple[int, Sequence[int]]], now: dt.datetime
) -> None:
    """Index new original posts by band: (post id, band keys)."""
    rows = [(band, post_id, now) for post_id, bands in posts for band in dict.fromkeys(bands)]
    bulk.insert_plain(session, "story_bands", ("band", "post_id", "created_at"), rows)


def prune_bands(session: Session, now: dt.datetime) -> int:
    """Forget bands older than the comparison window; how many went."""
    from sqlalchemy import delete

    result = session.execute(
        delete(StoryBand).where(StoryBand.created_at < now - dt.timedelta(days=stories.WINDOW_DAYS))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
