"""What every site page shows beside its main column: popular posts, the
sources as a blogroll, and the tags."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Flask, current_app

from feedsvc import content, popularity
from feedsvc.models import Source, Tag
from feedsvc.sources import blogroll, popular_tags
from feedsvc.web import get_session

RANKINGS = "feedsvc.rankings"


@dataclass(frozen=True)
class PopularItem:
    post_id: int
    slug: str
    title: str
    snippet: str
    thumbnail: str | None


@dataclass(frozen=True)
class Sidebar:
    popular: list[PopularItem]
    sources: list[Source]
    tags: list[tuple[Tag, int]]


def init(app: Flask) -> None:
    app.extensions[RANKINGS] = popularity.RankingCache(float(app.config["POPULAR_CACHE_SECONDS"]))


def sidebar() -> Sidebar:
    cfg = current_app.config
    session = get_session()
    cache: popularity.RankingCache = current_app.extensions[RANKINGS]
    ids = cache.ids(session, "7d", int(cfg["POPULAR_COUNT"]), dt.datetime.now(dt.UTC),
                    float(cfg["POPULAR_HALF_LIFE_DAYS"]))  # fmt: skip
    length = int(cfg["POPULAR_SNIPPET"])
    popular = [
        PopularItem(
            post.id, post.slug, post.title, content.snippet(post.summary, length), post.image_url
        )
        for post in popularity.posts_by_ids(session, ids)
    ]
    return Sidebar(popular=popular, sources=blogroll(session), tags=popular_tags(session, 30))
