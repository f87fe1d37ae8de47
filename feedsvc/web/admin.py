"""The admin pages: dashboard, sources, posts, filter rules, OPML, users and tokens.

Plain HTML forms (no script, as the site's CSP demands), each carrying a CSRF
token that Flask-WTF checks. The work is done by the services; these views
parse a form, call one, and render or redirect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import EllipsisType
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    request,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from feedsvc import (
    accounts,
    articles,
    fields,
    heartbeats,
    jobs,
    popularity,
    rules,
    sources,
    stats,
)
from feedsvc import post_list as post_list_service
from feedsvc.discovery import Preview
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.fetch_options import FetchOptionsWanted
from feedsvc.ingest.load import explain_schedule
from feedsvc.models import Job, Post, Source, User
from feedsvc.opml import OpmlError, export_opml, import_parsed, parse_opml
from feedsvc.posts import (
    count_posts,
    create_local_post,
    delete_post,
    preview_html,
    publish_draft,
    search_posts,
    set_visibility,
    update_local_post,
)
from feedsvc.push import store as push_store
from feedsvc.sources import SourceExists
from feedsvc.subscriptions import NeedsChoice, Wanted
from feedsvc.vocabulary import JobKind
from feedsvc.web.auth import admins_only, local_target
from feedsvc.web.charts import bar_chart, daily_totals, sparkline
from feedsvc.web.context import (
    current_time,
    get_or_404,
    get_session,
    html_page,
    page_arg,
    settings,
    undo_changes,
)
from feedsvc.web.forms import (
    INTERVAL_CHOICES,
    interval_fields,
    interval_from,
    pack_preview,
    unpack_preview,
)
from feedsvc.web.problems import STATUS
from feedsvc.web.refresh import find_feed_now, refresh_now, subscribe_now

bp = Blueprint("admin", __name__, url_prefix="/admin")

SPARK_DAYS = 30
PAGE_SIZE = 50


admins_only(bp)


@bp.context_processor
def _worker_banner() -> dict[str, Any]:
    """Every admin page says when no worker runs: sources are then never fetched."""
    stale = settings().worker.heartbeat_stale_seconds
    return {"worker": heartbeats.worker_health(get_session(), current_time(), stale)}


def _tags(raw: str) -> list[str]:
    return fields.check_tags(name for name in raw.split(",") if name.strip())


@bp.get("/")
def dashboard() -> Response:
    session = get_session()
    now = current_time()
    app_settings = settings()
    totals = daily_totals(stats.posts_per_day(session, now.date(), SPARK_DAYS), SPARK_DAYS)
    labels = [(now.date() - dt.timedelta(days=SPARK_DAYS - 1 - i)).isoformat()
              for i in range(SPARK_DAYS)]  # fmt: skip
    ranked = popularity.rank(session, "7d", 10, now, app_settings.popular.half_life_days)
    return html_page(
        "admin/dashboard.html",
        states=stats.state_counts(session),
        post_count=stats.post_count(session),
        failing=stats.sources_with_errors(session),
        chart=bar_chart(totals, labels, f"Posts stored per day, last {SPARK_DAYS} days"),
        popular=popularity.posts_by_ids(session, ranked),
        source_state=sources.source_state,
    )


@bp.get("/sources")
def source_list() -> Response:
    session = get_session()
    wanted = request.args.get("state", "")
    if wanted and wanted not in sources.STATES:
        abort(404)
    rows = sources.list_sources(session, wanted or None)
    # Failing and warning first: those are what an admin opens this page for.
    rows.sort(key=lambda row: sources.attention_order(row[0]))
    per_day = stats.posts_per_day(session, current_time().date(), SPARK_DAYS, published=True)
    lines = {
        source.id: sparkline(per_day.get(source.id, [0] * SPARK_DAYS),
                             label=f"{sum(per_day.get(source.id, []))} posts published "
                                   f"in {SPARK_DAYS} days")
        for source, _ in rows
    }  # fmt: skip
    pushed = push_store.describe_sources(session, [source.id for source, _ in rows], current_time())
    return html_page("admin/sources.html", rows=rows, state=sources.source_state, lines=lines,
                     wanted=wanted, states=sources.STATES, pushed=pushed)  # fmt: skip


@bp.route("/sources/new", methods=["GET", "POST"])
def source_new() -> Response:
    """Step one: a feed's or a site's URL; several feeds found: pick one; one: preview."""
    if request.method == "GET":
        return html_page("admin/source_new.html", url="", form={})
    url = request.form.get("url", "").strip()
    try:
        preview = find_feed_now(url)
    except NeedsChoice as exc:
        return html_page("admin/source_new.html", url=url, candidates=exc.candidates, form={})
    except FeedsvcError as exc:
        return _source_new_failed(url, exc)
    return _preview_page(preview, {"title": preview.title})


def _preview_page(
    preview: Preview, form: Mapping[str, str], error: FeedsvcError | None = None
) -> Response:
    """Step two: the feed previewed, with the form that saves it (as typed, after an error)."""
    return html_page("admin/source_new.html", status=_status(error) if error else 200,
                     url=preview.feed_url, preview=preview, packed=pack_preview(preview),
                     form=form, error=error, choices=INTERVAL_CHOICES,
                     minimum=_min_interval())  # fmt: skip


@bp.post("/sources")
def source_create() -> Response:
    """Step two: save the previewed feed, then fetch it at once. A value refused
    shows the preview again, with everything as typed."""
    form = request.form
    try:
        wanted = Wanted(
            form.get("feed_url", ""), fields.check_text(form.get("title", ""), "title"),
            form.get("site_url") or None,
            _tags(form.get("tags", "")), _interval(form), form.get("mode") or None,
            fetch_full=form.get("fetch_full") == "1",
        )  # fmt: skip
        added = subscribe_now(wanted, check=False)
    except SourceExists as exc:
        return _source_new_failed(form.get("feed_url", ""), exc)
    except FeedsvcError as exc:
        preview = unpack_preview(form.get("preview", ""), form.get("feed_url", ""))
        return _preview_page(preview, form, exc)
    report = added.first_fetch.describe() if added.first_fetch else "not yet"
    flash(f"Added {added.title}. First fetch: {report}.")
    return redirect(url_for("admin.source_detail", source_id=added.source_id))


def _source_new_failed(url: str, error: FeedsvcError) -> Response:
    """The address form again, the reason beside it (a link, if it is a source already)."""
    existing = error.source if isinstance(error, sources.SourceExists) else None
    return html_page("admin/source_new.html", status=_status(error), url=url, error=error,
                     existing=existing, form={})  # fmt: skip


def _status(error: FeedsvcError) -> int:
    return STATUS.get(error.kind, STATUS[ErrorKind.INVALID])[0]


def _min_interval() -> int:
    return settings().ingest.schedule.min_interval


def _interval(form: Mapping[str, str]) -> int | None:
    """The interval chosen (None: adapt to the feed)."""
    chosen = interval_from(form, _min_interval())
    return None if chosen is ... else chosen


def _limit(form: Mapping[str, str], field: str) -> int | EllipsisType | None:
    """A retention limit from the form: empty follows the global setting;
    a form without the field leaves it as it is."""
    if field not in form:
        return ...
    raw = form[field].strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise sources.SourceError(f"{field} is a whole number, 0 or more (0 keeps all)", field)
    return int(raw)


@bp.get("/sources/<int:source_id>")
def source_detail(source_id: int) -> Response:
    return _source_page(get_or_404(Source, source_id))


def _source_page(
    source: Source, error: FeedsvcError | None = None, form: Mapping[str, str] | None = None
) -> Response:
    """The source, and its settings form: as stored, or as typed when `error` refused it."""
    session = get_session()
    per_day = stats.posts_per_day(session, current_time().date(), SPARK_DAYS, source.id,
                                  published=True)  # fmt: skip
    recent, total = search_posts(session, source_id=source.id, limit=10)
    return html_page(
        "admin/source.html", status=_status(error) if error else 200, error=error,
        source=source, state=sources.source_state(source),
        push=push_store.describe_sources(session, [source.id], current_time()).get(source.id),
        history=sources.fetch_history(session, source.id), recent=recent, post_count=total,
        line=sparkline(per_day.get(source.id, [0] * SPARK_DAYS), width=240, height=40,
                       label=f"Posts published per day, last {SPARK_DAYS} days"),
        form=form or _settings_form(source), choices=INTERVAL_CHOICES, minimum=_min_interval(),
        schedule=explain_schedule(session, source, current_time(), settings().ingest.schedule),
    )  # fmt: skip


def _settings_form(source: Source) -> dict[str, str]:
    """A source's settings as its form shows them."""
    return {
        "title": source.title, "site_url": source.site_url or "",
        "tags": ", ".join(tag.name for tag in source.tags), "mode": source.mode,
        "strip_selectors": "\n".join(source.strip_selectors or []),
        "fetch_full": "1" if source.fetch_full else "0",
        "article_selector": source.article_selector or "",
        "keep_categories": "1" if source.keep_categories else "0",
        "category_names": fields.category_lines(source.category_names or {}),
        "retain_days": "" if source.retain_days is None else str(source.retain_days),
        "retain_per_source": ("" if source.retain_per_source is None
                              else str(source.retain_per_source)),
        **interval_fields(source.interval_override),
        # The cookie and the credentials are never shown back, even as typed.
        "user_agent": source.fetch_user_agent or "",
        "headers": "".join(f"{name}: {value}\n" for name, value in source.fetch_headers or ()),
        "ignore_validators": "1" if source.ignore_validators else "0",
    }  # fmt: skip


