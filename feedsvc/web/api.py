"""The JSON API under /api/v1: bearer tokens, pydantic payloads, problem+json errors."""

from __future__ import annotations

import json
from typing import TypeVar

from flask import Blueprint, g, request, url_for
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from feedsvc import articles, comments, discovery, jobs, opml, rules, sources, webhooks
from feedsvc import stats as figures
from feedsvc.errors import FeedsvcError
from feedsvc.fetch_options import FetchOptionsWanted
from feedsvc.models import Comment, FilterRule, Job, Post, Source, WebhookEndpoint
from feedsvc.opml import import_parsed, parse_opml
from feedsvc.params import MAX_ID, MAX_PAGE, BadParameter, whole_number
from feedsvc.posts import (
    count_posts,
    create_local_post,
    delete_post,
    post_path,
    search_posts,
    set_visibility,
    update_local_post,
)
from feedsvc.subscriptions import Wanted
from feedsvc.vocabulary import CommentState, JobKind
from feedsvc.web.api_models import (
    ArticleOut,
    Candidate,
    CommentBulk,
    CommentBulkOut,
    CommentList,
    CommentOut,
    CommentUpdate,
    Discover,
    FetchOptionsIn,
    FetchOut,
    ImportOut,
    ImportSummary,
    JobOut,
    PostBrief,
    PostCreate,
    PostList,
    PostOut,
    PostUpdate,
    RefreshOut,
    RuleCreate,
    RuleList,
    RuleOut,
    RulePreview,
    RuleSaved,
    RulesSummary,
    SourceCreate,
    SourceList,
    SourceOut,
    SourceUpdate,
    Stats,
    WebhookAttemptOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
    openapi_document,
)
from feedsvc.web.auth import bearer_user, csrf
from feedsvc.web.charts import daily_totals
from feedsvc.web.context import current_time, get_session, settings
from feedsvc.web.problems import ApiProblem, error_problem, problem
from feedsvc.web.refresh import fetcher, refresh_now, subscribe_now

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, not cookies: nothing for a forged form to ride on

Model = TypeVar("Model", bound=BaseModel)
MAX_BODY = 5 * 1024 * 1024


def _json(model: BaseModel, status: int = 200, **headers: str) -> Response:
    return Response(model.model_dump_json(), status=status, content_type="application/json",
                    headers=headers)  # fmt: skip


@bp.before_request
def _authenticate() -> Response | None:
    if request.endpoint == "api.openapi":
        return None
    user = bearer_user(current_time())
    if user is None:
        detail = "send a live API token as 'Authorization: Bearer <token>'"
        return problem(401, "Unauthorized", detail)
    g.api_user = user
    return None


