"""Store parsed entries as posts: insert the new, update the changed, keep the rest.

Runs inside the caller's transaction (one per source). Inserts use
ON CONFLICT DO NOTHING on (source, entry key), so two overlapping refreshes of
one source can neither fail nor double a post: the unique constraint decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from feedsvc import content
from feedsvc.ingest import bulk
from feedsvc.ingest.parse import ParsedEntry
from feedsvc.models import Post, Source, Tag, new_uid, post_tags

CHUNK = 500
POSTS = cast(Table, Post.__table__)


@dataclass(frozen=True)
class StoreReport:
    new: int = 0
    updated: int = 0
    # Tags of the new and changed posts (before and after): their feeds changed.
    tag_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class PreparedPost:
    """An entry turned into the columns of a post."""

    key: str
    values: dict[str, Any]
    tags: tuple[str, ...]


def prepare(entry: ParsedEntry, base_url: str, summary_length: int) -> PreparedPost:
    base = entry.content_base or entry.link or base_url
    body = content.sanitize_html(entry.content_html, base)
    summary = content.summarize(entry.summary_html, entry.content_html, summary_length)
    title = content.normalize_space(entry.title) or content.truncate_text(summary, 80)
    enclosures = [{"url": e.url, "type": e.type, "length": e.length} for e in entry.enclosures]
    image = content.first_image(body) or next(
        (e.url for e in entry.enclosures if e.type.startswith("image/")), None
    )
    digest = content.content_hash(
        title, body, summary, entry.link, entry.author, "|".join(entry.tags),
        repr(enclosures),
    )  # fmt: skip
    return PreparedPost(
        key=entry.key,
        values={
            "title": title,
            "slug": content.slugify(title),
            "link": entry.link,
            "author": entry.author,
            "summary": summary,
            "content": body,
            "content_hash": digest,
            "image_url": image,
            "enclosures": enclosures,
            "published": entry.published,
            "updated": entry.updated,
        },
        tags=entry.tags,
    )


def prepare_all(
    entries: Sequence[ParsedEntry], base_url: str, summary_length: int
) -> list[PreparedPost]:
    """Every entry as post columns; a feed that repeats an id keeps the first."""
    prepared: dict[str, PreparedPost] = {}
    for entry in entries:
        if entry.key not in prepared:
            prepared[entry.key] = prepare(entry, base_url, summary_length)
    return list(prepared.values())


def store_entries(
    session: Session,
    source: Source,
    entries: Sequence[ParsedEntry],
    now: dt.datetime,
    summary_length: int,
    *,
    fresh: bool = False,
) -> StoreReport:
    base = source.site_url or source.feed_url
    prepared = prepare_all(entries, base, summary_length)
    return store_prepared(session, source.id, prepared, now, fresh=fresh)


def store_prepared(
    session: Session,
    source_id: int,
    posts: Sequence[PreparedPost],
    now: dt.datetime,
    *,
    fresh: bool = False,
) -> StoreReport:
    """`fresh`: the source has no posts yet, so none are looked up."""
    prepared = {post.key: post for post in posts}
    if not prepared:
        return StoreReport()

    existing: dict[str, tuple[int, str]] = {}
    by_link: dict[str, tuple[int, str]] = {}
    if not fresh:
        existing = _existing_by_key(session, source_id, list(prepared))
        unmatched = [p for key, p in prepared.items() if key not in existing]
        by_link = _existing_by_link(
            session, source_id, [p.values["link"] for p in unmatched if p.values["link"]]
        )

    to_insert: list[PreparedPost] = []
    updated = 0
    touched_tags: set[int] = set()
    for key, post in prepared.items():
        match = existing.get(key)
        rekey = False
        if match is None and post.values["link"] in by_link:
            # Same link, new id: the upstream changed its ids; keep one post.
            match = by_link.pop(post.values["link"])
            rekey = True
        if match is None:
            to_insert.append(post)
        elif rekey or match[1] != post.values["content_hash"]:
            touched_tags |= _update_post(
                session, match[0], post, now, new_key=key if rekey else None
            )
            updated += 1

    new, new_tags = _insert_posts(session, source_id, to_insert, now)
    return StoreReport(new=new, updated=updated, tag_ids=frozenset(touched_tags | new_tags))


def _existing_by_key(
    session: Session, source_id: int, keys: list[str]
) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(keys):
        rows = session.execute(
            select(Post.entry_key, Post.id, Post.content_hash).where(
                Post.source_id == source_id, Post.entry_key.in_(chunk)
            )
        )
        for key, post_id, digest in rows:
            found[key] = (post_id, digest)
    return found


def _existing_by_link(
    session: Session, source_id: int, links: list[str]
) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(links):
        rows = session.execute(
            select(Post.link, Post.id, Post.content_hash).where(
                Post.source_id == source_id, Post.link.in_(chunk)
            )
        )
        for link, post_id, digest in rows:
            if link is not None:
                found.setdefault(link, (post_id, digest))
    return found


def _insert_posts(
    session: Session, source_id: int, posts: list[PreparedPost], now: dt.datetime
) -> tuple[int, set[int]]:
    if not posts:
        return 0, set()
    rows = []
    for post in posts:
        values = dict(post.values)
        published = values.pop("published") or values["updated"] or now
        updated = values.pop("updated") or published
        rows.append(
            {
                **values,
                "uid": new_uid(),
                "source_id": source_id,
                "entry_key": post.key,
                "published_at": published,
                "updated_at": updated,
                "created_at": now,
                "modified_at": now,
                "hidden": False,
                "popular_excluded": False,
            }
        )
    inserted = _insert_rows(session, rows)
    tags_by_key = {post.key: post.tags for post in posts}
    tags = _set_tags(
        session, [(post_id, tags_by_key[key]) for post_id, key in inserted], replace=False
    )
    return len(inserted), tags


def _insert_rows(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert the posts that are not there yet; (id, entry key) of each inserted."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return bulk.insert_sqlite(session, rows)
    if dialect == "postgresql":
        copied = bulk.copy_postgresql(session, rows)
        if copied is not None:
            return copied
    table = Post.__table__
    statement = _insert_ignoring_duplicates(session).returning(table.c.id, table.c.entry_key)
    return [(post_id, key) for post_id, key in session.execute(statement, rows)]


def _insert_ignoring_duplicates(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(POSTS).on_conflict_do_nothing(index_elements=["source_id", "entry_key"])
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(POSTS).on_conflict_do_nothing(
            index_elements=["source_id", "entry_key"]
        )
    return insert(POSTS)


def _update_post(
    session: Session, post_id: int, post: PreparedPost, now: dt.datetime, new_key: str | None
) -> set[int]:
    values = dict(post.values)
    published = values.pop("published")
    updated = values.pop("updated")
    values["updated_at"] = updated or now
    values["modified_at"] = now
    if published:
        values["published_at"] = published
    if new_key:
        values["entry_key"] = new_key
    session.execute(update(Post).where(Post.id == post_id).values(**values))
    return _set_tags(session, [(post_id, post.tags)], replace=True)


def tag_ids(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Ids of the tags with these names, creating the missing ones."""
    names = list(names)
    by_slug: dict[str, str] = {}
    for name in names:
        slug = content.slugify(name, max_length=100)
        if name and slug != "post":
            # Tag names come from feeds, forms and the API: no control characters.
            by_slug.setdefault(slug, content.normalize_space(name)[:200])
    if not by_slug:
        return {}
    ids: dict[str, int] = {}
    for slug, tag_id in session.execute(select(Tag.slug, Tag.id).where(Tag.slug.in_(by_slug))):
        ids[slug] = tag_id
    for slug, name in by_slug.items():
        if slug not in ids:
            nested = session.begin_nested()
            tag = Tag(slug=slug, name=name)
            session.add(tag)
            try:
                session.flush()
                nested.commit()
                ids[slug] = tag.id
            except Exception:
                # Another refresh created it a moment ago.
                nested.rollback()
                ids[slug] = session.execute(select(Tag.id).where(Tag.slug == slug)).scalar_one()
    by_name = {name: content.slugify(name, max_length=100) for name in names}
    return {name: ids[slug] for name, slug in by_name.items() if slug in ids}


def _set_tags(
    session: Session, post_tag_names: list[tuple[int, tuple[str, ...]]], replace: bool
) -> set[int]:
    """Tag the posts; return the ids of every tag added or taken away."""
    all_names = {name for _, names in post_tag_names for name in names}
    ids = tag_ids(session, all_names)
    touched = set(ids.values())
    if replace:
        post_ids = [post_id for post_id, _ in post_tag_names]
        removed = session.execute(
            delete(post_tags).where(post_tags.c.post_id.in_(post_ids)).returning(post_tags.c.tag_id)
        )
        touched.update(tag_id for (tag_id,) in removed)
    rows = [
        {"post_id": post_id, "tag_id": tag_id}
        for post_id, names in post_tag_names
        for tag_id in dict.fromkeys(ids[n] for n in names if n in ids)
    ]
    if rows:
        if session.get_bind().dialect.name == "postgresql":
            bulk.copy_post_tags(session, [(row["post_id"], row["tag_id"]) for row in rows])
        else:
            session.execute(insert(post_tags), rows)
    return touched


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