@bp.post("/sources/<int:source_id>")
def source_update(source_id: int) -> Response:
    session = get_session()
    source = get_or_404(Source, source_id)
    form = request.form
    try:
        sources.update_source(
            session, source, current_time(),
            title=fields.check_text(form.get("title", source.title), "title"),
            site_url=form.get("site_url", source.site_url or ""),
            tags=_tags(form.get("tags", "")),
            interval=interval_from(form, _min_interval()), min_interval=_min_interval(),
            mode=form.get("mode") or None,
            strip_selectors=(form["strip_selectors"].splitlines()
                             if "strip_selectors" in form else None),
            retain_days=_limit(form, "retain_days"),
            retain_per_source=_limit(form, "retain_per_source"),
            fetch_full=_ticked(form, "fetch_full"),
            article_selector=form.get("article_selector"),
            keep_categories=_ticked(form, "keep_categories"),
            category_names=(fields.parse_category_lines(form["category_names"])
                            if "category_names" in form else None),
        )  # fmt: skip
        sources.set_fetch_options(source, _fetch_options(form), settings().secret_key)
    except FeedsvcError as exc:
        undo_changes()
        # A checkbox's last value is its state (to_dict keeps the hidden "0").
        typed = {
            **_settings_form(source),
            **form.to_dict(),
            **{name: form.getlist(name)[-1] for name in CHECKBOXES if name in form},
        }
        return _source_page(source, exc, typed)
    flash("Saved.")
    return redirect(url_for("admin.source_detail", source_id=source_id))


