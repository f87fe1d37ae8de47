"""Which feeds exist, what each contains, and their addresses.

A `FeedRequest` names one page of one feed in one format. `build_feed` turns it
into bytes; the web layer and the static publisher both go through here, so a
feed reads the same wherever it is served from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from sqlalchemy import func
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.sql import Select

from feedsvc import comments, fields, popularity, search
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.models import Post, Source, Tag, post_tags
from feedsvc.params import MAX_PAGE, BadParameter, whole_number
from feedsvc.posts import (
    also_reported_by,
    author_name,
    get_visible_post,
    post_path,
    visible_posts,
    within,
)
from feedsvc.publish import blogger, feeds
from feedsvc.publish.catalog import (
    comment_entry,
    comment_feed_path,
    feed_entries,
    podcast_of,
    with_proxied_images,
)
from feedsvc.settings import Settings
from feedsvc.tags import tag_by_slug

POSTS = "posts"
SUMMARY = "summary"
POPULAR = "popular"
SOURCE = "source"
TAG = "tag"
SEARCH = "search"
AUTHOR = "author"
# Approved comments: all the site's, and one post's.
COMMENTS = "comments"
POST_COMMENTS = "post_comments"
COMMENT_KINDS = (COMMENTS, POST_COMMENTS)
# Blogger's orderby values; published (newest first) is ours by default.
ORDERS = ("published", "updated")
# Blogger's date bounds: the min inclusive, the max exclusive.
DATE_BOUNDS = ("published-min", "published-max", "updated-min", "updated-max")
WINDOWS = popularity.WINDOWS
DEFAULT_WINDOW = "7d"
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

NATIVE = "native"
BLOGGER = "blogger"
# `page=last`: counting a big archive is slow, so only a request for the last
# page pays for it, not every render of the first.
LAST_PAGE = -1


class FeedNotFound(FeedsvcError):
    """No such feed or page."""

    kind = ErrorKind.NOT_FOUND


class BadFeedRequest(FeedsvcError):
    """A parameter is out of range; the message says which and why."""


@dataclass(frozen=True)
class FeedRequest:
    kind: str
    fmt: str
    limit: int
    page: int = 1
    source_id: int | None = None
    tag_slug: str | None = None
    window: str = DEFAULT_WINDOW
    # Blogger-compatible addresses page with start-index/max-results and alt=.
    style: str = NATIVE
    blogger_label: str | None = None
    author_slug: str | None = None
    post_id: int | None = None
    # Narrowed: what was searched for (`q`), Blogger's date bounds, and order.
    query: str = ""
    bounds: tuple[tuple[str, dt.datetime], ...] = ()
    orderby: str = "published"
    # alt=json-in-script's function name (publish/blogger.py checks it).
    callback: str | None = None

    @property
    def narrowing(self) -> dict[str, str]:
        """The parameters that narrow the feed, as its addresses carry them."""
        found = {"q": self.query} if self.query else {}
        found.update((name, feeds.rfc3339(when)) for name, when in self.bounds)
        if self.orderby != "published":
            found["orderby"] = self.orderby
        return found


@dataclass(frozen=True)
class BuiltFeed:
    body: bytes
    last_modified: dt.datetime


def parse_request(
    kind: str,
    fmt: str,
    args: Mapping[str, str],
    settings: Settings,
    **scope: Any,
) -> FeedRequest:
    """Validate the query parameters of a native feed address.

    Bad values are refused, never clamped: a reader asking for 500 items should
    learn that it gets at most 100, not silently miss the rest.
    """
    limit = _int_param(args, "limit", settings.feeds.page_size, 1, settings.feeds.max_page_size)
    page = LAST_PAGE if args.get("page") == "last" else _int_param(args, "page", 1, 1, MAX_PAGE)
    window = args.get("window", DEFAULT_WINDOW)
    if kind == POPULAR:
        if window not in WINDOWS:
            raise BadFeedRequest(f"window must be one of {', '.join(WINDOWS)}")
        if page != 1:
            raise BadFeedRequest("the popular feed has one page; use limit")
    else:
        window = DEFAULT_WINDOW
    narrowed = _narrowing(kind, args)
    return FeedRequest(kind=kind, fmt=fmt, limit=limit, page=page, window=window, **narrowed,
                       **scope)  # fmt: skip


def _narrowing(kind: str, args: Mapping[str, str]) -> dict[str, Any]:
    """`q`, Blogger's date bounds (RFC 3339) and `orderby`, for every feed of posts."""
    query = " ".join(args.get("q", "").split())
    if kind == SEARCH and not query:
        raise BadFeedRequest("q: say what to search for")
    bounds = date_bounds(args)
    orderby = args.get("orderby") or "published"
    if orderby not in ORDERS:
        raise BadFeedRequest("orderby must be published or updated")
    if kind == POPULAR and (query or bounds or orderby != "published"):
        raise BadFeedRequest("the popular feed is ranked by views: it takes no q, dates or orderby")
    if kind in COMMENT_KINDS and (query or bounds or orderby != "published"):
        raise BadFeedRequest("comment feeds take no q, dates or orderby")
    if len(query) > MAX_QUERY:
        raise BadFeedRequest(f"q must be at most {MAX_QUERY} characters")
    return {"query": query, "bounds": bounds, "orderby": orderby}


