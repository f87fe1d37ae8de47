"""Tags: by name (created if missing, safe against a concurrent refresh), by slug, popular."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feedsvc import content
from feedsvc.fields import MAX_TAG_NAME, tag_slug
from feedsvc.models import Post, Tag, post_tags


def tag_ids(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Ids of the tags with these names, creating the missing ones."""
    names = list(names)
    by_slug: dict[str, str] = {}
    for name in names:
        slug = tag_slug(name)
        if slug:  # a feed's category may make none; people's tags were checked (fields.py)
            # Tag names come from feeds, forms and the API: no control characters.
            by_slug.setdefault(slug, content.normalize_space(name)[:MAX_TAG_NAME])
    if not by_slug:
        return {}
    ids: dict[str, int] = {}
    for slug, tag_id in session.execute(select(Tag.slug, Tag.id).where(Tag.slug.in_(by_slug))):
        ids[slug] = tag_id
    for slug, name in by_slug.items():
        if slug not in ids:
            tag = Tag(slug=slug, name=name)
            try:
                with session.begin_nested():
                    session.add(tag)
                ids[slug] = tag.id
            except IntegrityError:
                # Another refresh created it a moment ago.
                ids[slug] = session.execute(select(Tag.id).where(Tag.slug == slug)).scalar_one()
    by_name = {name: tag_slug(name) for name in names}
    return {name: ids[slug] for name, slug in by_name.items() if slug in ids}


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