CHECKBOXES = ("fetch_full", "keep_categories", "ignore_validators")


def _ticked(form: Any, name: str) -> bool | None:
    """A checkbox after its hidden "0": unticked sends "0", ticked "0" then "1";
    None when the form has no such field."""
    return form.getlist(name)[-1] == "1" if name in form else None


def _fetch_options(form: Any) -> FetchOptionsWanted:
    """The fetch options of the source form. The cookie and credentials are never
    shown back: left empty they stay, a "remove" box clears them."""
    cookie = form.get("cookie") or None
    if form.get("clear_cookie") == "1":
        cookie = ""
    username, password = form.get("username") or None, form.get("password") or None
    if form.get("clear_credentials") == "1":
        username, password = "", None
    return FetchOptionsWanted(
        user_agent=form.get("user_agent"),
        headers=form["headers"].splitlines() if "headers" in form else None,
        cookie=cookie, username=username, password=password,
        ignore_validators=_ticked(form, "ignore_validators"),
    )  # fmt: skip


@bp.post("/sources/<int:source_id>/pause")
def source_pause(source_id: int) -> Response:
    source = get_or_404(Source, source_id)
    if request.form.get("action") == "resume":
        sources.resume_source(source, current_time())
        flash("Resumed; it will be fetched shortly.")
    else:
        sources.pause_source(source)
        flash("Paused; it will not be fetched until resumed.")
    return redirect(url_for("admin.source_detail", source_id=source_id))


@bp.post("/sources/<int:source_id>/fetch")
def source_fetch(source_id: int) -> Response:
    get_or_404(Source, source_id)
    report = refresh_now(source_id)
    flash(f"Fetched: {report.describe()}.", "error" if report.error else "message")
    return redirect(url_for("admin.source_detail", source_id=source_id))


