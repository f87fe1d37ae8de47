"""The admin's comment pages: the moderation queue with bulk actions, and one
post's comments with the admin's replies and the open/closed switch. Thin:
every rule is feedsvc/comments.py's."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from feedsvc import comments
from feedsvc.errors import FeedsvcError
from feedsvc.models import Post
from feedsvc.vocabulary import CommentState
from feedsvc.web.auth import admins_only, local_target
from feedsvc.web.context import current_time, get_or_404, get_session, html_page, page_arg, settings

bp = Blueprint("moderation", __name__, url_prefix="/admin")

PAGE_SIZE = 50
# What the queue shows, by its `state` argument; "all" is every state.
STATES = ("pending", "approved", "spam", "all")
DONE = {"approve": "Approved", "spam": "Marked as spam", "delete": "Deleted"}


admins_only(bp)


@bp.get("/comments")
def queue() -> Response:
    state = request.args.get("state", "pending")
    if state not in STATES:
        abort(400, description=f"state must be one of {', '.join(STATES)}")
    page = page_arg()
    rows = comments.listed(
        get_session(), state=None if state == "all" else CommentState(state),
        limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE,
    )  # fmt: skip
    return html_page("admin/comments.html", rows=rows[:PAGE_SIZE], state=state, states=STATES,
                     page=page, has_more=len(rows) > PAGE_SIZE,
                     pending=comments.count_pending(get_session()))  # fmt: skip


@bp.post("/comments")
def bulk() -> Response:
    """Approve, mark as spam or delete the ticked comments, then back where it was."""
    action = request.form.get("action", "")
    back = local_target(request.form.get("back"), url_for("moderation.queue"))
    if action not in comments.ACTIONS:
        flash("Choose approve, spam or delete.", "error")
        return redirect(back)
    ids = [int(raw) for raw in request.form.getlist("ids") if raw.isdigit() and len(raw) < 12]
    if not ids:
        flash("Tick the comments to act on first.", "error")
        return redirect(back)
    done = comments.ACTIONS[action](get_session(), ids, current_time())
    flash(f"{DONE[action]}: {done} comment{'' if done == 1 else 's'}.")
    return redirect(back)


@bp.get("/posts/<int:post_id>/comments")
def post_comments(post_id: int) -> Response:
    return _post_page(get_or_404(Post, post_id))


def _post_page(post: Post, error: FeedsvcError | None = None,
               form: dict[str, str] | None = None) -> Response:  # fmt: skip
    session = get_session()
    rows = comments.listed(session, post_id=post.id, limit=1000)
    is_open = comments.comments_open(post, settings().comments, current_time())
    return html_page("admin/post_comments.html", status=400 if error else 200, post=post,
                     rows=rows, comments_open=is_open, error=error, form=form or {})  # fmt: skip


@bp.post("/posts/<int:post_id>/comments")
def reply(post_id: int) -> Response:
    """An admin's comment on the post, or reply to one: shown at once, marked as the author's."""
    post = get_or_404(Post, post_id)
    form = {name: request.form.get(name, "") for name in ("body", "parent_id")}
    app_settings = settings()
    try:
        made = comments.admin_reply(
            get_session(), post.id, form["body"], secret=app_settings.secret_key,
            now=current_time(), parent_id=comments.parent_of(form["parent_id"]),
            name=app_settings.site.author,
        )  # fmt: skip
    except FeedsvcError as exc:
        return _post_page(post, exc, form)
    flash("Your reply is on the post.")
    return redirect(url_for("moderation.post_comments", post_id=post.id) + f"#c{made.id}")


@bp.post("/posts/<int:post_id>/comments/closed")
def closed(post_id: int) -> Response:
    post = get_or_404(Post, post_id)
    shut = request.form.get("closed") == "1"
    comments.set_closed(get_session(), post.id, shut, current_time())
    flash("Comments closed on this post." if shut else "Comments open on this post.")
    return redirect(url_for("moderation.post_comments", post_id=post.id))
