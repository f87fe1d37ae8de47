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
    feed_response,
    make_rendered,
)
from feedsvc.settings import EXTENSION as SETTINGS
from feedsvc.settings import Settings
from feedsvc.web.context import current_time, get_session, popular_ranking, settings

bp = Blueprint("feeds", __name__, url_prefix="/feeds")
NO_ARGS: Mapping[str, str] = {}

CACHE = "feedsvc.render_cache"
VERSION = "feedsvc.content_version"


def init_cache(app: Flask) -> None:
    app_settings: Settings = app.extensions[SETTINGS]
    app.extensions[CACHE] = RenderCache(app_settings.feeds.cache_entries)
    db = app.extensions["feedsvc.db"]
    app.extensions[VERSION] = reader = changes.VersionReader(db.engine)
    db.on_dispose.append(reader.close)


def site_feed(kind: str, fmt: str) -> Response:
    return _serve(lambda conf: service.parse_request(kind, fmt, _args(), conf))


# Static rules, one per feed and format: the most polled addresses then match
# by a dictionary lookup instead of werkzeug's dynamic matcher.
for _kind in (service.POSTS, service.SUMMARY, service.POPULAR, service.SEARCH, service.COMMENTS):
    for _fmt in feeds.FORMATS:
        bp.add_url_rule(
            f"/{_kind}.{_fmt}", view_func=site_feed, defaults={"kind": _kind, "fmt": _fmt}
        )


@bp.get("/sources/<int:source_id>.<fmt>")
def source_feed(source_id: int, fmt: str) -> Response:
    return _scoped_feed(service.SOURCE, fmt, source_id=source_id)


@bp.get("/tags/<slug:tag_slug>.<fmt>")
def tag_feed(tag_slug: str, fmt: str) -> Response:
    return _scoped_feed(service.TAG, fmt, tag_slug=tag_slug)


@bp.get("/authors/<slug:author_slug>.<fmt>")
def author_feed(author_slug: str, fmt: str) -> Response:
    return _scoped_feed(service.AUTHOR, fmt, author_slug=author_slug)


def _scoped_feed(kind: str, fmt: str, **scope: Any) -> Response:
    """The feed of one source, tag or author, which `scope` names."""
    return _serve(lambda conf: service.parse_request(kind, _format(fmt), _args(), conf, **scope))


@bp.get("/posts/<int:post_id>/comments.<fmt>")
def post_comments_feed(post_id: int, fmt: str) -> Response:
    return _serve(
        lambda app_settings: service.parse_request(
            service.POST_COMMENTS, _format(fmt), _args(), app_settings, post_id=post_id
        )
    )


@bp.get("/comments/default")
@bp.get("/<int:post_id>/comments/default")
def blogger_comments_feed(post_id: int | None = None) -> Response:
    """Blogger's comment feeds: the blog's, and one post's."""
    kind = service.COMMENTS if post_id is None else service.POST_COMMENTS
    return _serve(lambda conf: service.parse_blogger_request(kind, _args(), conf, post_id=post_id))


@bp.get("/posts/<any(default, summary):variant>")
@bp.get("/posts/<any(default, summary):variant>/-/<path:label>")
def blogger_feed(variant: str, label: str | None = None) -> Response:
    kind = service.POSTS if variant == "default" else service.SUMMARY
    return _serve(lambda conf: service.parse_blogger_request(kind, _args(), conf, label))


def _args() -> Mapping[str, str]:
    # Most polls carry no query string: skip parsing one.
    return request.args if request.query_string else NO_ARGS


def _format(fmt: str) -> str:
    if fmt not in feeds.FORMATS:
        abort(404)
    return fmt


def _serve(parse: Callable[[Settings], service.FeedRequest]) -> Response:
    app_settings = settings()
    try:
        req = parse(app_settings)
    except service.BadFeedRequest as exc:
        return Response(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
    now = current_time()
    key = service.feed_url(req, app_settings.site.base_url, app_settings)
    if req.kind == service.POPULAR:
        # Rankings move with views, not posts: rendered again for a new one.
        key += f"#ranking-{popular_ranking(req.window).version}"
    reader: changes.VersionReader = current_app.extensions[VERSION]
    if req.kind in service.COMMENT_KINDS:
        # Comments move a comment feed, not the posts' content version: both key it.
        scope = changes.COMMENTS_VERSION
        if req.post_id is not None:
            scope = changes.post_comments_scope(req.post_id)
        version, comments_version = reader.read_many((changes.CONTENT_VERSION, scope))
        key += f"#comments-{comments_version}"
    else:
        version = reader.read()
    cache: RenderCache = current_app.extensions[CACHE]
    rendered = cache.get(key, version)
    if rendered is None:
        rendered = _render(req, now)
        cache.put(key, version, rendered)
        metrics.FEED_RENDERS.labels(req.kind).inc()
    else:
        metrics.RENDER_CACHE_HITS.inc()
    response = feed_response(rendered, request, app_settings.feeds.cache_control)
    if response.status_code == 304:
        metrics.NOT_MODIFIED_SERVED.inc()
    return response


def _render(req: service.FeedRequest, now: dt.datetime) -> Rendered:
    try:
        built = service.build_feed(get_session(), req, settings(), now)
    except service.FeedNotFound:
        abort(404)
    return make_rendered(built.body, built.last_modified, service.content_type(req.fmt))