@bp.route("/sources/<int:source_id>/delete", methods=["GET", "POST"])
def source_delete(source_id: int) -> Response:
    session = get_session()
    source = get_or_404(Source, source_id)
    if request.method == "GET":
        total = count_posts(session, source_id=source_id)
        return html_page("admin/source_delete.html", source=source, post_count=total)
    keep = request.form.get("posts") != "delete"
    title = source.display_title
    removed = sources.delete_source(session, source, current_time(), keep_posts=keep)
    flash(f"Deleted {title}" + (f" and its {removed} posts." if not keep else "; its posts stay."))
    return redirect(url_for("admin.source_list"))


@bp.get("/posts")
def post_list() -> Response:
    """Posts with filters (source, tag, state, words), sorted by date or views."""
    session = get_session()
    page = page_arg()
    args = request.args
    try:
        wanted = post_list_service.PostFilter(
            query=args.get("q", ""), source_id=_id_arg("source"), tag_id=_id_arg("tag"),
            state=args.get("state", ""), sort=args.get("sort", "date") or "date",
        )  # fmt: skip
    except FeedsvcError as exc:
        abort(400, description=str(exc))
    rows, total = post_list_service.list_posts(session, wanted, limit=PAGE_SIZE,
                                               offset=(page - 1) * PAGE_SIZE)  # fmt: skip
    return html_page("admin/posts.html", rows=rows, total=total, page=page, wanted=wanted,
                     sources=sources.list_sources(session),
                     tags=post_list_service.tag_choices(session), states=post_list_service.STATES,
                     has_more=page * PAGE_SIZE < total)  # fmt: skip


def _id_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        abort(400, description=f"{name} is an id")
    return int(raw)


@bp.post("/posts/bulk")
def post_bulk() -> Response:
    """Hide, show or delete the ticked posts (or one row's, from its own button).
    Deleting asks first: the confirmation posts back with `confirm`."""
    session = get_session()
    form = request.form
    back = local_target(form.get("back"), url_for("admin.post_list"))
    action, ids = form.get("action", ""), form.getlist("ids")
    row_action, _, row_id = form.get("row", "").partition(":")
    if row_action:
        action, ids = row_action, [row_id]
    try:
        chosen = post_list_service.chosen_posts(session, ids)
        if action == "delete" and form.get("confirm") != "1":
            return html_page("admin/posts_delete.html", posts=chosen, back=back)
        done = post_list_service.bulk_action(session, chosen, action, current_time())
    except FeedsvcError as exc:
        flash(str(exc), "error")
        return redirect(back, 303)
    flash(done.describe(), "error" if done.kept else "message")
    return redirect(back, 303)


@bp.route("/posts/new", methods=["GET", "POST"], endpoint="post_new")
@bp.route("/posts/<int:post_id>", methods=["GET", "POST"])
def post_edit(post_id: int | None = None) -> Response:
    """A local post's form: write one or edit it, preview it, save it or publish it."""
    post = get_or_404(Post, post_id) if post_id is not None else None
    form = request.form
    intent = form.get("intent", "publish" if post is None else "save")
    if request.method == "GET" or intent == "preview":
        return _post_page(post, form)
    try:
        post, done = _save_post(post, form, intent)
    except FeedsvcError as exc:
        return _post_page(post, form, exc)
    flash(done)
    return redirect(url_for("admin.post_edit", post_id=post.id))


def _save_post(post: Post | None, form: Mapping[str, str], intent: str) -> tuple[Post, str]:
    """The post written (a new one when `post` is None), and what was done, in words."""
    session, app_settings = get_session(), settings()
    if post is None:
        post = create_local_post(
            session, title=fields.check_text(form.get("title", ""), "title"),
            body_html=form.get("body", ""), now=current_time(),
            summary_length=app_settings.ingest.prepare.summary_length,
            author=fields.check_text(form.get("author") or app_settings.site.author, "author"),
            tags=_tags(form.get("tags", "")), base_url=app_settings.site.base_url,
            draft=intent == "draft",
        )  # fmt: skip
        return post, ("Draft saved: it is not on the site until you publish it."
                      if post.draft else "Published.")  # fmt: skip
    update_local_post(
        session, post, now=current_time(),
        summary_length=app_settings.ingest.prepare.summary_length,
        title=fields.check_text(form.get("title", ""), "title") if "title" in form else None,
        body_html=form.get("body"),
        tags=_tags(form.get("tags", "")), base_url=app_settings.site.base_url,
    )  # fmt: skip
    if intent == "publish" and post.draft:
        publish_draft(session, post, current_time())
    return post, "Published." if intent == "publish" else "Saved."


