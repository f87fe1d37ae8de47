"""The pages people read: index, post, popular, source and tag pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from feedsvc import changes, comments, fields, popularity, search, sitemap
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.models import Post, Source
from feedsvc.posts import (
    also_reported_by,
    author_name,
    get_visible_post,
    latest_posts,
    neighbours,
)
from feedsvc.publish.service import DATE_BOUNDS, EPOCH, BadFeedRequest, date_bounds
from feedsvc.settings import EXTENSION as SETTINGS
from feedsvc.tags import tag_by_slug
from feedsvc.vocabulary import CommentState
from feedsvc.web.auth import csrf
from feedsvc.web.context import (
    client_address,
    current_time,
    found_or_404,
    get_db,
    get_or_404,
    get_session,
    page_arg,
    popular_ranking,
    settings,
)
from feedsvc.web.feeds import VERSION
from feedsvc.web.sidebar import TimedCache

bp = Blueprint("site", __name__)
LIMITER = "feedsvc.comment_limiter"
COMMENT_LISTS = "feedsvc.comment_lists"
COMMENT_LIST_SECONDS = 600
# What the comment form's errors answer, by kind.
COMMENT_STATUS = {ErrorKind.NOT_FOUND: 404, ErrorKind.CONFLICT: 403}

WINDOW_LABELS = {"7d": "Last 7 days", "30d": "Last 30 days", "all": "All time",
                 "trending": "Trending"}  # fmt: skip


@bp.get("/")
def index() -> Response:
    return _listing("index.html", "site.index", {}, None)


@bp.get("/posts/<int:post_id>")
@bp.get("/posts/<int:post_id>-<slug>")
def post(post_id: int, slug: str | None = None) -> Response:
    session = get_session()
    found = found_or_404(get_visible_post(session, post_id))
    if slug != found.slug:
        # The comment form's arguments (reply, comment) survive the move.
        kept: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("reply", "comment")}
        return redirect(url_for("site.post", post_id=found.id, slug=found.slug, **kept), 301)
    response = _post_page(found, _reply_to(request.args.get("reply")))
    if response.status_code == 200 and request.method == "GET":
        _count_view(found.id)
    return response


def _post_page(
    found: Post,
    reply_to: int | None = None,
    form: dict[str, str] | None = None,
    error: FeedsvcError | None = None,
) -> Response:
    """The post, its comments and the comment form (given back filled in, with
    the error, when a comment was not taken). Reads no session: the form's
    token is signed, not a session's."""
    session, app_settings, now = get_session(), settings(), current_time()
    older, newer = neighbours(session, found)
    is_open = comments.comments_open(found, app_settings.comments, now)
    replying = comments.reply_target(session, found.id, reply_to) if reply_to else None
    token = comments.form_token(app_settings.secret_key, found.id, now, app_settings.comments)
    response = _page_response(
        "post.html", [found], post=found, older=older, newer=newer,
        also_reported_by=also_reported_by(session, [found.id]).get(found.id, []),
        canonical=_canonical("site.post", post_id=found.id, slug=found.slug),
        feed_scopes=_feed_scopes(found), comment_list=_comment_list(found, is_open),
        comments_open=is_open, comment_token=token if is_open else None, replying=replying,
        comment_form=form or {}, comment_error=error,
        posted=request.args.get("comment") if error is None else None,
    )  # fmt: skip
    if error is not None:
        response.status_code = _comment_status(error)
        if isinstance(error, comments.RateLimited):
            response.headers["Retry-After"] = str(error.retry_after)
    return response


def _comment_list(found: Post, is_open: bool) -> Markup:
    """The post's approved comments as HTML, rendered once per change of them
    in each process: a page may show hundreds, and is rendered per request."""
    reader: changes.VersionReader = current_app.extensions[VERSION]
    (version,) = reader.read_many((changes.post_comments_scope(found.id),))

    def render() -> Markup:
        threads = comments.threads(get_session(), found.id)
        return Markup(render_template("_comment_list.html", post=found, threads=threads,
                                      comments_open=is_open))  # fmt: skip

    key = (found.id, found.slug, version, is_open)
    rendered: Markup = current_app.extensions[COMMENT_LISTS].get(key, render)
    return rendered


