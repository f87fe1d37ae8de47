"""Posts: the queries the site and the feeds share, and local posts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from feedsvc import changes, content
from feedsvc.ingest.store import tag_ids
from feedsvc.models import Post, Tag, new_uid, post_tags


class PostError(ValueError):
    """A post cannot be written as given; the message says why."""


def visible_posts() -> Select[tuple[Post]]:
    """Posts a reader may see, newest first."""
    return (
        select(Post)
        .where(Post.hidden.is_(False))
        .order_by(Post.published_at.desc(), Post.id.desc())
    )


def latest_posts(
    session: Session,
    limit: int,
    offset: int = 0,
    *,
    source_id: int | None = None,
    tag_slug: str | None = None,
) -> Sequence[Post]:
    query = visible_posts()
    if source_id is not None:
        query = query.where(Post.source_id == source_id)
    if tag_slug is not None:
        query = (
            query.join(post_tags, post_tags.c.post_id == Post.id)
            .join(Tag, Tag.id == post_tags.c.tag_id)
            .where(Tag.slug == tag_slug)
        )
    return session.scalars(query.limit(limit).offset(offset)).unique().all()


def neighbours(session: Session, post: Post) -> tuple[Post | None, Post | None]:
    """The visible posts published just before and just after this one."""
    key = (Post.published_at, Post.id)
    mine = (post.published_at, post.id)
    older = session.scalars(
        select(Post)
        .where(Post.hidden.is_(False), tuple_(*key) < tuple_(*mine))
        .order_by(Post.published_at.desc(), Post.id.desc())
        .limit(1)
    ).first()
    newer = session.scalars(
        select(Post)
        .where(Post.hidden.is_(False), tuple_(*key) > tuple_(*mine))
        .order_by(Post.published_at, Post.id)
        .limit(1)
    ).first()
    return older, newer


def get_visible_post(session: Session, post_id: int) -> Post | None:
    post = session.get(Post, post_id)
    if post is None or post.hidden:
        return None
    return post


def create_local_post(
    session: Session,
    *,
    title: str,
    body_html: str,
    now: dt.datetime,
    summary_length: int,
    author: str | None = None,
    tags: Sequence[str] = (),
    base_url: str | None = None,
) -> Post:
    """Write a post of our own (no source); its HTML is sanitized like upstream's."""
    title = content.normalize_space(title)
    if not title:
        raise PostError("a post needs a title")
    if len(title) > 1000:
        raise PostError("the title is longer than 1000 characters")
    body = content.sanitize_html(body_html, base_url)
    uid = new_uid()
    post = Post(
        uid=uid,
        source_id=None,
        entry_key=f"local:{uid}",
        title=title,
        slug=content.slugify(title),
        link=None,
        author=author,
        summary=content.summarize(None, body, summary_length),
        content=body,
        content_hash=content.content_hash(title, body),
        image_url=content.first_image(body),
        enclosures=[],
        published_at=now,
        updated_at=now,
        created_at=now,
        modified_at=now,
        hidden=False,
        popular_excluded=False,
    )
    ids = tag_ids(session, tags)
    if ids:
        post.tags = list(session.scalars(select(Tag).where(Tag.id.in_(ids.values()))))
    session.add(post)
    session.flush()
    changes.note_changes(session, now, [changes.tag_scope(tag.id) for tag in post.tags])
    return post


def post_path(post: Post) -> str:
    return f"/posts/{post.id}-{post.slug}"