def _post_page(
    post: Post | None, form: Mapping[str, str], error: FeedsvcError | None = None
) -> Response:
    """The post's form, with what was typed: the reason beside its field after an
    `error`, or for a preview the body below it as it would be published (nothing saved)."""
    preview = None
    if form.get("intent") == "preview":
        # Sanitized by nh3, like every post.
        preview = Markup(preview_html(form.get("body", ""), settings().site.base_url))
    return html_page("admin/post_edit.html", status=_status(error) if error else 200, post=post,
                     form=form, error=error, preview=preview)  # fmt: skip


@bp.post("/posts/<int:post_id>/article")
def post_article(post_id: int) -> Response:
    session = get_session()
    post = get_or_404(Post, post_id)
    try:
        articles.fetch_again(session, post)
    except FeedsvcError as exc:
        return _post_page(post, {}, exc)
    flash("The article will be fetched again shortly.")
    return redirect(url_for("admin.post_edit", post_id=post_id))


@bp.post("/posts/<int:post_id>/visibility")
def post_visibility(post_id: int) -> Response:
    session = get_session()
    post = get_or_404(Post, post_id)
    form = request.form
    set_visibility(session, post, current_time(), hidden=form.get("hidden") == "1",
                   popular_excluded=form.get("popular_excluded") == "1")  # fmt: skip
    flash("Hidden from the site and feeds." if post.hidden else "Shown on the site and feeds.")
    back = local_target(request.form.get("back"), url_for("admin.post_edit", post_id=post_id))
    return redirect(back)


@bp.route("/posts/<int:post_id>/delete", methods=["GET", "POST"])
def post_delete(post_id: int) -> Response:
    session = get_session()
    post = get_or_404(Post, post_id)
    if request.method == "GET":
        return html_page("admin/post_delete.html", post=post)
    try:
        delete_post(session, post, current_time())
    except FeedsvcError as exc:
        return _post_page(post, {}, exc)
    flash("Deleted.")
    return redirect(url_for("admin.post_list"))


def _rules_page(status: int = 200, **context: Any) -> Response:
    session = get_session()
    context.setdefault("form", {})
    return html_page("admin/rules.html", status=status, rules=rules.list_rules(session),
                     sources=sources.list_sources(session), describe=rules.describe,
                     fields=rules.FIELDS, jobs=jobs.recent_jobs(session, 5, JobKind.RULES_APPLY),
                     **context)  # fmt: skip


@bp.get("/rules")
def rule_list() -> Response:
    return _rules_page()


@bp.post("/rules")
def rule_save() -> Response:
    """Preview the rule (`intent=preview`: nothing saved) or save it."""
    session = get_session()
    form = request.form
    action = form.get("action", "")
    source_raw, days_raw = form.get("source_id", ""), form.get("days", "").strip()
    if source_raw and not source_raw.isdigit():
        return _rules_page(422, form=form,
                           error=rules.RuleError("choose a source, or every source", "source_id"))
    if action == "max_age" and not days_raw.isdigit():
        return _rules_page(422, form=form,
                           error=rules.RuleError("give a whole number of days", "days"))
    source_id = int(source_raw) if source_raw else None
    days = int(days_raw) if action == "max_age" else None
    pattern_rule = action != "max_age"
    field = form.get("field", "") if pattern_rule else ""
    pattern = form.get("pattern", "") if pattern_rule else ""
    try:
        if form.get("intent") == "preview":
            rule = rules.check_rule(session, action, field, pattern, days, source_id)
            return _rules_page(form=form, preview=rules.preview(session, add=rule))
        saved = rules.add_rule(session, current_time(), action=action, field=field, pattern=pattern,
                               days=days, source_id=source_id,
                               sync_limit=settings().admin.rules_sync_limit)  # fmt: skip
    except rules.RuleError as exc:
        return _rules_page(422, form=form, error=exc)
    flash(f"Rule saved: {saved.describe()}.")
    if saved.job is not None:
        return redirect(url_for("admin.job_detail", job_id=saved.job.id), 303)
    return redirect(url_for("admin.rule_list"), 303)


