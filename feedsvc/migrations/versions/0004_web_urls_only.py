"""stored URLs from outside are http(s) or nothing

Rows stored before the rule may hold `javascript:` or `data:` URLs: a
source's site URL, a post's link, picture and enclosures. Each that is not an
absolute http(s) URL (by `feedsvc.urls.web_url`, the rule new rows follow) is
cleared; an enclosure without one is removed. A source whose feed URL is not
one cannot be fetched: it is paused and says why. The rows are read once,
streamed; only those that change are written.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from feedsvc.urls import web_url

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
UNFETCHABLE = "the feed URL is not an http(s) URL: paused until an admin replaces the source"

sources = sa.table(
    "sources",
    sa.column("id", sa.Integer),
    sa.column("feed_url", sa.String),
    sa.column("site_url", sa.String),
    sa.column("status", sa.String),
    sa.column("last_error", sa.Text),
)
posts = sa.table(
    "posts",
    sa.column("id", sa.Integer),
    sa.column("link", sa.String),
    sa.column("image_url", sa.String),
    sa.column("enclosures", sa.JSON),
)


def upgrade() -> None:
    bind = op.get_bind()
    source_changes: list[dict[str, Any]] = []
    unfetchable: list[dict[str, Any]] = []
    for row in _stream(bind, sa.select(sources.c.id, sources.c.feed_url, sources.c.site_url)):
        if web_url(row.feed_url) is None:
            unfetchable.append({"row_id": row.id})
        if row.site_url is not None and web_url(row.site_url) != row.site_url:
            source_changes.append({"row_id": row.id, "site_url": web_url(row.site_url)})
    post_changes: list[dict[str, Any]] = []
    query = sa.select(posts.c.id, posts.c.link, posts.c.image_url, posts.c.enclosures)
    for row in _stream(bind, query):
        cleaned = _clean_post(row.link, row.image_url, row.enclosures)
        if cleaned is not None:
            post_changes.append({"row_id": row.id, **cleaned})
    # Written after the reads: a cursor still open on SQLite must not see its own writes.
    _update(bind, sources, source_changes, site_url=sa.bindparam("site_url"))
    _update(bind, sources, unfetchable, status="paused", last_error=UNFETCHABLE)
    _update(
        bind, posts, post_changes, link=sa.bindparam("link"),
        image_url=sa.bindparam("image_url"),
        enclosures=sa.bindparam("enclosures", type_=sa.JSON),
    )  # fmt: skip


def _update(bind: sa.Connection, table: Any, rows: list[dict[str, Any]], **values: Any) -> None:
    """Set `values` on the rows whose ids `rows` give as row_id, in one executemany."""
    if rows:
        where = table.c.id == sa.bindparam("row_id")
        bind.execute(table.update().where(where).values(**values), rows)


def _stream(bind: sa.Connection, query: sa.Select[Any]) -> Iterator[sa.Row[Any]]:
    # Options on the statement: on the connection they would outlive this query.
    yield from bind.execute(query.execution_options(yield_per=BATCH))


def _clean_post(link: str | None, image_url: str | None, enclosures: Any) -> dict[str, Any] | None:
    """The post's URL columns with only web URLs left, or None if all are already."""
    kept = [
        {**enclosure, "url": url}
        for enclosure in enclosures or []
        if isinstance(enclosure, dict)
        and isinstance(enclosure.get("url"), str)
        and (url := web_url(enclosure["url"])) is not None
    ]
    cleaned = {"link": web_url(link), "image_url": web_url(image_url), "enclosures": kept}
    if cleaned == {"link": link, "image_url": image_url, "enclosures": enclosures or []}:
        return None
    return cleaned


def downgrade() -> None:
    """Nothing to undo: the URLs cleared were never safe to publish."""
