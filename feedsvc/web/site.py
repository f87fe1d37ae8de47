"""The pages people read: index, post, popular, source and tag pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from feedsvc import popularity
from feedsvc.models import Post, Source
from feedsvc.posts import also_reported_by, get_visible_post, latest_posts, neighbours
from feedsvc.publish.service import EPOCH
from feedsvc.tags import tag_by_slug
from feedsvc.web.context import (
    client_address,
    current_time,
    get_db,
    get_session,
    page_arg,
    settings,
)
from feedsvc.web.sidebar import ranked_ids

bp = Blueprint("site", __name__)

WINDOW_LABELS = {"7d": "Last 7 days", "30d": "Last 30 days", "all": "All time",
                 "trending": "Trending"}  # fmt: skip


@bp.get("/")
def index() -> Response:
    return _listing("index.html", "site.index", {}, feed_scopes=None)


@bp.get("/posts/<int:post_id>")
@bp.get("/posts/<int:post_id>-<slug>")
def post(post_id: int, slug: str | None = None) -> Response:
    session = get_session()
    found = get_visible_post(session, post_id)
    if found is None:
        abort(404)
    if slug != found.slug:
        return redirect(url_for("site.post", post_id=found.id, slug=found.slug), 301)
    older, newer = neighbours(session, found)
    response = _page_response(
        "post.html", [found], post=found, older=older, newer=newer,
        also_reported_by=also_reported_by(session, [found.id]).get(found.id, []),
        canonical=_canonical("site.post", post_id=found.id, slug=found.slug),
        feed_scopes=_feed_scopes(found),
    )  # fmt: skip
    if response.status_code == 200 and request.method == "GET":
        _count_view(found.id)
    return response


@bp.get("/popular")
def popular() -> Response:
    window = request.args.get("window", "7d")
    if window not in popularity.WINDOWS:
        abort(404)
    ids = ranked_ids(window, settings().site.page_size)
    rows = popularity.posts_by_ids(get_session(), ids)
    feeds = url_for("feeds.site_feed", kind="popular", fmt="atom")[: -len(".atom")]
    return _page_response(
        "popular.html", rows, posts=rows, window=window, windows=WINDOW_LABELS,
        canonical=_canonical("site.popular", window=window),
        feed_scopes=[(f"Popular posts, {WINDOW_LABELS[window].lower()}", feeds)],
        feed_query=f"?window={window}",
    )  # fmt: skip


@bp.get("/sources/<int:source_id>")
def source(source_id: int) -> Response:
    found = get_session().get(Source, source_id)
    if found is None:
        abort(404)
    feeds = url_for("feeds.source_feed", source_id=source_id, fmt="atom")[: -len(".atom")]
    return _listing("source.html", "site.source", {"source_id": source_id},
                    feed_scopes=[(found.display_title, feeds)], source=found)  # fmt: skip


@bp.get("/tags/<slug:tag_slug>")
def tag(tag_slug: str) -> Response:
    found = tag_by_slug(get_session(), tag_slug)
    if found is None:
        abort(404)
    feeds = url_for("feeds.tag_feed", tag_slug=tag_slug, fmt="atom")[: -len(".atom")]
    return _listing("tag.html", "site.tag", {"tag_slug": tag_slug},
                    feed_scopes=[(f"Posts tagged {found.name}", feeds)], tag=found)  # fmt: skip


def _listing(
    template: str,
    endpoint: str,
    scope: dict[str, Any],
    feed_scopes: list[tuple[str, str]] | None,
    **context: Any,
) -> Response:
    """A page of posts, newest first, optionally of one source or tag."""
    page = page_arg()
    size = settings().site.page_size
    rows = latest_posts(get_session(), size + 1, (page - 1) * size, **scope)
    if page > 1 and not rows:
        abort(404)
    if feed_scopes is not None:
        context["feed_scopes"] = feed_scopes
    return _page_response(
        template, rows[:size], posts=rows[:size], page=page, has_more=len(rows) > size,
        canonical=_canonical(endpoint, page=page if page > 1 else None, **scope), **context,
    )  # fmt: skip


def _canonical(endpoint: str, **values: Any) -> str:
    """The page's address under BASE_URL, whatever host the request came by."""
    return settings().site.base_url + url_for(endpoint, **values)


def _feed_scopes(found: Post) -> list[tuple[str, str]]:
    """A post page matches the site's feed, its source's and its tags'."""
    site = url_for("feeds.site_feed", kind="posts", fmt="atom")[: -len(".atom")]
    scopes = [(settings().site.title, site)]
    if found.source is not None:
        path = url_for("feeds.source_feed", source_id=found.source.id, fmt="atom")
        scopes.append((found.source.display_title, path[: -len(".atom")]))
    for each in found.tags:
        path = url_for("feeds.tag_feed", tag_slug=each.slug, fmt="atom")
        scopes.append((f"Posts tagged {each.name}", path[: -len(".atom")]))
    return scopes


def _page_response(template: str, shown: list[Post] | Any, **context: Any) -> Response:
    """Render, then validators: ETag of the bytes, Last-Modified of the newest post shown."""
    response = Response(render_template(template, **context), content_type="text/html")
    response.last_modified = max((p.modified_at for p in shown), default=EPOCH)
    response.add_etag()
    response.cache_control.no_cache = True  # may be stored, but revalidated each time
    return response.make_conditional(request)


def _count_view(post_id: int) -> None:
    """A GET answered 200, from a person: count it (once per address and day)."""
    if popularity.is_bot(request.headers.get("User-Agent", "")):
        return
    today = current_time().date()
    visitor = popularity.visitor_id(settings().secret_key, today, client_address())
    with get_db().session() as session:
        popularity.record_view(session, post_id, visitor, today)


@bp.get("/sources.opml")
def opml() -> Response:
    """The sources as an OPML 2.0 subscription list (the blogroll)."""
    from feedsvc.blogroll import blogroll
    from feedsvc.opml import render_opml

    body = render_opml(settings().site.title + " sources", blogroll(get_session()), current_time())
    response = Response(body, content_type="text/x-opml; charset=utf-8")
    response.add_etag()
    return response.make_conditional(request)