MAX_QUERY = 256


def date_bounds(args: Mapping[str, str]) -> tuple[tuple[str, dt.datetime], ...]:
    """Blogger's published-min/max and updated-min/max given, as (name, time)."""
    return tuple((name, _date_time(args[name], name)) for name in DATE_BOUNDS if args.get(name))


def _date_time(raw: str, name: str) -> dt.datetime:
    """An RFC 3339 date-time (UTC when it names no offset), or a date (its midnight, UTC)."""
    try:
        if len(raw) > 40:
            raise ValueError(raw)
        value = dt.datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise BadFeedRequest(f"{name} must be an RFC 3339 date-time such as "
                             "2026-01-31T00:00:00Z") from None  # fmt: skip
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if not 1900 <= value.astimezone(dt.UTC).year <= 9000:
        raise BadFeedRequest(f"{name} must fall between the years 1900 and 9000")
    return value.astimezone(dt.UTC)


def parse_blogger_request(
    kind: str,
    args: Mapping[str, str],
    settings: Settings,
    label: str | None = None,
    post_id: int | None = None,
) -> FeedRequest:
    """Blogger's parameters: alt, start-index (1-based) and max-results.

    Like Blogger, max-results above the cap is clamped to it, since Blogger
    widgets ask for more than any page holds; start-index must fall on a page
    boundary of the chosen size, and within the pages any listing serves.
    """
    alt = args.get("alt", "atom")
    fmt = BLOGGER_ALTS.get(alt)
    if fmt is None:
        raise BadFeedRequest("alt must be atom, rss, json or json-in-script")
    callback = args.get("callback") if fmt == blogger.SCRIPT else None
    if callback is not None:
        try:
            blogger.check_callback(callback)
        except blogger.UnsafeCallback as exc:
            raise BadFeedRequest(str(exc)) from None
    cap = settings.feeds.max_page_size
    limit = min(_int_param(args, "max-results", settings.feeds.page_size, 1, MAX_PAGE), cap)
    start = _int_param(args, "start-index", 1, 1, MAX_PAGE * cap)
    if (start - 1) % limit:
        raise BadFeedRequest(f"start-index must be 1 more than a multiple of max-results ({limit})")
    return FeedRequest(
        kind=kind,
        fmt=fmt,
        limit=limit,
        page=(start - 1) // limit + 1,
        tag_slug=fields.tag_slug(label) if label is not None else None,
        style=BLOGGER,
        blogger_label=label,
        callback=callback,
        post_id=post_id,
        **_narrowing(kind, args),
    )


# Blogger's alt= values; alt=json is Blogger's own JSON (JSON Feed is at .json).
BLOGGER_ALTS = {"atom": feeds.ATOM, "rss": feeds.RSS, "json": blogger.JSON,
                "json-in-script": blogger.SCRIPT}  # fmt: skip
ALT_OF = {fmt: alt for alt, fmt in BLOGGER_ALTS.items()}