def _reply_to(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 12 else None


def _comment_status(error: FeedsvcError) -> int:
    if isinstance(error, comments.RateLimited):
        return 429
    return COMMENT_STATUS.get(error.kind, 400)


@bp.post("/posts/<int:post_id>/comments")
@csrf.exempt  # public: the form's own signed token stands in for a session's
def comment(post_id: int) -> Response:
    """The comment form's target: taken (shown, or awaiting moderation), or
    the post page again with the form as sent and what to correct."""
    session = get_session()
    found = found_or_404(get_visible_post(session, post_id))
    form = {name: request.form.get(name, "") for name in ("name", "website", "body", "parent_id")}
    app_settings = settings()
    try:
        made = comments.submit(
            session,
            comments.Submission(
                post_id=found.id, name=form["name"], website=form["website"], body=form["body"],
                token=request.form.get("token", ""),
                parent_id=comments.parent_of(form["parent_id"]),
                honeypot=request.form.get("email", ""), address=client_address(),
                user_agent=request.headers.get("User-Agent", ""),
            ),
            settings=app_settings.comments, secret=app_settings.secret_key,
            limiter=current_app.extensions[LIMITER], now=current_time(),
        )  # fmt: skip
    except FeedsvcError as exc:
        return _post_page(found, _reply_to(form["parent_id"].strip()), form, exc)
    shown = made.state == CommentState.APPROVED
    target = url_for("site.post", post_id=found.id, slug=found.slug,
                     comment=made.id if shown else "pending")  # fmt: skip
    return redirect(target + (f"#comment-{made.id}" if shown else "#comment-form"), 303)


def init(app: Flask) -> None:
    app_settings = app.extensions[SETTINGS]
    # Keyed by the post's comment version: never stale, only dropped when idle.
    app.extensions[COMMENT_LISTS] = TimedCache(COMMENT_LIST_SECONDS)
    app.extensions[LIMITER] = comments.CommentLimiter.configured(
        app_settings.auth.rate_limit_storage, app.extensions["feedsvc.db"],
        app_settings.comments.rate_limit,
    )  # fmt: skip


@bp.get("/popular")
def popular() -> Response:
    window = request.args.get("window", "7d")
    if window not in popularity.WINDOWS:
        abort(404)
    ids = popular_ranking(window).post_ids[: settings().site.page_size]
    rows = popularity.posts_by_ids(get_session(), ids)
    feeds = _feed_path("feeds.site_feed", kind="popular")
    return _page_response(
        "popular.html", rows, posts=rows, window=window, windows=WINDOW_LABELS,
        canonical=_canonical("site.popular", window=window),
        feed_scopes=[(f"Popular posts, {WINDOW_LABELS[window].lower()}", feeds)],
        feed_query=f"?window={window}",
    )  # fmt: skip


@bp.get("/sources/<int:source_id>")
def source(source_id: int) -> Response:
    found = get_or_404(Source, source_id)
    return _listing("source.html", "site.source", {"source_id": source_id},
                    (found.display_title, "feeds.source_feed"), source=found)  # fmt: skip


@bp.get("/tags/<slug:tag_slug>")
def tag(tag_slug: str) -> Response:
    found = found_or_404(tag_by_slug(get_session(), tag_slug))
    return _listing("tag.html", "site.tag", {"tag_slug": tag_slug},
                    (f"Posts tagged {found.name}", "feeds.tag_feed"), tag=found)  # fmt: skip


@bp.get("/authors/<slug:author_slug>")
def author(author_slug: str) -> Response:
    name = found_or_404(author_name(get_session(), author_slug))
    return _listing("author.html", "site.author", {"author_slug": author_slug},
                    (f"Posts by {name}", "feeds.author_feed"), author=name)  # fmt: skip


@bp.get("/search")
def search_page() -> Response:
    """Ranked results with snippets; Blogger's /search?q= too. No query: the form alone."""
    typed = " ".join(request.args.get("q", "").split())
    if not typed and any(request.args.get(name) for name in DATE_BOUNDS):
        return _between_dates()
    page = page_arg()
    size = settings().site.page_size
    hits: list[search.Hit] = []
    has_more = False
    if typed:
        found = search.search(get_session(), typed, settings().site.language, size,
                              (page - 1) * size)  # fmt: skip
        if page > 1 and not found.hits:
            abort(404)
        hits, has_more = found.hits, found.has_more
    feeds = _feed_path("feeds.site_feed", kind="search")
    query = "?" + urlencode({"q": typed})
    return _page_response(
        "search.html", [hit.post for hit in hits], hits=hits, search_query=typed, page=page,
        has_more=has_more, pager_args={"q": typed},
        canonical=_canonical("site.search_page", q=typed or None, page=page if page > 1 else None),
        **({"feed_scopes": [(f"Search: {typed}", feeds)], "feed_query": query} if typed else {}),
    )  # fmt: skip


def _between_dates() -> Response:
    """Blogger's "Older posts" address, /search?updated-max=…: posts between the dates."""
    try:
        bounds = date_bounds(request.args)
    except BadFeedRequest as exc:
        abort(400, description=str(exc))
    page = page_arg()
    size = settings().site.page_size
    rows = latest_posts(get_session(), size + 1, (page - 1) * size, bounds=bounds)
    if page > 1 and not rows:
        abort(404)
    kept = {name: request.args[name] for name in DATE_BOUNDS if request.args.get(name)}
    return _page_response(
        "between.html", rows[:size], posts=rows[:size], page=page, has_more=len(rows) > size,
        pager_args=kept, canonical=_canonical("site.search_page", **kept),
    )  # fmt: skip


@bp.get("/sitemap.xml")
def sitemap_index() -> Response:
    body = sitemap.render_index(settings().site.base_url, sitemap.part_count(get_session()))
    return _plain(body, "application/xml; charset=utf-8")


@bp.get("/sitemap-<int:part>.xml")
def sitemap_part(part: int) -> Response:
    posts = sitemap.part_posts(get_session(), part)
    if posts is None:
        abort(404)
    return _plain(sitemap.render_part(settings().site.base_url, posts),
                  "application/xml; charset=utf-8")  # fmt: skip


@bp.get("/robots.txt")
def robots() -> Response:
    return _plain(sitemap.robots_txt(settings().site.base_url), "text/plain; charset=utf-8")


def _plain(body: bytes | str, content_type: str) -> Response:
    response = Response(body, content_type=content_type)
    response.add_etag()
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response.make_conditional(request)


@bp.get("/search/label/<path:label>")
def blogger_label(label: str) -> Response:
    """Blogger's label page: the tag's page here."""
    slug = fields.tag_slug(label)
    if not slug:
        abort(404)
    return redirect(url_for("site.tag", tag_slug=slug), 301)


def _listing(
    template: str,
    endpoint: str,
    scope: dict[str, Any],
    feed: tuple[str, str] | None,
    **context: Any,
) -> Response:
    """A page of posts, newest first, optionally of one source, tag or author
    (`scope`); `feed` is the title and endpoint of that scope's feed."""
    page = page_arg()
    size = settings().site.page_size
    rows = latest_posts(get_session(), size + 1, (page - 1) * size, **scope)
    if page > 1 and not rows:
        abort(404)
    if feed is not None:
        title, feed_endpoint = feed
        context["feed_scopes"] = [(title, _feed_path(feed_endpoint, **scope))]
    return _page_response(
        template, rows[:size], posts=rows[:size], page=page, has_more=len(rows) > size,
        canonical=_canonical(endpoint, page=page if page > 1 else None, **scope), **context,
    )  # fmt: skip


def _canonical(endpoint: str, **values: Any) -> str:
    """The page's address under BASE_URL, whatever host the request came by."""
    return settings().site.base_url + url_for(endpoint, **values)


def _feed_path(endpoint: str, **values: Any) -> str:
    """A feed's path without its format: the templates add .atom, .rss and .json."""
    return url_for(endpoint, fmt="atom", **values)[: -len(".atom")]


def _feed_scopes(found: Post) -> list[tuple[str, str]]:
    """A post page matches the site's feed, its source's and its tags'."""
    scopes = [(settings().site.title, _feed_path("feeds.site_feed", kind="posts"))]
    if found.source is not None:
        source_feed = _feed_path("feeds.source_feed", source_id=found.source.id)
        scopes.append((found.source.display_title, source_feed))
    for each in found.tags:
        tag_feed = _feed_path("feeds.tag_feed", tag_slug=each.slug)
        scopes.append((f"Posts tagged {each.name}", tag_feed))
    comments_feed = _feed_path("feeds.post_comments_feed", post_id=found.id)
    scopes.append((f"Comments on {found.title}", comments_feed))
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
