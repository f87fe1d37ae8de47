"""Write a plan: the source row, new and changed posts, tags, fetch history.

Nothing is decided here; every value comes from the plan. Runs inside the
caller's transaction (one per source, or one per group of sources). New posts
go in with ON CONFLICT DO NOTHING on (source, entry key), so two overlapping
refreshes of one source can neither fail nor double a post. A new post that is
a story another source brought first goes in hidden, as its duplicate
(`duplicates.find_originals`: a lookup, not a decision of the plan's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, insert, update
from sqlalchemy.orm import Session

from feedsvc import changes
from feedsvc.ingest import bulk, duplicates
from feedsvc.ingest.plan import Plan, PostChange
from feedsvc.ingest.prepare import PreparedEntry
from feedsvc.models import Post, Source, new_uid, post_tags
from feedsvc.tags import tag_ids

POSTS = cast(Table, Post.__table__)


@dataclass(frozen=True)
class Applied:
    """What the writes came to (a concurrent refresh may have inserted a post first)."""

    new: int = 0
    updated: int = 0
    # Feed scopes whose content changed: the source's and its posts' tags.
    scopes: frozenset[str] = frozenset()
    # The posts inserted and changed (webhooks tell of them).
    new_ids: tuple[int, ...] = ()
    changed_ids: tuple[int, ...] = ()


def apply_plans(session: Session, plans: Sequence[Plan], now: dt.datetime) -> list[Applied]:
    """Write everything the plans say; changed scopes are returned, not noted.

    The source rows and fetch history of all of them go in one statement each.
    """
    # New posts of the whole group go in at once: one COPY, not one per source.
    inserted = _insert_new_posts(session, [(plan.source_id, plan.entries.new) for plan in plans],
                                 now)  # fmt: skip
    applied = [
        _write_posts(session, plan, now, *new) for plan, new in zip(plans, inserted, strict=True)
    ]
    if plans:
        session.execute(
            update(Source), [_source_values(plan) for plan in plans],
            execution_options={"synchronize_session": False},
        )  # fmt: skip
        attempts = [_attempt_values(p, a, now) for p, a in zip(plans, applied, strict=True)]
        bulk.insert_plain(session, "fetch_attempts", ATTEMPT_COLUMNS, attempts)
    return applied


def _write_posts(
    session: Session, plan: Plan, now: dt.datetime, new_ids: tuple[int, ...], new_tags: set[int]
) -> Applied:
    """The plan's post changes, its new posts being written already."""
    diff = plan.entries
    changed_tags = _update_posts(session, diff.changed, now)
    if diff.rehashed:
        # An ORM bulk UPDATE by primary key: one statement, many rows.
        session.execute(
            update(Post), [{"id": post_id, "entry_hash": h, "canonical_link": link}
                           for post_id, h, link in diff.rehashed],
        )  # fmt: skip
    new = len(new_ids)
    if not (new or diff.changed):
        return Applied()
    scopes = {
        changes.source_scope(plan.source_id),
        *map(changes.tag_scope, new_tags | changed_tags),
    }
    changed_ids = tuple(change.post_id for change in diff.changed)
    return Applied(new, len(diff.changed), frozenset(scopes), new_ids, changed_ids)


def _source_values(plan: Plan) -> dict[str, Any]:
    state = plan.source
    values: dict[str, Any] = {
        "id": plan.source_id,
        "feed_url": state.feed_url,
        "status": state.status,
        "error_count": state.error_count,
        "last_error": state.last_error,
        "next_check_at": state.next_check_at,
        "last_checked_at": state.last_checked_at,
        "last_success_at": state.last_success_at,
        "etag": state.etag,
        "last_modified": state.last_modified,
        "title": state.title,
        "site_url": state.site_url,
        "description": state.description,
        "hint_interval": state.hint_interval,
        "lease_until": None,
        "lease_owner": None,
    }
    if state.upstream is not None:
        values["upstream_id"], values["upstream_updated"] = state.upstream
        values["itunes"] = state.itunes
    if state.websub is not None:
        values["websub_hub"], values["websub_topic"] = state.websub
    if state.as_browser:
        values["fetch_as_browser"] = True
    return values


ATTEMPT_COLUMNS = ("source_id", "started_at", "duration_ms", "url", "status_code", "outcome",
                   "bytes", "new_count", "updated_count", "error")  # fmt: skip


def _attempt_values(plan: Plan, applied: Applied, now: dt.datetime) -> tuple[Any, ...]:
    """The fetch history's row, in ATTEMPT_COLUMNS' order."""
    attempt = plan.attempt
    return (
        plan.source_id, now, attempt.duration_ms, attempt.url, attempt.status_code,
        attempt.result.value, attempt.bytes, applied.new, applied.updated, attempt.error,
    )  # fmt: skip


def _insert_new_posts(
    session: Session,
    new_by_source: Sequence[tuple[int, Sequence[PreparedEntry]]],
    now: dt.datetime,
) -> list[tuple[tuple[int, ...], set[int]]]:
    """Insert the new posts of several sources together; per source, the ids of
    those that went in (a concurrent refresh may have been first) and their tags' ids."""
    flat = [(source_id, entry) for source_id, entries in new_by_source for entry in entries]
    if not flat:
        return [((), set()) for _ in new_by_source]
    inserted = _insert_stories(session, flat, now)
    tags_of = {(source_id, entry.key): entry.tags
               for source_id, entries in new_by_source for entry in entries}  # fmt: skip
    names = {name for tags in tags_of.values() for name in tags}
    ids = tag_ids(session, names)
    posts_tags = [(post_id, tags_of[source_id, key]) for post_id, source_id, key in inserted]
    _tag_posts(session, posts_tags, ids)
    ids_by_source: dict[int, list[int]] = {}
    tags_by_source: dict[int, set[int]] = {}
    for post_id, source_id, key in inserted:
        ids_by_source.setdefault(source_id, []).append(post_id)
        tags_by_source.setdefault(source_id, set()).update(
            ids[name] for name in tags_of[source_id, key] if name in ids
        )
    return [(tuple(ids_by_source.get(source_id, ())), tags_by_source.get(source_id, set()))
            for source_id, _ in new_by_source]  # fmt: skip


