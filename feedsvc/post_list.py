"""The admin's posts list: filters by source, tag and state, sorted by date or
by views, and the actions taken on many posts at once (hide, show, delete)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedsvc.errors import FeedsvcError
from feedsvc.models import Post, PostViewDay, Tag, post_tags
from feedsvc.posts import delete_post, search_conditions, set_visibility

# What the state filter offers ("" is every post).
STATES = ("visible", "hidden", "draft", "local", "ingested")
SORTS = ("date", "views")
ACTIONS = ("hide", "show", "delete")
# The most posts one bulk action takes: a page of the list.
MAX_BULK = 200


class PostListError(FeedsvcError):
    """A filter or an action the list does not know; `field` names it."""


@dataclass(frozen=True)
class PostFilter:
    query: str = ""
    source_id: int | None = None
    tag_id: int | None = None
    state: str = ""
    sort: str = "date"

    def __post_init__(self) -> None:
        if self.state and self.state not in STATES:
            raise PostListError(f"the state is one of {', '.join(STATES)}", "state")
        if self.sort not in SORTS:
            raise PostListError(f"sort by {' or '.join(SORTS)}", "sort")


def list_posts(
    session: Session, wanted: PostFilter, *, limit: int, offset: int = 0
) -> tuple[list[tuple[Post, int]], int]:
    """The posts that match with their views (all time), a page of them; and how many match."""
    state = wanted.state
    local = {"local": True, "ingested": False}.get(state)
    hidden = {"visible": False, "hidden": True}.get(state)
    conditions = search_conditions(wanted.query, wanted.source_id, local, hidden)
    if state in ("hidden", "draft"):
        # A draft is stored hidden, yet it is no hidden post: it was never out.
        conditions.append(Post.draft.is_(state == "draft"))
    if wanted.tag_id is not None:
        tagged = select(post_tags.c.post_id).where(post_tags.c.tag_id == wanted.tag_id)
        conditions.append(Post.id.in_(tagged))
    views = (
        select(PostViewDay.post_id, func.sum(PostViewDay.count).label("views"))
        .group_by(PostViewDay.post_id)
        .subquery()
    )
    counted = func.coalesce(views.c.views, 0)
    order: list[Any] = [Post.published_at.desc(), Post.id.desc()]
    if wanted.sort == "views":
        order.insert(0, counted.desc())
    rows = session.execute(
        select(Post, counted).outerjoin(views, views.c.post_id == Post.id)
        .where(*conditions).order_by(*order).limit(limit).offset(offset)
    ).unique().all()  # fmt: skip
    total = session.scalar(select(func.count()).select_from(Post).where(*conditions))
    return [(post, int(count)) for post, count in rows], int(total or 0)


def tag_choices(session: Session) -> list[Tag]:
    """Every tag some post has, by name: what the tag filter offers."""
    used = select(post_tags.c.tag_id).distinct()
    return list(session.scalars(select(Tag).where(Tag.id.in_(used)).order_by(Tag.name)))


@dataclass(frozen=True)
class BulkResult:
    action: str
    done: int
    # Ingested posts asked to be deleted: they would come back with the next refresh.
    kept: int = 0

    def describe(self) -> str:
        past = {"hide": "Hidden", "show": "Shown", "delete": "Deleted"}[self.action]
        words = f"{past}: {self.done} post{'' if self.done == 1 else 's'}."
        if self.kept:
            words += (f" {self.kept} ingested post{' was' if self.kept == 1 else 's were'} "
                      "not deleted: they would come back with the next fetch; hide them instead.")
        return words


def chosen_posts(session: Session, ids: Iterable[str]) -> list[Post]:
    """The posts a form's checkboxes name; anything that is no post id is refused."""
    wanted: list[int] = []
    for raw in ids:
        if not raw.isdigit() or len(raw) > 12:
            raise PostListError("choose posts from the list", "ids")
        wanted.append(int(raw))
    if not wanted:
        raise PostListError("choose at least one post", "ids")
    if len(wanted) > MAX_BULK:
        raise PostListError(f"choose at most {MAX_BULK} posts at once", "ids")
    return list(session.scalars(select(Post).where(Post.id.in_(wanted)).order_by(Post.id)))


def bulk_action(
    session: Session, posts: Sequence[Post], action: str, now: dt.datetime
) -> BulkResult:
    """Hide, show or delete these posts (local ones only are deleted)."""
    if action not in ACTIONS:
        raise PostListError(f"the action is one of {', '.join(ACTIONS)}", "action")
    if action == "delete":
        local = [post for post in posts if post.is_local]
        for post in local:
            delete_post(session, post, now)
        return BulkResult(action, len(local), len(posts) - len(local))
    for post in posts:
        set_visibility(session, post, now, hidden=action == "hide")
    return BulkResult(action, len(posts))
