"""Published feeds: every kind in Atom, RSS and JSON Feed, plus the addresses
Blogger used, so subscribers of a blog that moved here keep their feed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request

from feedsvc import changes
from feedsvc.publish import feeds, service
from feedsvc.publish.http import RenderCache, Rendered, feed_response, make_rendered
from feedsvc.web import get_db, get_session

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

CACHE = "feedsvc.render_cache"


def init_cache(app: Flask) -> None:
    app.extensions[CACHE] = RenderCache(int(app.config["FEED_CACHE_ENTRIES"]))


@bp.get("/<any(posts, summary, popular):kind>.<fmt>")
def site_feed(kind: str, fmt: str) -> Response:
    return _serve(lambda cfg: service.parse_request(kind, _format(fmt), request.args, cfg))


@bp.get("/sources/<int:source_id>.<fmt>")
def source_feed(source_id: int, fmt: str) -> Response:
    return _serve(
        lambda cfg: service.parse_request(
            service.SOURCE, _format(fmt), request.args, cfg, source_id=source_id
        )
    )


@bp.get("/tags/<tag_slug>.<fmt>")
def tag_feed(tag_slug: str, fmt: str) -> Response:
    return _serve(
        lambda cfg: service.parse_request(
            service.TAG, _format(fmt), request.args, cfg, tag_slug=tag_slug
        )
    )


@bp.get("/posts/<any(default, summary):variant>")
@bp.get("/posts/<any(default, summary):variant>/-/<path:label>")
def blogger_feed(variant: str, label: str | None = None) -> Response:
    kind = service.POSTS if variant == "default" else service.SUMMARY
    return _serve(lambda cfg: service.parse_blogger_request(kind, request.args, cfg, label))


def _format(fmt: str) -> str:
    if fmt not in feeds.FORMATS:
        abort(404)
    return fmt


def _serve(parse: Callable[[Mapping[str, Any]], service.FeedRequest]) -> Response:
    cfg = current_app.config
    try:
        req = parse(cfg)
    except service.BadFeedRequest as exc:
        return Response(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
    now = dt.datetime.now(dt.UTC)
    key = service.feed_url(req, cfg["BASE_URL"], cfg)
    if req.kind == service.POPULAR:
        # Rankings move with views, not posts: re-render at most once a period.
        key += f"#{int(now.timestamp()) // int(cfg['POPULAR_CACHE_SECONDS'])}"
    with get_db().engine.connect() as connection:
        version = changes.content_version(connection)
    cache: RenderCache = current_app.extensions[CACHE]
    rendered = cache.get(key, version)
    if rendered is None:
        rendered = _render(req, now)
        cache.put(key, version, rendered)
    return feed_response(
        rendered, request, int(cfg["FEED_MAX_AGE"]), int(cfg["FEED_STALE_WHILE_REVALIDATE"])
    )


def _render(req: service.FeedRequest, now: dt.datetime) -> Rendered:
    try:
        built = service.build_feed(get_session(), req, current_app.config, now)
    except service.FeedNotFound:
        abort(404)
    return make_rendered(built.body, built.last_modified, feeds.CONTENT_TYPES[req.fmt])
