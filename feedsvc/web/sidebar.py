"""What every site page shows beside its main column: popular posts, the
sources as a blogroll, and the tags.

Every page renders it, so it is built at most once per content version,
ranking version and `POPULAR_CACHE_SECONDS` per process: a page view must
neither rank posts nor count the tags of every post. Its popular posts are the
shared ranking's (`popularity.shared_ranking`), read once per request, so the
sidebar and /popular beside it never disagree, whichever process answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from feedsvc import changes, content, popularity
from feedsvc.blogroll import blogroll
from feedsvc.models import Post
from feedsvc.settings import EXTENSION as SETTINGS
from feedsvc.tags import sidebar_tags
from feedsvc.vocabulary import PostMode
from feedsvc.web.context import get_session, popular_ranking, settings
from feedsvc.web.feeds import VERSION

CACHE = "feedsvc.sidebar_cache"
SIDEBAR_WINDOW = "7d"
# Enough to find one's way, few enough that one podcast's categories cannot swamp it.
SIDEBAR_TAGS = 15


class TimedCache:
    """Values reused for a short time, per process."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._entries.get(key)
        if found is not None and time.monotonic() - found[0] < self.seconds:
            return found[1]
        value = compute()
        with self._lock:
            # Older keys (earlier content versions) are never asked for again.
            self._entries = {k: v for k, v in self._entries.items()
                             if time.monotonic() - v[0] < self.seconds}  # fmt: skip
            self._entries[key] = (time.monotonic(), value)
        return value


@dataclass(frozen=True)
class PopularItem:
    post_id: int
    slug: str
    title: str
    snippet: str
    thumbnail: str | None
    comments: int = 0


@dataclass(frozen=True)
class Sidebar:
    popular: list[PopularItem]
    # (source id, title) and (tag slug, tag name, post count): plain data, so a
    # cached sidebar holds nothing tied to the request's database session.
    sources: list[tuple[int, str]]
    tags: list[tuple[str, str, int]]


def init(app: Flask) -> None:
    app.extensions[CACHE] = TimedCache(app.extensions[SETTINGS].popular.cache_seconds)


def sidebar() -> Sidebar:
    # A hidden or edited post bumps the content version, an approved comment
    # the comments version, a new ranking its own: never shown stale.
    version = current_app.extensions[VERSION].read_many(
        (changes.CONTENT_VERSION, changes.COMMENTS_VERSION)
    )
    key = ("sidebar", version, popular_ranking(SIDEBAR_WINDOW).version)
    built: Sidebar = current_app.extensions[CACHE].get(key, _build)
    return built


def _build() -> Sidebar:
    app_settings = settings()
    session = get_session()
    length = app_settings.popular.snippet
    popular = [
        PopularItem(
            post.id,
            post.slug,
            post.title,
            _snippet(post, length),
            post.image_url,
            post.comment_count,
        )
        for post in popularity.posts_by_ids(
            session, popular_ranking(SIDEBAR_WINDOW).post_ids[: app_settings.popular.count]
        )
    ]
    return Sidebar(
        popular=popular,
        sources=[(source.id, source.display_title) for source in blogroll(session)],
        tags=sidebar_tags(session, SIDEBAR_TAGS),
    )


def _snippet(post: Post, length: int) -> str:
    """About `length` characters of the post's text, ending in "…" when cut: from
    its content (the summary is shorter), but a source republished in summary or
    link mode shows no more than its summary."""
    if post.source is not None and post.source.mode != PostMode.FULL:
        return content.snippet(post.summary, length)
    text = content.html_to_text(post.content[: length * 20]) or post.summary
    return content.snippet(text, length)
