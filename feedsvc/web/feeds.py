"""Published feeds: every kind in Atom, RSS and JSON Feed, plus the addresses
Blogger used, so subscribers of a blog that moved here keep their feed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request

from feedsvc import changes, metrics
from feedsvc.publish import feeds, service
from feedsvc.publish.http import (
    RenderCache,
    Rendered,
    cache_control,
    feed_response,
    make_rendered,
)
from feedsvc.web.context import current_time, get_session

bp = Blueprint("feeds", __name__, url_prefix="/feeds")
NO_ARGS: Mapping[str, str] = {}

CACHE = "feedsvc.render_cache"
VERSION = "feedsvc.content_version"


def init_cache(app: Flask) -> None:
    cfg = app.config
    app.extensions[CACHE] = RenderCache(int(cfg["FEED_CACHE_ENTRIES"]))
    db = app.extensions["feedsvc.db"]
    app.extensions[VERSION] = reader = changes.VersionReader(db.engine)
    db.on_dispose.append(reader.close)
    cfg["FEED_CACHE_CONTROL"] = cache_control(
        int(cfg["FEED_MAX_AGE"]), int(cfg["FEED_STALE_WHILE_REVALIDATE"])
    )


def site_feed(kind: str, fmt: str) -> Response:
    return _serve(lambda cfg: service.parse_request(kind, fmt, _args(), cfg))


# Static rules, one per feed and format: the most polled addresses then match
# by a dictionary lookup instead of werkzeug's dynamic matcher.
for _kind in (service.POSTS, service.SUMMARY, service.POPULAR):
    for _fmt in feeds.FORMATS:
        bp.add_url_rule(
            f"/{_kind}.{_fmt}", view_func=site_feed, defaults={"kind": _kind, "fmt": _fmt}
        )


@bp.get("/sources/<int:source_id>.<fmt>")
def source_feed(source_id: int, fmt: str) -> Response:
    return _serve(
        lambda cfg: service.parse_request(
            service.SOURCE, _format(fmt), _args(), cfg, source_id=source_id
        )
    )


@bp.get("/tags/<slug:tag_slug>.<fmt>")
def tag_feed(tag_slug: str, fmt: str) -> Response:
    return _serve(
        lambda cfg: service.parse_request(
            service.TAG, _format(fmt), _args(), cfg, tag_slug=tag_slug
        )
    )


@bp.get("/posts/<any(default, summary):variant>")
@bp.get("/posts/<any(default, summary):variant>/-/<path:label>")
def blogger_feed(variant: str, label: str | None = None) -> Response:
    kind = service.POSTS if variant == "default" else service.SUMMARY
    return _serve(lambda cfg: service.parse_blogger_request(kind, _args(), cfg, label))


def _args() -> Mapping[str, str]:
    # Most polls carry no query string: skip parsing one.
    return request.args if request.query_string else NO_ARGS


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
    now = current_time()
    key = service.feed_url(req, cfg["BASE_URL"], cfg)
    if req.kind == service.POPULAR:
        # Rankings move with views, not posts: re-render at most once a period.
        key += f"#{int(now.timestamp()) // max(1, int(cfg['POPULAR_CACHE_SECONDS']))}"
    version = current_app.extensions[VERSION].read()
    cache: RenderCache = current_app.extensions[CACHE]
    rendered = cache.get(key, version)
    if rendered is None:
        rendered = _render(req, now)
        cache.put(key, version, rendered)
        metrics.FEED_RENDERS.labels(req.kind).inc()
    else:
        metrics.RENDER_CACHE_HITS.inc()
    response = feed_response(rendered, request, cfg["FEED_CACHE_CONTROL"])
    if response.status_code == 304:
        metrics.NOT_MODIFIED_SERVED.inc()
    return response


def _render(req: service.FeedRequest, now: dt.datetime) -> Rendered:
    try:
        built = service.build_feed(get_session(), req, current_app.config, now)
    except service.FeedNotFound:
        abort(404)
    return make_rendered(built.body, built.last_modified, feeds.CONTENT_TYPES[req.fmt])
