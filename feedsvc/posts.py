"""Posts: the queries the site and the feeds share, and local posts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from feedsvc import changes, content, webhooks
from feedsvc.errors import FeedsvcError
from feedsvc.models import LOCAL_KEY_PREFIX, Post, Tag, new_uid, post_tags
from feedsvc.tags import tags_named
from feedsvc.urls import web_url
from feedsvc.vocabulary import WebhookEvent


class PostError(FeedsvcError):
    """A post cannot be written as given; the message says why."""


def visible_posts() -> Select[Any]:
    """Posts a reader may see, newest first."""
    return (
        select(Post)
        .where(Post.hidden.is_(False))
        .order_by(Post.published_at.desc(), Post.id.desc())
    )


def within(query: Select[Any], bounds: Sequence[tuple[str, dt.datetime]]) -> Select[Any]:
    """Blogger's date bounds on a query of posts: `published-min` and
    `updated-min` inclusive, `published-max` and `updated-max` exclusive."""
    for name, when in bounds:
        column = Post.published_at if name.startswith("published") else Post.updated_at
        query = query.where(column >= when if name.endswith("min") else column < when)
    return query


def latest_posts(
    session: Session,
    limit: int,
    offset: int = 0,
    *,
    source_id: int | None = None,
    tag_slug: str | None = None,
    author_slug: str | None = None,
    bounds: Sequence[tuple[str, dt.datetime]] = (),
) -> Sequence[Post]:
    query = within(visible_posts(), bounds)
    if author_slug is not None:
        query = query.where(Post.author_slug == author_slug)
    if source_id is not None:
        query = query.where(Post.source_id == source_id)
    if tag_slug is not None:
        query = (
            query.join(post_tags, post_tags.c.post_id == Post.id)
            .join(Tag, Tag.id == post_tags.c.tag_id)
            .where(Tag.slug == tag_slug)
        )
    return session.scalars(query.limit(limit).offset(offset)).unique().all()


def author_name(session: Session, slug: str) -> str | None:
    """The name shown for an author's slug: as their newest visible post gives it."""
    return session.scalar(
        visible_posts().with_only_columns(Post.author).where(Post.author_slug == slug).limit(1)
    )


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


def also_reported_by(session: Session, post_ids: Sequence[int]) -> dict[int, list[Post]]:
    """The duplicates stored of each post (the same story from other sources),
    oldest first, with their sources loaded: one query for a whole page."""
    if not post_ids:
        return {}
    found: dict[int, list[Post]] = {}
    rows = session.scalars(
        select(Post).where(Post.duplicate_of_id.in_(list(post_ids))).order_by(Post.id)
    )
    for post in rows:
        if post.duplicate_of_id is not None:
            found.setdefault(post.duplicate_of_id, []).append(post)
    return found


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
    draft: bool = False,
) -> Post:
    """Write a post of our own (no source); its HTML is sanitized like upstream's.
    A `draft` is kept off the site and the feeds until it is published."""
    title = content.normalize_space(title)
    if not title:
        raise PostError("a post needs a title", "title")
    if len(title) > 1000:
        raise PostError("the title is longer than 1000 characters", "title")
    body = content.sanitize_html(body_html, base_url)
    uid = new_uid()
    post = Post(
        uid=uid,
        source_id=None,
        entry_key=LOCAL_KEY_PREFIX + uid,
        title=title,
        slug=content.slugify(title),
        link=None,
        author=content.normalize_space(author)[:500] or None if author else None,
        author_slug=content.author_slug(author[:500] if author else None),
        summary=content.summarize(None, body, summary_length),
        content=body,
        content_hash=content.content_hash(title, body),
        image_url=_image_url(body),
        enclosures=[],
        published_at=now,
        updated_at=now,
        created_at=now,
        modified_at=now,
        hidden=draft,
        draft=draft,
        popular_excluded=False,
    )
    post.tags = tags_named(session, tags)
    session.add(post)
    session.flush()
    if not draft:  # a draft goes out, and is announced, when it is published
        changes.note_changes(session, now, [changes.tag_scope(tag.id) for tag in post.tags])
        webhooks.note_posts(session, WebhookEvent.POST_CREATED, [post.id], now)
    return post


def publish_draft(session: Session, post: Post, now: dt.datetime) -> Post:
    """A draft goes out: on the site and in the feeds, dated now."""
    if not post.draft:
        raise PostError("this post is published already", "draft")
    post.draft = post.hidden = False
    post.published_at = post.updated_at = post.modified_at = now
    changes.note_changes(session, now, _scopes(post))
    webhooks.note_posts(session, WebhookEvent.POST_CREATED, [post.id], now)
    return post


def preview_html(body_html: str, base_url: str | None = None) -> str:
    """A body as it would be stored (sanitized like every post), for a preview."""
    return content.sanitize_html(body_html, base_url)


def _image_url(body: str) -> str | None:
    """The post's picture: its first image, if that is an http(s) URL."""
    return web_url(content.first_image(body))


def post_path(post: Post) -> str:
    return post.path