@bp.route("/rules/<int:rule_id>/delete", methods=["GET", "POST"])
def rule_delete(rule_id: int) -> Response:
    """Show what deleting would bring back, then delete on confirmation."""
    session = get_session()
    try:
        rule = rules.get_rule(session, rule_id)
        if request.method == "GET":
            return html_page("admin/rule_delete.html", rule=rule, describe=rules.describe,
                             preview=rules.preview(session, remove=rule_id))  # fmt: skip
        saved = rules.delete_rule(session, rule_id, current_time(),
                                  settings().admin.rules_sync_limit)  # fmt: skip
    except rules.RuleNotFound:
        abort(404)
    flash(f"Rule deleted: {saved.describe()}.")
    if saved.job is not None:
        return redirect(url_for("admin.job_detail", job_id=saved.job.id), 303)
    return redirect(url_for("admin.rule_list"), 303)


@bp.route("/opml/import", methods=["GET", "POST"])
def opml_import() -> Response:
    """A small file is imported at once; a large one by a job, whose page this redirects to."""
    session = get_session()
    recent = jobs.recent_jobs(session, kind=JobKind.OPML_IMPORT)
    if request.method == "GET":
        return html_page("admin/opml.html", report=None, jobs=recent)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return html_page("admin/opml.html", status=400, report=None, jobs=recent,
                         error="Choose a file first.")  # fmt: skip
    try:
        entries, problems = parse_opml(upload.read())
    except OpmlError as exc:
        error = f"{upload.filename}: {exc}"
        return html_page("admin/opml.html", status=_status(exc), report=None, jobs=recent,
                         error=error)  # fmt: skip
    if len(entries) > settings().admin.opml_sync_limit:
        job = jobs.enqueue_opml_import(
            session, entries, problems, current_time(), current_user.user_id
        )
        flash(f"Importing {upload.filename}: {len(entries)} entries, in the background.")
        return redirect(url_for("admin.job_detail", job_id=job.id), 303)
    report = import_parsed(session, entries, problems, current_time())
    return html_page("admin/opml.html", report=report, filename=upload.filename, jobs=recent)


@bp.get("/jobs/<int:job_id>")
def job_detail(job_id: int) -> Response:
    job = get_or_404(Job, job_id)
    stale = settings().worker.heartbeat_stale_seconds
    waits = jobs.waits_for_worker(get_session(), job, current_time(), stale)
    return html_page("admin/job.html", job=job, waits_for_worker=waits)


@bp.get("/opml")
def opml_export() -> Response:
    body = export_opml(get_session(), settings().site.title, current_time())
    return Response(body, content_type="text/x-opml; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="feedsvc-sources.opml"'})  # fmt: skip


@bp.route("/tokens", methods=["GET", "POST"])
def tokens() -> Response:
    session = get_session()
    user = _signed_in_user()
    shown = None
    if request.method == "POST":
        _, shown = accounts.create_token(
            session, user, request.form.get("name", ""), current_time()
        )
    return html_page("admin/tokens.html", tokens=accounts.list_tokens(session, user), shown=shown)


def _signed_in_user() -> User:
    user = get_session().get(User, current_user.user_id)
    if user is None:  # deleted while signed in
        abort(403)
    return user


@bp.post("/tokens/<int:token_id>/revoke")
def token_revoke(token_id: int) -> Response:
    session = get_session()
    user = _signed_in_user()
    try:
        accounts.revoke_token(session, token_id, current_time(), user)
    except FeedsvcError as exc:
        return html_page("admin/tokens.html", status=_status(exc), error=exc,
                         tokens=accounts.list_tokens(session, user), shown=None)  # fmt: skip
    flash("Token revoked.")
    return redirect(url_for("admin.tokens"))


@bp.get("/users")
def users() -> Response:
    session = get_session()
    return html_page("admin/users.html", users=accounts.list_users(session),
                     me=_signed_in_user())  # fmt: skip


@bp.post("/users/<int:user_id>/sign-out")
def user_sign_out(user_id: int) -> Response:
    """Sign-out everywhere: every session of the user ends, this one too if it is theirs."""
    user = get_or_404(User, user_id)
    accounts.end_sessions(user)
    flash(f"{user.username} is signed out everywhere.")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/delete", methods=["GET", "POST"])
def user_delete(user_id: int) -> Response:
    session = get_session()
    user = get_or_404(User, user_id)
    if request.method == "GET":
        return html_page("admin/user_delete.html", user=user, me=_signed_in_user())
    name, me = user.username, _signed_in_user()
    try:
        accounts.delete_user(session, user)
    except FeedsvcError as exc:
        return html_page("admin/user_delete.html", status=_status(exc), user=user, me=me,
                         error=exc)  # fmt: skip
    flash(f"{name} is deleted, and their API tokens with them.")
    return redirect(url_for("admin.users"))
