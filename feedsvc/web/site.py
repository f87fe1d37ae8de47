"""The pages people read: the index and one post."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from feedsvc.posts import get_visible_post, latest_posts
from feedsvc.web import get_session

bp = Blueprint("site", __name__)


@bp.get("/")
def index() -> str:
    page = request.args.get("page", 1, type=int) or 1
    page = max(page, 1)
    size = current_app.config["SITE_PAGE_SIZE"]
    rows = latest_posts(get_session(), size + 1, (page - 1) * size)
    return render_template("index.html", posts=rows[:size], page=page, has_more=len(rows) > size)


@bp.get("/posts/<int:post_id>")
@bp.get("/posts/<int:post_id>-<slug>")
def post(post_id: int, slug: str | None = None) -> str | Response:
    found = get_visible_post(get_session(), post_id)
    if found is None:
        abort(404)
    if slug != found.slug:
        return redirect(url_for("site.post", post_id=found.id, slug=found.slug), 301)
    return render_template("post.html", post=found)
