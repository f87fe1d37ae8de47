"""Tags: by name (created if missing, safe against a concurrent refresh), by slug, popular.

Names that differ only in case and spacing are one tag: "Giant Bomb",
"giant bomb" and "GiantBomb" all find the first of them (`fields.tag_key`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feedsvc import content
from feedsvc.fields import MAX_TAG_NAME, tag_key, tag_slug, visible_text
from feedsvc.models import Post, Tag, post_tags


def tag_ids(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Ids of the tags with these names, creating the missing ones."""
    names = list(names)
    by_slug: dict[str, str] = {}
    for name in names:
        slug = tag_slug(name)
        if slug:  # a feed's category may make none; people's tags were checked (fields.py)
            # Tag names come from feeds, forms and the API: no control characters.
            by_slug.setdefault(slug, content.normalize_space(visible_text(name))[:MAX_TAG_NAME])
    if not by_slug:
        return {}
    ids: dict[str, int] = {}
    for slug, tag_id in session.execute(select(Tag.slug, Tag.id).where(Tag.slug.in_(by_slug))):
        ids[slug] = tag_id
    missing = [slug for slug in by_slug if slug not in ids]
    if missing:
        # A variant of a tag that exists is that tag; of two new variants, the first.
        variants: dict[str, int] = {}
        stored = select(Tag.slug, Tag.id).where(
            func.replace(Tag.slug, "-", "").in_({tag_key(slug) for slug in missing})
        )
        for slug, tag_id in session.execute(stored.order_by(Tag.id)):
            variants.setdefault(tag_key(slug), tag_id)
        for slug in missing:
            key = tag_key(slug)
            if key not in variants:
                variants[key] = _create(session, slug, by_slug[slug])
            ids[slug] = variants[key]
    by_name = {name: tag_slug(name) for name in names}
    return {name: ids[slug] for name, slug in by_name.items() if slug in ids}


def tags_named(session: Session, names: Iterable[str]) -> list[Tag]:
    """The tags with these names, creating the missing ones: what a post or a source is given."""
    ids = tag_ids(session, names)
    if not ids:
        return []
    return list(session.scalars(select(Tag).where(Tag.id.in_(ids.values()))))


def _create(session: Session, slug: str, name: str) -> int:
    tag = Tag(slug=slug, name=name)
    try:
        with session.begin_nested():
            session.add(tag)
        return tag.id
    except IntegrityError:
        # Another refresh created it a moment ago.
        return session.execute(select(Tag.id).where(Tag.slug == slug)).scalar_one()


def tag_by_slug(session: Session, slug: str) -> Tag | None:
    return session.scalar(select(Tag).where(Tag.slug == slug))


def popular_tags(session: Session, limit: int) -> list[tuple[Tag, int]]:
    """The most used tags of visible posts, with their counts."""
    rows = session.execute(
        select(Tag, func.count(post_tags.c.post_id).label("posts"))
        .join(post_tags, post_tags.c.tag_id == Tag.id)
        .join(Post, Post.id == post_tags.c.post_id)
        .where(Post.hidden.is_(False))
        .group_by(Tag.id)
        .order_by(func.count(post_tags.c.post_id).desc(), Tag.name)
        .limit(limit)
    )
    return [(tag, int(count)) for tag, count in rows]


def sidebar_tags(session: Session, limit: int) -> list[tuple[str, str, int]]:
    """(slug, name, post count) of the most used tags, variants stored before
    they were merged counted as one, named and linked as the most used of them."""
    merged: dict[str, tuple[str, str, int]] = {}
    # Most used first: the first of each key names it.
    for tag, count in popular_tags(session, limit * 4):
        key = tag_key(tag.slug)
        slug, name, total = merged.get(key, (tag.slug, tag.name, 0))
        merged[key] = (slug, name, total + count)
    return sorted(merged.values(), key=lambda row: (-row[2], row[1].casefold()))[:limit]