@bp.after_request
def _private(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(ApiProblem)
def _api_problem(error: ApiProblem) -> Response:
    return problem(error.status, error.title, error.detail, **error.extra)


@bp.errorhandler(FeedsvcError)
def _service_error(error: FeedsvcError) -> Response:
    return error_problem(error)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    # Routing errors (404, 405) never reach a blueprint: web/__init__ answers those.
    return problem(error.code or 500, error.name, error.description or error.name)


def payload(model: type[Model]) -> Model:
    """The request's JSON body as `model`; a 400 or 422 naming the field at fault."""
    if (request.content_length or 0) > MAX_BODY:
        raise ApiProblem(413, "Payload too large", f"the body is over {MAX_BODY} bytes")
    if not request.is_json:
        raise ApiProblem(415, "Unsupported media type", "send the body as application/json")
    try:
        # pydantic's own parser: bounded nesting and numbers, lone surrogates refused.
        return model.model_validate_json(request.get_data())
    except ValidationError as exc:
        found = exc.errors(include_url=False)
        if found[0]["type"] == "json_invalid":
            reason = found[0]["msg"].removeprefix("Invalid JSON: ")
            raise ApiProblem(400, "Bad request", f"the body is not valid JSON: {reason}") from None
        errors = [{"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
                  for e in found]  # fmt: skip
        first = errors[0]
        raise ApiProblem(422, "Invalid request", f"{first['field']}: {first['message']}",
                         field=first["field"], errors=errors) from None  # fmt: skip


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    try:
        return whole_number(request.args, name, default, low, high)
    except BadParameter as exc:
        raise ApiProblem(400, "Bad request", str(exc), field=name) from None


def _paging() -> tuple[int, int]:
    app_settings = settings()
    page = _int_arg("page", 1, 1, MAX_PAGE)
    per_page = _int_arg(
        "per_page", app_settings.admin.api_page_size, 1, app_settings.admin.api_max_page_size
    )
    return page, per_page


def source_out(source: Source, post_count: int) -> SourceOut:
    return SourceOut(
        id=source.id, feed_url=source.feed_url, site_url=source.site_url,
        title=source.display_title, state=sources.source_state(source),  # type: ignore[arg-type]
        mode=source.mode, tags=[tag.name for tag in source.tags],  # type: ignore[arg-type]
        interval=source.interval_override, strip_selectors=list(source.strip_selectors or []),
        retain_days=source.retain_days, retain_per_source=source.retain_per_source,
        fetch_full=source.fetch_full, article_selector=source.article_selector,
        keep_categories=source.keep_categories, category_names=source.category_names or {},
        user_agent=source.fetch_user_agent, browser_user_agent=source.fetch_as_browser,
        headers=[f"{name}: {value}" for name, value in source.fetch_headers or ()],
        cookie_set=source.fetch_cookie is not None,
        credentials_set=source.fetch_credentials is not None,
        ignore_validators=source.ignore_validators, post_count=post_count,
        error_count=source.error_count, last_error=source.last_error,
        last_checked_at=source.last_checked_at, last_success_at=source.last_success_at,
        next_check_at=source.next_check_at, created_at=source.created_at,
    )  # fmt: skip


def post_out(post: Post) -> PostOut:
    return PostOut(
        id=post.id, uid=post.uid, title=post.title,
        url=settings().site.base_url + post_path(post), link=post.link,
        source_id=post.source_id, local=post.is_local, author=post.author, summary=post.summary,
        content=post.content, tags=[tag.name for tag in post.tags], hidden=post.hidden,
        duplicate_of=post.duplicate_of_id, hidden_by_rule=post.hidden_by_rule,
        popular_excluded=post.popular_excluded,
        published_at=post.published_at, updated_at=post.updated_at,
        article=ArticleOut(state=post.article_state, error=post.article_error,  # type: ignore[arg-type]
                           tries=post.article_tries) if post.article_state else None,
        comment_count=post.comment_count, comments_closed=post.comments_closed,
        upstream_comments_url=post.upstream_comments_url,
        upstream_comments_feed=post.upstream_comments_feed,
    )  # fmt: skip


def comment_out(comment: Comment) -> CommentOut:
    page = settings().site.base_url + post_path(comment.post)
    return CommentOut(
        id=comment.id, post_id=comment.post_id, parent_id=comment.parent_id,
        state=comment.state, author_name=comment.author_name,  # type: ignore[arg-type]
        author_url=comment.author_url, body=comment.body, by_admin=comment.by_admin,
        created_at=comment.created_at, url=f"{page}#comment-{comment.id}",
    )  # fmt: skip


def _source(source_id: int) -> Source:
    found = get_session().get(Source, source_id)
    if found is None:
        raise ApiProblem(404, "Not found", f"no source with id {source_id}")
    return found


def _post(post_id: int) -> Post:
    found = get_session().get(Post, post_id)
    if found is None:
        raise ApiProblem(404, "Not found", f"no post with id {post_id}")
    return found


def _post_count(source_id: int) -> int:
    return count_posts(get_session(), source_id=source_id)


@bp.get("/openapi.json")
def openapi() -> Response:
    base = settings().site.base_url + url_for("api.openapi")[: -len("/openapi.json")]
    return Response(json.dumps(openapi_document(base)), content_type="application/json")


@bp.get("/sources")
def list_sources() -> Response:
    page, per_page = _paging()
    state = request.args.get("state")
    if state is not None and state not in sources.STATES:
        raise ApiProblem(400, "Bad request", f"state is one of {', '.join(sources.STATES)}",
                         field="state")  # fmt: skip
    session = get_session()
    shown = sources.list_sources(session, state, per_page, (page - 1) * per_page)
    total = sources.count_sources(session, state)
    items = [source_out(source, count) for source, count in shown]
    return _json(SourceList(items=items, page=page, per_page=per_page, total=total))


@bp.post("/sources")
def create_source() -> Response:
    body = payload(SourceCreate)
    wanted = Wanted(body.url, body.title or "", tags=body.tags, interval=body.interval,
                    mode=body.mode, fetch_full=body.fetch_full,
                    fetch_options=_fetch_options(body))  # fmt: skip
    # Unchecked, it is not fetched either: the worker fetches it, as it is due now.
    added = subscribe_now(wanted, check=body.check, first_fetch=body.check)
    location = url_for("api.get_source", source_id=added.source_id)
    return _json(source_out(_source(added.source_id), _post_count(added.source_id)), 201,
                 Location=location)  # fmt: skip


@bp.get("/sources/<int:source_id>")
def get_source(source_id: int) -> Response:
    return _json(source_out(_source(source_id), _post_count(source_id)))


@bp.patch("/sources/<int:source_id>")
def update_source(source_id: int) -> Response:
    source = _source(source_id)
    body = payload(SourceUpdate)
    session = get_session()
    now = current_time()
    given = body.model_fields_set
    sources.update_source(
        session, source, now, title=body.title, site_url=body.site_url, tags=body.tags,
        interval=body.interval if "interval" in given else ..., mode=body.mode,
        min_interval=settings().ingest.schedule.min_interval,
        strip_selectors=body.strip_selectors,
        retain_days=body.retain_days if "retain_days" in given else ...,
        retain_per_source=body.retain_per_source if "retain_per_source" in given else ...,
        fetch_full=body.fetch_full, article_selector=body.article_selector,
        keep_categories=body.keep_categories, category_names=body.category_names,
    )  # fmt: skip
    sources.set_fetch_options(source, _fetch_options(body), settings().secret_key)
    if body.paused is True:
        sources.pause_source(source)
    elif body.paused is False:
        sources.resume_source(source, now)
    return _json(source_out(source, _post_count(source_id)))


def _fetch_options(body: FetchOptionsIn) -> FetchOptionsWanted:
    return FetchOptionsWanted(
        user_agent=body.user_agent, headers=body.headers, cookie=body.cookie,
        username=body.username, password=body.password, ignore_validators=body.ignore_validators,
    )  # fmt: skip


@bp.delete("/sources/<int:source_id>")
def delete_source(source_id: int) -> Response:
    source = _source(source_id)
    keep = request.args.get("keep_posts", "true").lower()
    if keep not in ("true", "false"):
        raise ApiProblem(400, "Bad request", "keep_posts is true or false", field="keep_posts")
    sources.delete_source(get_session(), source, current_time(), keep_posts=keep == "true")
    return Response(status=204)


@bp.post("/sources/<int:source_id>/refresh")
def refresh_source(source_id: int) -> Response:
    _source(source_id)
    report = refresh_now(source_id)
    return _json(RefreshOut(result=report.result, new=report.new, updated=report.updated,
                            status=report.status, error=report.error))  # fmt: skip


@bp.get("/sources/<int:source_id>/fetches")
def list_fetches(source_id: int) -> Response:
    _source(source_id)
    rows = sources.fetch_history(get_session(), source_id)
    items = [FetchOut(started_at=a.started_at, url=a.url, outcome=a.outcome,
                      status_code=a.status_code, duration_ms=a.duration_ms,
                      new_count=a.new_count, updated_count=a.updated_count, error=a.error)
             for a in rows]  # fmt: skip
    return Response(json.dumps([item.model_dump(mode="json") for item in items]),
                    content_type="application/json")  # fmt: skip


@bp.post("/discover")
def discover() -> Response:
    body = payload(Discover)
    url = sources.normalize_feed_url(body.url)
    with fetcher() as client:
        candidates, _ = discovery.discover(client, url, budget=settings().admin.discovery_timeout)
    found = [Candidate(url=c.url, title=c.title, kind=c.kind).model_dump() for c in candidates]
    return Response(json.dumps(found), content_type="application/json")


@bp.get("/posts")
def list_posts() -> Response:
    page, per_page = _paging()
    source_id = _int_arg("source_id", 0, 1, MAX_ID) or None
    query = request.args.get("q", "")[:200]
    rows, total = search_posts(get_session(), query=query, source_id=source_id, limit=per_page,
                               offset=(page - 1) * per_page)  # fmt: skip
    return _json(PostList(items=[post_out(p) for p in rows], page=page, per_page=per_page,
                          total=total))  # fmt: skip


@bp.post("/posts")
def create_post() -> Response:
    body = payload(PostCreate)
    app_settings = settings()
    session = get_session()
    post = create_local_post(
        session, title=body.title, body_html=body.content, now=current_time(),
        summary_length=app_settings.ingest.prepare.summary_length,
        author=body.author or app_settings.site.author,
        tags=body.tags, base_url=app_settings.site.base_url,
    )  # fmt: skip
    return _json(post_out(post), 201, Location=url_for("api.get_post", post_id=post.id))


@bp.get("/posts/<int:post_id>")
def get_post(post_id: int) -> Response:
    return _json(post_out(_post(post_id)))


@bp.patch("/posts/<int:post_id>")
def update_post(post_id: int) -> Response:
    post = _post(post_id)
    body = payload(PostUpdate)
    app_settings = settings()
    session = get_session()
    now = current_time()
    if {"title", "content", "tags"} & body.model_fields_set:
        update_local_post(
            session, post, now=now, summary_length=app_settings.ingest.prepare.summary_length,
            title=body.title,
            body_html=body.content, tags=body.tags, base_url=app_settings.site.base_url,
        )  # fmt: skip
    set_visibility(session, post, now, hidden=body.hidden, popular_excluded=body.popular_excluded)
    if body.comments_closed is not None:
        comments.set_closed(session, post.id, body.comments_closed, now)
    return _json(post_out(post))


@bp.delete("/posts/<int:post_id>")
def remove_post(post_id: int) -> Response:
    post = _post(post_id)
    delete_post(get_session(), post, current_time())
    return Response(status=204)


@bp.post("/posts/<int:post_id>/article")
def fetch_article(post_id: int) -> Response:
    post = articles.fetch_again(get_session(), _post(post_id))
    return _json(post_out(post), 202)


@bp.get("/comments")
def list_comments() -> Response:
    page, per_page = _paging()
    post_id = _int_arg("post_id", 0, 1, MAX_ID) or None
    raw_state = request.args.get("state")
    if raw_state is not None and raw_state not in CommentState.__members__.values():
        raise ApiProblem(400, "Bad request", "state must be pending, approved or spam",
                         field="state")  # fmt: skip
    state = CommentState(raw_state) if raw_state is not None else None
    session = get_session()
    rows = comments.listed(session, state=state, post_id=post_id, limit=per_page,
                           offset=(page - 1) * per_page)  # fmt: skip
    total = comments.count_listed(session, state=state, post_id=post_id)
    return _json(CommentList(items=[comment_out(c) for c in rows], page=page,
                             per_page=per_page, total=total))  # fmt: skip


@bp.post("/comments/bulk")
def moderate_comments() -> Response:
    body = payload(CommentBulk)
    changed = comments.ACTIONS[body.action](get_session(), body.ids, current_time())
    return _json(CommentBulkOut(action=body.action, changed=changed))


@bp.get("/comments/<int:comment_id>")
def get_comment(comment_id: int) -> Response:
    return _json(comment_out(comments.get_comment(get_session(), comment_id)))


@bp.patch("/comments/<int:comment_id>")
def update_comment(comment_id: int) -> Response:
    session = get_session()
    found = comments.get_comment(session, comment_id)
    body = payload(CommentUpdate)
    comments.set_state(session, [found.id], CommentState(body.state), current_time())
    return _json(comment_out(comments.get_comment(session, comment_id)))


@bp.delete("/comments/<int:comment_id>")
def remove_comment(comment_id: int) -> Response:
    session = get_session()
    found = comments.get_comment(session, comment_id)
    comments.delete_comments(session, [found.id], current_time())
    return Response(status=204)


@bp.get("/opml")
def export_opml() -> Response:
    body = opml.export_opml(get_session(), settings().site.title, current_time())
    return Response(body, content_type="text/x-opml; charset=utf-8")


@bp.post("/opml")
def import_opml_file() -> Response:
    if (request.content_length or 0) > MAX_BODY:
        raise ApiProblem(413, "Payload too large", f"the body is over {MAX_BODY} bytes")
    upload = request.files.get("file")
    data = upload.read() if upload is not None else request.get_data()
    if not data:
        raise ApiProblem(400, "Bad request", "send the OPML file as the request body")
    session = get_session()
    entries, problems = parse_opml(data)
    if len(entries) > settings().admin.opml_sync_limit:
        job = jobs.enqueue_opml_import(session, entries, problems, current_time(), g.api_user.id)
        return _json(job_out(job), 202, Location=url_for("api.get_job", job_id=job.id))
    report = import_parsed(session, entries, problems, current_time())
    added = [source_id for source_id, _ in report.added]
    errors = report.describe_errors()
    return _json(ImportOut(added=added, duplicates=report.duplicates, errors=errors))


def job_out(job: Job) -> JobOut:
    return JobOut(
        id=job.id, kind=job.kind, state=job.state,  # type: ignore[arg-type]
        total=job.total, done=job.done, error=job.error,
        result=_job_result(job),
        created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
    )  # fmt: skip


def _job_result(job: Job) -> ImportSummary | RulesSummary | None:
    if not job.result:
        return None
    if job.kind == JobKind.RULES_APPLY:
        return RulesSummary.model_validate(job.result)
    return ImportSummary.model_validate(job.result)


@bp.get("/jobs/<int:job_id>")
def get_job(job_id: int) -> Response:
    found = get_session().get(Job, job_id)
    if found is None:
        raise ApiProblem(404, "Not found", f"no job with id {job_id}")
    return _json(job_out(found))


def rule_out(rule: FilterRule) -> RuleOut:
    pattern_rule = rule.action != "max_age"
    return RuleOut(
        id=rule.id, action=rule.action, field=rule.field if pattern_rule else None,  # type: ignore[arg-type]
        pattern=rule.pattern if pattern_rule else None, days=rule.days,
        source_id=rule.source_id, created_at=rule.created_at,
    )  # fmt: skip


def saved_out(saved: rules.Saved) -> RuleSaved:
    applied = saved.applied or rules.Reapplied()
    return RuleSaved(
        rule=rule_out(saved.rule) if saved.rule else None, hidden=applied.hidden,
        shown=applied.shown, job=job_out(saved.job) if saved.job else None,
    )  # fmt: skip


@bp.get("/rules")
def list_rules() -> Response:
    source_id = _int_arg("source_id", 0, 1, 2**31 - 1) or None
    items = [rule_out(rule) for rule in rules.list_rules(get_session(), source_id)]
    return _json(RuleList(items=items))


@bp.post("/rules")
def create_rule() -> Response:
    body = payload(RuleCreate)
    session = get_session()
    saved = rules.add_rule(
        session, current_time(), action=body.action, field=body.field or "",
        pattern=body.pattern or "", days=body.days, source_id=body.source_id,
        sync_limit=settings().admin.rules_sync_limit,
    )  # fmt: skip
    return _json(saved_out(saved), 201)


@bp.post("/rules/preview")
def preview_rule() -> Response:
    body = payload(RuleCreate)
    session = get_session()
    rule = rules.check_rule(session, body.action, body.field or "", body.pattern or "",
                            body.days, body.source_id)  # fmt: skip
    seen = rules.preview(session, add=rule)
    return _json(RulePreview(
        hide=[post_brief(post) for post in seen.hide],
        bring_back=[post_brief(post) for post in seen.bring_back],
        hide_count=seen.hide_count, bring_back_count=seen.bring_back_count,
        scanned=seen.scanned, total=seen.total,
    ))  # fmt: skip


def post_brief(post: Post) -> PostBrief:
    return PostBrief(id=post.id, title=post.title, link=post.link, source_id=post.source_id,
                     published_at=post.published_at)  # fmt: skip


@bp.delete("/rules/<int:rule_id>")
def delete_rule(rule_id: int) -> Response:
    session = get_session()
    saved = rules.delete_rule(session, rule_id, current_time(), settings().admin.rules_sync_limit)
    return _json(saved_out(saved))


def webhook_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id, url=endpoint.url, description=endpoint.description,
        events=endpoint.events, enabled=endpoint.enabled,  # type: ignore[arg-type]
        failures=endpoint.failures, disabled_reason=endpoint.disabled_reason,
        pending=webhooks.pending_count(get_session(), endpoint.id),
        created_at=endpoint.created_at,
    )  # fmt: skip


@bp.get("/webhooks")
def list_webhooks() -> Response:
    shown = [webhook_out(endpoint) for endpoint in webhooks.list_endpoints(get_session())]
    return Response(json.dumps([item.model_dump(mode="json") for item in shown]),
                    content_type="application/json")  # fmt: skip


@bp.post("/webhooks")
def create_webhook() -> Response:
    body = payload(WebhookCreate)
    endpoint, secret = webhooks.create_endpoint(
        get_session(), body.url, current_time(), guard=settings().fetch.guard(),
        secret_key=settings().secret_key, events=body.events, description=body.description,
    )  # fmt: skip
    created = WebhookCreated(**webhook_out(endpoint).model_dump(), secret=secret)
    return _json(created, 201, Location=url_for("api.get_webhook", webhook_id=endpoint.id))


@bp.get("/webhooks/<int:webhook_id>")
def get_webhook(webhook_id: int) -> Response:
    return _json(webhook_out(webhooks.get_endpoint(get_session(), webhook_id)))


@bp.patch("/webhooks/<int:webhook_id>")
def update_webhook(webhook_id: int) -> Response:
    session = get_session()
    endpoint = webhooks.get_endpoint(session, webhook_id)
    body = payload(WebhookUpdate)
    webhooks.update_endpoint(session, endpoint, guard=settings().fetch.guard(), url=body.url,
                             events=body.events, description=body.description,
                             enabled=body.enabled)  # fmt: skip
    return _json(webhook_out(endpoint))


@bp.delete("/webhooks/<int:webhook_id>")
def delete_webhook(webhook_id: int) -> Response:
    session = get_session()
    webhooks.delete_endpoint(session, webhooks.get_endpoint(session, webhook_id))
    return Response(status=204)


@bp.get("/webhooks/<int:webhook_id>/deliveries")
def list_webhook_deliveries(webhook_id: int) -> Response:
    session = get_session()
    endpoint = webhooks.get_endpoint(session, webhook_id)
    attempts = webhooks.delivery_log(session, endpoint.id)
    log = [WebhookAttemptOut(
        attempted_at=attempt.attempted_at, message_id=attempt.delivery.message_id,
        event=attempt.delivery.event, state=attempt.delivery.state,  # type: ignore[arg-type]
        status_code=attempt.status_code, duration_ms=attempt.duration_ms, error=attempt.error,
    ).model_dump(mode="json") for attempt in attempts]  # fmt: skip
    return Response(json.dumps(log), content_type="application/json")


@bp.get("/stats")
def stats() -> Response:
    session = get_session()
    totals = daily_totals(figures.posts_per_day(session, current_time().date(), 30), 30)
    return _json(Stats(
        sources=figures.state_counts(session),
        posts=figures.post_count(session),
        hidden_posts=figures.post_count(session, hidden_only=True),
        posts_last_30_days=totals,
    ))  # fmt: skip
