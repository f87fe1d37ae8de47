"""For search engines: the sitemap of every visible post, and robots.txt.

`/sitemap.xml` is a sitemap index (sitemaps.org) naming parts of at most
50,000 addresses each — the protocol's limit — `/sitemap-<n>.xml`, each post
with its `lastmod` (the post's updated time). Posts go into parts in id order,
so a post stays in its part as new ones arrive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedsvc.models import Post

URLS_PER_PART = 50_000
NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
# Who may not crawl what: the admin and the API are nobody's to index.
DISALLOWED = ("/admin", "/api")


def part_count(session: Session, per_part: int = URLS_PER_PART) -> int:
    """How many parts the index names: one at least, empty when there are no posts."""
    visible = session.scalar(select(func.count()).select_from(Post).where(Post.hidden.is_(False)))
    return max(1, -(-int(visible or 0) // per_part))


def part_posts(
    session: Session, part: int, per_part: int = URLS_PER_PART
) -> list[tuple[int, str, dt.datetime]] | None:
    """(id, slug, updated) of the part's posts (1-based); None past the last part."""
    if not 1 <= part <= part_count(session, per_part):
        return None
    rows = session.execute(
        select(Post.id, Post.slug, Post.updated_at)
        .where(Post.hidden.is_(False))
        .order_by(Post.id)
        .limit(per_part)
        .offset((part - 1) * per_part)
    )
    return [(post_id, slug, updated) for post_id, slug, updated in rows]


def render_index(base_url: str, parts: int) -> bytes:
    entries = "".join(f"<sitemap><loc>{_escape(base_url)}/sitemap-{n}.xml</loc></sitemap>"
                      for n in range(1, parts + 1))  # fmt: skip
    return _document("sitemapindex", entries)


def render_part(base_url: str, posts: Iterable[tuple[int, str, dt.datetime]]) -> bytes:
    entries = "".join(
        f"<url><loc>{_escape(f'{base_url}/posts/{post_id}-{slug}')}</loc>"
        f"<lastmod>{_w3c(updated)}</lastmod></url>"
        for post_id, slug, updated in posts
    )
    return _document("urlset", entries)


def robots_txt(base_url: str) -> str:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in DISALLOWED), "",
             f"Sitemap: {base_url}/sitemap.xml"]  # fmt: skip
    return "\n".join(lines) + "\n"


def _document(root: str, entries: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NAMESPACE}">'
            f"{entries}</{root}>\n").encode()  # fmt: skip


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))  # fmt: skip


def _w3c(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
