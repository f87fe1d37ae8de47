"""Published feeds: /feeds/posts.atom, .rss and .json."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, current_app, request

from feedsvc.posts import latest_posts
from feedsvc.publish import feeds
from feedsvc.publish.catalog import feed_entries
from feedsvc.web import get_session

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@bp.get("/posts.<fmt>")
def posts(fmt: str) -> Response:
    if fmt not in feeds.FORMATS:
        abort(404)
    cfg = current_app.config
    base = cfg["BASE_URL"]
    rows = latest_posts(get_session(), cfg["FEED_PAGE_SIZE"])
    updated = max((post.modified_at for post in rows), default=EPOCH)
    spec = feeds.FeedSpec(
        id=f"{base}/feeds/posts",
        title=cfg["SITE_TITLE"],
        subtitle=cfg["SITE_DESCRIPTION"],
        self_url=request.url,
        alternate_url=base + "/",
        updated=updated,
        author=cfg["SITE_AUTHOR"],
    )
    body = feeds.render(fmt, spec, feed_entries(rows, base, full=True))
    response = Response(body, content_type=feeds.CONTENT_TYPES[fmt])
    response.last_modified = updated
    response.add_etag()
    response.cache_control.public = True
    response.cache_control.max_age = cfg["FEED_MAX_AGE"]
    return response.make_conditional(request)