def _int_param(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    try:
        return whole_number(args, name, default, low, high)
    except BadParameter as exc:
        raise BadFeedRequest(str(exc)) from None


# --- addresses ---------------------------------------------------------------


def feed_path(req: FeedRequest) -> str:
    """The path of the feed, without format suffix or query."""
    scoped = _scope_path(req)
    if scoped is not None:
        return "/feeds" + scoped
    if req.kind == POST_COMMENTS:
        return comment_feed_path(req.post_id or 0)
    return f"/feeds/{req.kind}"


def _scope_path(req: FeedRequest) -> str | None:
    """A source's, a tag's or an author's path: of its page, and below /feeds of its feed."""
    if req.kind == SOURCE:
        return f"/sources/{req.source_id}"
    if req.kind == TAG:
        return f"/tags/{quote(req.tag_slug or '')}"
    if req.kind == AUTHOR:
        return f"/authors/{quote(req.author_slug or '')}"
    return None


def _blogger_path(req: FeedRequest) -> str:
    if req.kind == COMMENTS:
        return "/feeds/comments/default"
    if req.kind == POST_COMMENTS:
        return f"/feeds/{req.post_id}/comments/default"
    path = "/feeds/posts/default" if req.kind == POSTS else "/feeds/posts/summary"
    if req.blogger_label is not None:
        path += "/-/" + quote(req.blogger_label)
    return path


def feed_url(req: FeedRequest, base: str, settings: Settings, page: int | None = None) -> str:
    """The address of one page of the feed, in the style it was asked for."""
    page = req.page if page is None else page
    if req.style == BLOGGER:
        path = _blogger_path(req)
        params: dict[str, object] = dict(req.narrowing)
        if req.fmt != feeds.ATOM:
            params["alt"] = ALT_OF[req.fmt]
        if req.callback is not None:
            params["callback"] = req.callback
        if page != 1:
            params["start-index"] = (page - 1) * req.limit + 1
        if req.limit != settings.feeds.page_size or page != 1:
            params["max-results"] = req.limit
        return base + path + _query(params)
    params = dict(req.narrowing)
    # The default window unsaid: /feeds/popular.atom's self link is its own address.
    if req.kind == POPULAR and req.window != DEFAULT_WINDOW:
        params["window"] = req.window
    if page != 1:
        params["page"] = "last" if page == LAST_PAGE else page
    if req.limit != settings.feeds.page_size:
        params["limit"] = req.limit
    return f"{base}{feed_path(req)}.{req.fmt}{_query(params)}"


def _query(params: Mapping[str, object]) -> str:
    # Colons kept as typed (RFC 3986 allows them in a query): a Blogger
    # published-min=2026-11-20T00:00:00Z is named by the same address.
    return "?" + urlencode(params, safe=":") if params else ""


def alternate_url(req: FeedRequest, base: str) -> str:
    scoped = _scope_path(req)
    if scoped is not None:
        return base + scoped
    if req.kind == POPULAR:
        return f"{base}/popular?window={req.window}"
    if req.kind == SEARCH:
        return f"{base}/search{_query({'q': req.query})}"
    return base + "/"


# --- contents ----------------------------------------------------------------


def build_feed(
    session: Session, req: FeedRequest, settings: Settings, now: dt.datetime
) -> BuiltFeed:
    if req.kind in COMMENT_KINDS:
        return _build_comment_feed(session, req, settings)
    base = settings.site.base_url
    title, subtitle = _describe(session, req, settings)
    if req.page == LAST_PAGE:
        total = count_posts(session, req, settings.site.language)
        req = replace(req, page=max(1, -(-total // req.limit)))
    if req.kind == POPULAR:
        rows, has_next = popular_posts(session, req.window, req.limit, now, settings), False
    else:
        offset = (req.page - 1) * req.limit
        scoped = _scoped(session, req, settings.site.language)
        found = session.scalars(scoped.limit(req.limit + 1).offset(offset)).unique().all()
        if req.page > 1 and not found:
            raise FeedNotFound(f"page {req.page} is past the end of this feed")
        rows, has_next = found[: req.limit], len(found) > req.limit
    updated = max((post.modified_at for post in rows), default=EPOCH)
    if req.kind == POPULAR:
        # The ranking moves without any post changing.
        updated = now.replace(microsecond=0)
    # A Blogger label feed is the tag's feed under another address: one id.
    native = replace(req, style=NATIVE, kind=TAG if req.blogger_label is not None else req.kind)
    narrowed = _query(native.narrowing)
    spec = _spec(
        req,
        settings,
        base + feed_path(native) + narrowed,
        (title, subtitle),
        alternate_url(req, base),
        updated,
        has_next,
        podcast=_podcast(session, req),
    )
    full = req.kind in (POSTS, SOURCE, TAG, SEARCH, AUTHOR)
    duplicates = also_reported_by(session, [post.id for post in rows])
    entries = feed_entries(rows, base, full=full, duplicates=duplicates)
    if settings.images.enabled and settings.images.in_feeds:
        entries = with_proxied_images(entries, base, settings.secret_key)
    return _rendered(req, spec, entries, lambda: count_posts(session, req, settings.site.language))


def _build_comment_feed(session: Session, req: FeedRequest, settings: Settings) -> BuiltFeed:
    """Approved comments, newest first: the site's, or one visible post's."""
    base = settings.site.base_url
    site = settings.site.title
    post = None
    if req.kind == POST_COMMENTS:
        post = get_visible_post(session, req.post_id or 0)
        if post is None:
            raise FeedNotFound(f"no post with id {req.post_id}")
    if req.page == LAST_PAGE:
        total = comments.count_feed_comments(session, req.post_id)
        req = replace(req, page=max(1, -(-total // req.limit)))
    found = comments.feed_comments(session, req.limit + 1, (req.page - 1) * req.limit,
                                   req.post_id)  # fmt: skip
    if req.page > 1 and not found:
        raise FeedNotFound(f"page {req.page} is past the end of this feed")
    rows, has_next = found[: req.limit], len(found) > req.limit
    if post is not None:
        title, subtitle = f"Comments on “{post.title}” — {site}", f"Comments on {post.title}"
        alternate = f"{base}{post_path(post)}#comments"
    else:
        title, subtitle, alternate = f"Comments — {site}", f"Comments on {site}", base + "/"
    # An empty feed dates from its post (or the epoch): never from the clock,
    # so its bytes and ETag hold still.
    updated = max((c.created_at for c in rows), default=post.published_at if post else EPOCH)
    spec = _spec(
        req,
        settings,
        base + feed_path(replace(req, style=NATIVE)),
        (title, subtitle),
        alternate,
        updated,
        has_next,
    )
    entries = [comment_entry(comment, base) for comment in rows]
    return _rendered(req, spec, entries, lambda: comments.count_feed_comments(session, req.post_id))


def _spec(
    req: FeedRequest,
    settings: Settings,
    feed_id: str,
    titles: tuple[str, str],
    alternate: str,
    updated: dt.datetime,
    has_next: bool,
    podcast: feeds.Podcast | None = None,
) -> feeds.FeedSpec:
    """A feed's description: its own id, titles and page, the site's the rest."""
    base = settings.site.base_url
    return feeds.FeedSpec(
        id=feed_id,
        title=titles[0],
        subtitle=titles[1],
        self_url=feed_url(req, base, settings),
        alternate_url=alternate,
        updated=updated,
        author=settings.site.author,
        language=settings.site.language,
        icon=_absolute(settings.feeds.icon, base),
        logo=_absolute(settings.feeds.logo, base),
        hubs=settings.feeds.websub_hubs,
        paging=_paging(req, base, settings, has_next),
        podcast=podcast,
    )


def _rendered(
    req: FeedRequest,
    spec: feeds.FeedSpec,
    entries: Sequence[feeds.FeedEntry],
    count: Callable[[], int],
) -> BuiltFeed:
    """The feed in its format: Blogger's JSON says how many entries the whole feed holds."""
    if req.fmt in blogger.FORMATS:
        paging = blogger.Paging(count(), (req.page - 1) * req.limit + 1, req.limit)
        doc = blogger.document(spec, entries, paging)
        return BuiltFeed(blogger.render(req.fmt, doc, req.callback), spec.updated)
    return BuiltFeed(feeds.render(req.fmt, spec, entries), spec.updated)


def content_type(fmt: str) -> str:
    return blogger.CONTENT_TYPES.get(fmt) or feeds.CONTENT_TYPES[fmt]


def _describe(session: Session, req: FeedRequest, settings: Settings) -> tuple[str, str]:
    title, subtitle = _describe_scope(session, req, settings)
    if req.query and req.kind != SEARCH:
        return f"{title} · “{req.query}”", f"{subtitle} · matching “{req.query}”"
    return title, subtitle


Found = TypeVar("Found")


def _found(value: Found | None, missing: str) -> Found:
    """The scope's author, source or tag; a feed of one that is not there is a 404."""
    if value is None:
        raise FeedNotFound(missing)
    return value


def _describe_scope(session: Session, req: FeedRequest, settings: Settings) -> tuple[str, str]:
    site = settings.site.title
    if req.kind == SEARCH:
        return f"Search: {req.query} — {site}", f"Posts matching “{req.query}”"
    if req.kind == AUTHOR:
        name = _found(author_name(session, req.author_slug or ""), f"no author {req.author_slug!r}")
        return f"{name} — {site}", f"Posts by {name}"
    if req.kind == SOURCE:
        source = _found(session.get(Source, req.source_id), f"no source with id {req.source_id}")
        name = source.display_title
        return f"{name} — {site}", source.description or f"Posts from {name}"
    if req.kind == TAG:
        tag = _found(tag_by_slug(session, req.tag_slug or ""), f"no tag {req.tag_slug!r}")
        return f"{tag.name} — {site}", f"Posts tagged {tag.name}"
    if req.kind == POPULAR:
        return f"Popular posts ({req.window}) — {site}", f"The most read posts, {req.window}"
    if req.kind == SUMMARY:
        return f"{site} (summaries)", settings.site.description
    return site, settings.site.description


def _podcast(session: Session, req: FeedRequest) -> feeds.Podcast | None:
    """A podcast source's own feed stays a podcast: its channel's iTunes fields."""
    if req.kind != SOURCE:
        return None
    source = session.get(Source, req.source_id)
    return podcast_of(source.itunes) if source is not None and source.itunes else None


def _scoped(session: Session, req: FeedRequest, language: str) -> Select[Any]:
    query = visible_posts().options(joinedload(Post.source), selectinload(Post.tags))
    if req.orderby == "updated":
        query = query.order_by(None).order_by(Post.updated_at.desc(), Post.id.desc())
    if req.query:
        query = query.where(search.matching(session, req.query, language))
    query = within(query, req.bounds)
    if req.kind == AUTHOR:
        query = query.where(Post.author_slug == req.author_slug)
    if req.kind == SOURCE:
        query = query.where(Post.source_id == req.source_id)
    elif req.kind == TAG or req.tag_slug is not None:
        query = (
            query.join(post_tags, post_tags.c.post_id == Post.id)
            .join(Tag, Tag.id == post_tags.c.tag_id)
            .where(Tag.slug == req.tag_slug)
        )
    return query


def _paging(req: FeedRequest, base: str, settings: Settings, has_next: bool) -> dict[str, str]:
    """RFC 5005 section 3 links: first, previous, next, last."""
    if req.kind == POPULAR:
        return {}
    links = {"first": feed_url(req, base, settings, 1)}
    if req.page > 1:
        links["previous"] = feed_url(req, base, settings, req.page - 1)
    if has_next:
        links["next"] = feed_url(req, base, settings, req.page + 1)
    if req.style == NATIVE:
        links["last"] = feed_url(req, base, settings, LAST_PAGE)
    return links


def count_posts(session: Session, req: FeedRequest, language: str) -> int:
    """How many posts the whole feed holds, over all its pages."""
    scoped = _scoped(session, req, language)
    return int(session.scalar(scoped.with_only_columns(func.count(Post.id)).order_by(None)) or 0)


def popular_posts(
    session: Session, window: str, limit: int, now: dt.datetime, settings: Settings
) -> Sequence[Post]:
    """The most viewed posts of the window: the ranking every page shows."""
    ranking = popularity.shared_ranking(session, window, now, settings.popular)
    return popularity.posts_by_ids(session, ranking.post_ids[:limit])


def _absolute(url: str, base: str) -> str | None:
    if not url:
        return None
    return url if "://" in url else base + url