def _scopes(post: Post) -> list[str]:
    """The feed scopes a post appears in (besides the site's own)."""
    scopes = [changes.tag_scope(tag.id) for tag in post.tags]
    if post.source_id is not None:
        scopes.append(changes.source_scope(post.source_id))
    return scopes


def update_local_post(
    session: Session,
    post: Post,
    *,
    now: dt.datetime,
    summary_length: int,
    title: str | None = None,
    body_html: str | None = None,
    tags: Sequence[str] | None = None,
    base_url: str | None = None,
) -> Post:
    """Edit a post of our own; ingested posts are the upstream's to change."""
    if not post.is_local:
        # The first field the caller meant to change is the one at fault.
        given = [name for name, value in (("content", body_html), ("tags", tags),
                                          ("title", title)) if value is not None]  # fmt: skip
        raise PostError("only local posts can be edited; an ingested post can only be hidden",
                        given[0] if given else None)  # fmt: skip
    before = _scopes(post)
    if title is not None:
        title = content.normalize_space(title)
        if not title:
            raise PostError("a post needs a title", "title")
        if len(title) > 1000:
            raise PostError("the title is longer than 1000 characters", "title")
        post.title, post.slug = title, content.slugify(title)
    if body_html is not None:
        post.content = content.sanitize_html(body_html, base_url)
        post.summary = content.summarize(None, post.content, summary_length)
        post.image_url = _image_url(post.content)
    old_tags = {tag.id for tag in post.tags}
    if tags is not None:
        post.tags = tags_named(session, tags)
    new_hash = content.content_hash(post.title, post.content)
    if new_hash != post.content_hash or old_tags != {tag.id for tag in post.tags}:
        post.content_hash = new_hash
        post.updated_at = post.modified_at = now
        session.flush()
        changes.note_changes(session, now, before + _scopes(post))
        if not post.draft:  # nobody outside hears of a draft
            webhooks.note_posts(session, WebhookEvent.POST_UPDATED, [post.id], now)
    return post


def set_visibility(
    session: Session,
    post: Post,
    now: dt.datetime,
    *,
    hidden: bool | None = None,
    popular_excluded: bool | None = None,
) -> Post:
    """Hide a post from the site and feeds, or keep it out of popular lists.

    An admin's word replaces a filter rule's: a post they hide stays hidden
    whatever the rules say later (one they show again may be hidden by them).
    A duplicate an admin shows is a post of its own from then on; a draft
    shown is published."""
    if hidden is False and post.draft:
        publish_draft(session, post, now)
    if hidden is not None and post.hidden_by_rule is not None:
        post.hidden_by_rule = None
        post.hidden = not hidden  # so that the change below is noted
    if hidden is not None and hidden != post.hidden:
        post.hidden = hidden
        post.modified_at = now
        if not hidden:
            post.duplicate_of_id = None
        changes.note_changes(session, now, _scopes(post))
    if popular_excluded is not None and popular_excluded != post.popular_excluded:
        post.popular_excluded = popular_excluded
        post.modified_at = now
        changes.note_changes(session, now)
    return post


def delete_post(session: Session, post: Post, now: dt.datetime) -> None:
    """Delete a local post. An ingested one would come back with the next
    refresh, so it is hidden instead."""
    if not post.is_local:
        raise PostError("an ingested post would return with the next refresh; hide it instead")
    scopes = _scopes(post)
    if not post.hidden:
        webhooks.note_deleted(session, [post], now)
    session.delete(post)
    session.flush()
    changes.note_changes(session, now, scopes)


def search_posts(
    session: Session,
    *,
    query: str = "",
    source_id: int | None = None,
    local: bool | None = None,
    hidden: bool | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[Sequence[Post], int]:
    """Posts for the admin, hidden ones too, newest first; and how many match."""
    conditions = search_conditions(query, source_id, local, hidden)
    rows = session.scalars(
        select(Post).where(*conditions)
        .order_by(Post.published_at.desc(), Post.id.desc()).limit(limit).offset(offset)
    ).unique().all()  # fmt: skip
    return rows, count_posts(session, query=query, source_id=source_id, local=local,
                             hidden=hidden)  # fmt: skip


def count_posts(
    session: Session,
    *,
    query: str = "",
    source_id: int | None = None,
    local: bool | None = None,
    hidden: bool | None = None,
) -> int:
    conditions = search_conditions(query, source_id, local, hidden)
    return int(session.scalar(select(func.count()).select_from(Post).where(*conditions)) or 0)


def search_conditions(
    query: str, source_id: int | None, local: bool | None, hidden: bool | None
) -> list[Any]:
    conditions: list[Any] = []
    words = content.normalize_space(query)
    if words:
        pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(or_(Post.title.ilike(pattern, escape="\\"),
                              Post.summary.ilike(pattern, escape="\\")))  # fmt: skip
    if source_id is not None:
        conditions.append(Post.source_id == source_id)
    if local is not None:
        is_local = Post.entry_key.startswith(LOCAL_KEY_PREFIX)
        conditions.append(is_local if local else ~is_local)
    if hidden is not None:
        conditions.append(Post.hidden.is_(hidden))
    return conditions