def _insert_stories(
    session: Session, new: Sequence[tuple[int, PreparedEntry]], now: dt.datetime
) -> list[tuple[int, int, str]]:
    """Insert new posts, those of a story already stored hidden as its duplicates;
    a duplicate of another new post goes in after it, once its id is known."""
    originals = duplicates.find_originals(session, new, now)
    first = [_new_post_row(source_id, entry, now, original)
             for (source_id, entry), original in zip(new, originals, strict=True)
             if not isinstance(original, duplicates.InGroup)]  # fmt: skip
    inserted = _insert_rows(session, first) if first else []
    id_of = {(source_id, key): post_id for post_id, source_id, key in inserted}
    later = []
    for (source_id, entry), original in zip(new, originals, strict=True):
        if isinstance(original, duplicates.InGroup):
            original_source, original_entry = new[original.index]
            original_id = id_of.get((original_source, original_entry.key))
            later.append(_new_post_row(source_id, entry, now, original_id))
    if later:
        inserted += _insert_rows(session, later)
    duplicates.record_bands(session, [
        (id_of[source_id, entry.key], entry.story_bands)
        for (source_id, entry), original in zip(new, originals, strict=True)
        if original is None and entry.story_bands and (source_id, entry.key) in id_of
    ], now)  # fmt: skip
    return inserted


def _new_post_row(
    source_id: int, entry: PreparedEntry, now: dt.datetime, duplicate_of: int | None = None
) -> dict[str, Any]:
    values = dict(entry.values)
    published = values.pop("published") or values["updated"] or now
    updated = values.pop("updated") or published
    return {
        **values,
        "uid": new_uid(),
        "source_id": source_id,
        "entry_key": entry.key,
        "published_at": published,
        "updated_at": updated,
        "created_at": now,
        "modified_at": now,
        "canonical_link": values.get("canonical_link"),
        "duplicate_of_id": duplicate_of,
        # Hidden as a duplicate, or by a filter rule; `duplicate_of_id` and
        # `hidden_by_rule` tell them from hidden by an admin.
        "hidden": duplicate_of is not None or values.get("hidden", False),
        "hidden_by_rule": values.get("hidden_by_rule"),
        "popular_excluded": False,
        "draft": False,
        "article_state": values.get("article_state"),
        "article_error": None,
        "article_tries": 0,
        "article_next_at": None,
        "image_width": values.get("image_width"),
        "image_height": values.get("image_height"),
        "itunes": values.get("itunes"),
        "comment_count": 0,
        "comments_closed": False,
        # The upstream's own discussion of the entry (its comments page and feed).
        "upstream_comments_url": values.get("upstream_comments_url"),
        "upstream_comments_feed": values.get("upstream_comments_feed"),
    }


def _insert_rows(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """Insert the posts that are not there yet; (id, source id, entry key) of each inserted."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return bulk.insert_sqlite(session, rows)
    if dialect == "postgresql":
        copied = bulk.copy_postgresql(session, rows)
        if copied is not None:
            return copied
    statement = _insert_ignoring_duplicates(dialect).returning(
        POSTS.c.id, POSTS.c.source_id, POSTS.c.entry_key
    )
    return [(post_id, source, key) for post_id, source, key in session.execute(statement, rows)]


def _insert_ignoring_duplicates(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(POSTS).on_conflict_do_nothing(index_elements=["source_id", "entry_key"])
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(POSTS).on_conflict_do_nothing(
            index_elements=["source_id", "entry_key"]
        )
    return insert(POSTS)


def _update_posts(session: Session, changed: Sequence[PostChange], now: dt.datetime) -> set[int]:
    touched: set[int] = set()
    for change in changed:
        values = dict(change.entry.values)
        published = values.pop("published")
        updated = values.pop("updated")
        values["updated_at"] = updated or now
        values["modified_at"] = now
        if published:
            values["published_at"] = published
        if change.new_key:
            values["entry_key"] = change.new_key
        session.execute(update(Post).where(Post.id == change.post_id).values(**values))
        touched |= _set_tags(session, [(change.post_id, change.entry.tags)], replace=True)
    return touched


def _set_tags(
    session: Session, post_tag_names: list[tuple[int, tuple[str, ...]]], replace: bool
) -> set[int]:
    """Tag the posts; return the ids of every tag added or taken away."""
    ids = tag_ids(session, {name for _, names in post_tag_names for name in names})
    touched = set(ids.values())
    if replace:
        post_ids = [post_id for post_id, _ in post_tag_names]
        removed = session.execute(
            delete(post_tags).where(post_tags.c.post_id.in_(post_ids)).returning(post_tags.c.tag_id)
        )
        touched.update(tag_id for (tag_id,) in removed)
    _tag_posts(session, post_tag_names, ids)
    return touched


def _tag_posts(
    session: Session, post_tag_names: list[tuple[int, tuple[str, ...]]], ids: dict[str, int]
) -> None:
    pairs = [
        (post_id, tag_id)
        for post_id, names in post_tag_names
        for tag_id in dict.fromkeys(ids[n] for n in names if n in ids)
    ]
    bulk.insert_plain(session, "post_tags", ("post_id", "tag_id"), pairs)
