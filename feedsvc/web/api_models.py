"""The JSON API's payloads (pydantic) and its OpenAPI 3.1 document, built from them.

Responses are made by these models too, so the document cannot drift from
what the API sends; a schemathesis test checks both against each other.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, ValidationInfo
from pydantic_core import PydanticCustomError

from feedsvc import fields
from feedsvc.params import MAX_ID, MAX_PAGE
from feedsvc.version import __version__
from feedsvc.vocabulary import MAX_FIXED_INTERVAL, MIN_INTERVAL, SourceState

Mode = Literal["full", "summary", "link"]
State = Literal["failing", "warning", "active", "paused", "gone"]


def _visible(value: str, info: ValidationInfo) -> str:
    try:
        return fields.check_text(value, info.field_name or "")
    except fields.FieldError as exc:
        raise _refused(exc) from None


def _tag(value: str, info: ValidationInfo) -> str:
    try:
        return fields.check_tag(value, info.field_name or "")
    except fields.FieldError as exc:
        raise _refused(exc) from None


def _refused(exc: fields.FieldError) -> PydanticCustomError:
    # The field is in the error's location already: the reason alone.
    return PydanticCustomError("refused_text", "{reason}", {"reason": exc.reason})


# Text a person sets (fields.py): no invisible control characters; tags make a slug.
Text = Annotated[str, AfterValidator(_visible)]
TagName = Annotated[str, Field(max_length=fields.MAX_TAG_NAME), AfterValidator(_tag)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


INTERVAL_WORDS = (
    "Seconds between checks, fixed; null adapts to the feed. At least "
    f"FEEDSVC_FETCH_MIN_INTERVAL ({MIN_INTERVAL} by default): a shorter one is a 422."
)


class FetchOptionsIn(Strict):
    """How a source is fetched. Left out (null): as it is; "" (or []): cleared."""

    user_agent: str | None = Field(
        None, max_length=500, description='Its own User-Agent ("": the server\'s default).'
    )
    headers: list[str] | None = Field(
        None, max_length=20,
        description="Extra headers, each \"Name: value\", sent to the feed's host only. "
        "Connection-level headers, Host, Cookie, Authorization and User-Agent are refused.",
    )  # fmt: skip
    cookie: str | None = Field(
        None, max_length=4096, description="A Cookie header's value, sent to the feed's host "
        "only. Stored sealed; never shown back (`cookie_set` says whether there is one).",
    )  # fmt: skip
    username: str | None = Field(
        None, max_length=500, description="HTTP basic credentials, with `password`, sent to "
        "the feed's host only (\"\": none). Stored sealed; never shown back.",
    )  # fmt: skip
    password: str | None = Field(None, max_length=500)
    ignore_validators: bool | None = Field(
        None, description="Fetch without If-None-Match and If-Modified-Since."
    )


class SourceCreate(FetchOptionsIn):
    url: str = Field(min_length=1, max_length=2048, description="The feed's http(s) URL.")
    title: Text | None = Field(None, max_length=500, description="Default: the feed's own title.")
    tags: list[TagName] = Field(default_factory=list, max_length=50)
    mode: Mode = "full"
    interval: int | None = Field(None, ge=1, le=MAX_FIXED_INTERVAL, description=INTERVAL_WORDS)
    check: bool = Field(True, description="Fetch the URL first and refuse it unless it is a feed.")
    fetch_full: bool = Field(
        False, description="Fetch each new entry's web page and store its full article."
    )


class SourceUpdate(FetchOptionsIn):
    title: Text | None = Field(None, max_length=500)
    site_url: str | None = Field(
        None, max_length=2048, description="The site's absolute http(s) URL; empty for none."
    )
    tags: list[TagName] | None = Field(None, max_length=50)
    mode: Mode | None = None
    interval: int | None = Field(None, ge=1, le=MAX_FIXED_INTERVAL, description=INTERVAL_WORDS)
    paused: bool | None = Field(None, description="Pause (true) or resume (false) fetching.")
    strip_selectors: list[str] | None = Field(
        None, max_length=50,
        description="CSS selectors of elements removed from entry content before sanitizing.",
    )  # fmt: skip
    retain_days: int | None = Field(
        None, ge=0, le=100_000,
        description="Keep posts this many days (0: all; null: the global setting).",
    )  # fmt: skip
    retain_per_source: int | None = Field(
        None, ge=0, le=10_000_000,
        description="Keep this many newest posts (0: all; null: the global setting).",
    )  # fmt: skip
    fetch_full: bool | None = Field(
        None, description="Fetch each new entry's web page and store its full article."
    )
    article_selector: str | None = Field(
        None, max_length=500,
        description="A CSS selector of the article on an entry's page (empty: the extractor's "
        "choice).",
    )  # fmt: skip
    keep_categories: StrictBool | None = Field(
        None, description="Make the feed's categories its posts' tags (false: no tags from it)."
    )
    category_names: dict[str, str] | None = Field(
        None, max_length=fields.MAX_CATEGORY_NAMES,
        description="Upstream categories renamed ({\"GiantBomb\": \"Giant Bomb\"}) or dropped "
        "({\"Uncategorized\": \"\"}), matched in any case and spacing; from the next fetch.",
    )  # fmt: skip


RuleAction = Literal["block", "keep", "max_age"]
RuleField = Literal["title", "link", "author", "tags", "content", "any"]


class RuleCreate(Strict):
    """A filter rule: `block` or `keep` with `field` and `pattern`, or `max_age` with `days`."""

    action: RuleAction = Field(
        description="block: hide entries that match; keep: hide those "
        "matching none of the scope's keep rules; max_age: hide entries "
        "published more than `days` before they were first seen."
    )
    field: RuleField | None = None
    pattern: str | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="A regular expression, RE2 syntax (no "
        "backreferences or lookaround); (?i) for any case.",
    )
    days: int | None = Field(None, ge=1, le=36500)
    source_id: int | None = Field(None, ge=1, le=2**31 - 1, description="Default: every source.")


class Discover(Strict):
    url: str = Field(min_length=1, max_length=2048, description="A feed's or a site's URL.")


class PostCreate(Strict):
    title: Text = Field(min_length=1, max_length=1000)
    content: str = Field(max_length=1_000_000, description="HTML; it is sanitized.")
    tags: list[TagName] = Field(default_factory=list, max_length=50)
    author: Text | None = Field(None, max_length=500)


class PostUpdate(Strict):
    title: Text | None = Field(None, min_length=1, max_length=1000)
    content: str | None = Field(None, max_length=1_000_000)
    tags: list[TagName] | None = Field(None, max_length=50)
    hidden: bool | None = None
    popular_excluded: bool | None = None
    comments_closed: bool | None = Field(None, description="Take no new comments (or again).")


class SourceOut(BaseModel):
    id: int
    feed_url: str
    site_url: str | None
    title: str
    state: State
    mode: Mode
    tags: list[str]
    interval: int | None
    strip_selectors: list[str]
    retain_days: int | None
    retain_per_source: int | None
    fetch_full: bool
    article_selector: str | None
    keep_categories: bool
    category_names: dict[str, str]
    user_agent: str | None = Field(description="Its own User-Agent; null: the default.")
    browser_user_agent: bool = Field(
        description="A browser-like User-Agent is sent: ours was refused (403) and it was not."
    )
    headers: list[str] = Field(description='Extra headers, "Name: value".')
    cookie_set: bool = Field(description="A cookie is sent (its value is never shown).")
    credentials_set: bool = Field(description="Basic credentials are sent (never shown).")
    ignore_validators: bool
    post_count: int
    error_count: int
    last_error: str | None
    last_checked_at: dt.datetime | None
    last_success_at: dt.datetime | None
    next_check_at: dt.datetime
    created_at: dt.datetime


class SourceList(BaseModel):
    items: list[SourceOut]
    page: int
    per_page: int
    total: int


class FetchOut(BaseModel):
    started_at: dt.datetime
    url: str
    outcome: str
    status_code: int | None
    duration_ms: int
    new_count: int
    updated_count: int
    error: str | None


class RefreshOut(BaseModel):
    result: str
    new: int
    updated: int
    status: int | None
    error: str | None


class Candidate(BaseModel):
    url: str
    title: str
    kind: str


class ArticleOut(BaseModel):
    state: Literal["pending", "fetched", "failed"] = Field(
        description="pending: to be fetched (again); fetched: it is the content; failed: the "
        "content is the feed's."
    )
    error: str | None = Field(description="Why the last try brought no article.")
    tries: int


class PostOut(BaseModel):
    id: int
    uid: str
    title: str
    url: str = Field(description="The post's page here.")
    link: str | None = Field(description="The original, for an ingested post.")
    source_id: int | None
    local: bool
    author: str | None
    summary: str
    content: str
    tags: list[str]
    hidden: bool
    duplicate_of: int | None = Field(
        description="Hidden as a duplicate: the post of the same story first stored."
    )
    hidden_by_rule: int | None = Field(
        description="The filter rule that hid it; None when shown, or hidden by an admin."
    )
    popular_excluded: bool
    published_at: dt.datetime
    updated_at: dt.datetime
    article: ArticleOut | None = Field(
        description="The full article fetched from the link, for a full-text source's post."
    )
    comment_count: int = Field(description="Approved comments.")
    comments_closed: bool = Field(description="Closed by an admin: no new comments taken.")
    upstream_comments_url: str | None = Field(
        description="Where the original is discussed (RSS <comments>, Atom rel=replies)."
    )
    upstream_comments_feed: str | None = Field(description="The original's comment feed.")


class PostList(BaseModel):
    items: list[PostOut]
    page: int
    per_page: int
    total: int


class ImportOut(BaseModel):
    added: list[int]
    duplicates: list[str]
    errors: list[str]


class ImportSummary(BaseModel):
    added: int = Field(description="Sources added.")
    skipped: int = Field(description="Entries skipped: sources that exist, repeats in the file.")
    errors: list[str] = Field(description="Entries not imported, each with its line and why.")


class RulesSummary(BaseModel):
    hidden: int = Field(description="Stored posts hidden so far.")
    shown: int = Field(description="Stored posts brought back so far.")


class JobOut(BaseModel):
    """Long work done outside the request (an OPML import, filter rules applied
    to stored posts), and how far it is."""

    id: int
    kind: Literal["opml_import", "rules_apply"]
    state: Literal["queued", "running", "done", "failed"]
    total: int | None = Field(description="Entries (or posts) to do.")
    done: int = Field(description="Entries (or posts) done so far.")
    result: ImportSummary | RulesSummary | None = Field(
        description="What the entries done so far gave."
    )
    error: str | None = Field(description="Why a failed job failed.")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class RuleOut(BaseModel):
    id: int
    action: RuleAction
    field: RuleField | None
    pattern: str | None
    days: int | None
    source_id: int | None = Field(description="None: a global rule.")
    created_at: dt.datetime


class RuleList(BaseModel):
    items: list[RuleOut] = Field(description="Global rules first, then per source, oldest first.")


class RuleSaved(BaseModel):
    """A rule saved or deleted, and the rules applied again to the stored posts
    of its scope: what that did, or the job doing it."""

    rule: RuleOut | None = Field(description="The rule saved; None after a delete.")
    hidden: int = Field(description="Stored posts hidden (0 while a job runs).")
    shown: int = Field(description="Stored posts brought back (0 while a job runs).")
    job: JobOut | None = Field(description="The job applying the rules to a large scope.")


class PostBrief(BaseModel):
    id: int
    title: str
    link: str | None
    source_id: int | None
    published_at: dt.datetime


class RulePreview(BaseModel):
    """What saving the rule would do to the newest `scanned` posts of its scope."""

    hide: list[PostBrief] = Field(description="Some of the posts it would hide.")
    bring_back: list[PostBrief] = Field(description="Some of the posts it would bring back.")
    hide_count: int
    bring_back_count: int
    scanned: int = Field(description="Posts looked at: the newest of the scope.")
    total: int = Field(description="Posts in the scope.")


class Stats(BaseModel):
    sources: dict[str, int]
    posts: int
    hidden_posts: int
    posts_last_30_days: list[int]


CommentStateName = Literal["pending", "approved", "spam"]


class CommentOut(BaseModel):
    id: int
    post_id: int
    parent_id: int | None = Field(description="The comment this replies to (one level deep).")
    state: CommentStateName
    author_name: str
    author_url: str | None
    body: str = Field(description="Plain text, as written.")
    by_admin: bool = Field(description="Written by an admin: shown as the author's.")
    created_at: dt.datetime
    url: str = Field(description="The comment on its post's page.")


class CommentList(BaseModel):
    items: list[CommentOut]
    page: int
    per_page: int
    total: int


class CommentUpdate(Strict):
    state: CommentStateName


class CommentBulk(Strict):
    action: Literal["approve", "spam", "delete"]
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=500)


class CommentBulkOut(BaseModel):
    action: str
    changed: int = Field(description="Comments found and changed (or deleted).")


class Problem(BaseModel):
    """RFC 9457 problem details, with the fields at fault when there are any."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None
    candidates: list[Candidate] | None = None


WebhookEventName = Literal["post.created", "post.updated", "post.deleted", "comment.created"]


class WebhookCreate(Strict):
    url: str = Field(
        min_length=1, max_length=2048,
        description="An http(s) URL the fetch guard allows (a private address only through "
        "FEEDSVC_FETCH_ALLOW_HOSTS).",
    )  # fmt: skip
    events: list[WebhookEventName] = Field(
        default_factory=list, max_length=4,
        description="What it is told of besides new posts (post.created, always).",
    )  # fmt: skip
    description: Text = Field("", max_length=200)


class WebhookUpdate(Strict):
    url: str | None = Field(None, min_length=1, max_length=2048)
    events: list[WebhookEventName] | None = Field(None, max_length=4)
    description: Text | None = Field(None, max_length=200)
    enabled: bool | None = Field(
        None, description="true enables it again (its failures forgotten); false disables it."
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    description: str
    events: list[WebhookEventName]
    enabled: bool
    failures: int = Field(description="Attempts failed in a row.")
    disabled_reason: str | None
    pending: int = Field(description="Messages waiting to be sent.")
    created_at: dt.datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="The signing secret (Standard Webhooks' whsec_…): shown this once only."
    )


class WebhookAttemptOut(BaseModel):
    attempted_at: dt.datetime
    message_id: str
    event: WebhookEventName
    state: Literal["pending", "delivered", "failed"] = Field(description="The message's state.")
    status_code: int | None
    duration_ms: int
    error: str | None


# fmt: off
SCHEMAS: list[type[BaseModel]] = [
    SourceCreate, SourceUpdate, Discover, PostCreate, PostUpdate, SourceOut, SourceList,
    FetchOut, RefreshOut, Candidate, PostOut, PostList, ImportOut, ImportSummary, JobOut, Stats,
    Problem, RuleCreate, RuleOut, RuleList, RuleSaved, RulesSummary, PostBrief, RulePreview,
    CommentOut, CommentList, CommentUpdate, CommentBulk, CommentBulkOut,
    WebhookCreate, WebhookUpdate, WebhookOut, WebhookCreated, WebhookAttemptOut,
]
# fmt: on


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    schema = _ref(model) if isinstance(model, type) else model
    return {"content": {"application/json": {"schema": schema}}}


def _problems(*codes: int) -> dict[str, Any]:
    words = {400: "Bad request", 401: "No valid bearer token", 404: "Not found",
             409: "Conflict", 413: "Body too large", 415: "Not JSON",
             422: "Unprocessable"}  # fmt: skip
    return {
        str(code): {"description": words[code],
                    "content": {"application/problem+json": {"schema": _ref(Problem)}}}
        for code in (401, *codes)
    }  # fmt: skip


def _ok(model: type[BaseModel] | dict[str, Any], code: int = 200, text: str = "OK") -> dict:
    return {str(code): {"description": text, **_json(model)}}


# What every operation with a JSON body may answer besides.
BODY_ERRORS = (400, 413, 415, 422)


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {"required": True, **_json(model)}


ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": ID_SCHEMA}


def _query(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


PAGING = [
    _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "From 1."),
    _query("per_page", {"type": "integer", "minimum": 1, "maximum": 500}, "Items per page."),
]
OPML = {"text/x-opml": {"schema": {"type": "string"}}}


def openapi_document(server_url: str) -> dict[str, Any]:
    source_id, post_id = [_id("source_id")], [_id("post_id")]
    paths: dict[str, Any] = {
        "/sources": {
            "get": {
                "operationId": "listSources",
                "summary": "Sources, oldest first",
                "parameters": [
                    *PAGING,
                    _query(
                        "state",
                        {"type": "string", "enum": [str(state) for state in SourceState]},
                        "Only sources in this state.",
                    ),
                ],
                "responses": {**_ok(SourceList), **_problems(400)},
            },
            "post": {
                "operationId": "createSource",
                "summary": "Add a source by its feed URL",
                "requestBody": _body(SourceCreate),
                "responses": {**_ok(SourceOut, 201, "Created"), **_problems(*BODY_ERRORS, 409)},
            },
        },
        "/sources/{source_id}": {
            "parameters": source_id,
            "get": {"operationId": "getSource", "responses": {**_ok(SourceOut), **_problems(404)}},
            "patch": {
                "operationId": "updateSource",
                "requestBody": _body(SourceUpdate),
                "responses": {**_ok(SourceOut), **_problems(*BODY_ERRORS, 404)},
            },
            "delete": {
                "operationId": "deleteSource",
                "parameters": [
                    _query(
                        "keep_posts",
                        {"type": "boolean"},
                        "Keep its posts (default) or delete them too.",
                    )
                ],
                "responses": {"204": {"description": "Deleted"}, **_problems(400, 404)},
            },
        },
        "/sources/{source_id}/refresh": {
            "parameters": source_id,
            "post": {
                "operationId": "refreshSource",
                "summary": "Fetch it now",
                "responses": {**_ok(RefreshOut), **_problems(404)},
            },
        },
        "/sources/{source_id}/fetches": {
            "parameters": source_id,
            "get": {
                "operationId": "listFetches",
                "summary": "Its fetch history, newest first",
                "responses": {**_ok({"type": "array", "items": _ref(FetchOut)}), **_problems(404)},
            },
        },
        "/discover": {
            "post": {
                "operationId": "discoverFeeds",
                "summary": "The feeds a page names, or the feed itself",
                "requestBody": _body(Discover),
                "responses": {
                    **_ok({"type": "array", "items": _ref(Candidate)}),
                    **_problems(*BODY_ERRORS),
                },
            },
        },
        "/posts": {
            "get": {
                "operationId": "listPosts",
                "summary": "Posts, newest first, hidden ones too",
                "parameters": [
                    *PAGING,
                    _query(
                        "q", {"type": "string", "maxLength": 200}, "Words in the title or summary."
                    ),
                    _query("source_id", ID_SCHEMA, "Only this source's."),
                ],
                "responses": {**_ok(PostList), **_problems(400)},
            },
            "post": {
                "operationId": "createPost",
                "summary": "Write a local post",
                "requestBody": _body(PostCreate),
                "responses": {**_ok(PostOut, 201, "Created"), **_problems(*BODY_ERRORS)},
            },
        },
        "/posts/{post_id}": {
            "parameters": post_id,
            "get": {"operationId": "getPost", "responses": {**_ok(PostOut), **_problems(404)}},
            "patch": {
                "operationId": "updatePost",
                "summary": "Edit a local post; hide any post",
                "requestBody": _body(PostUpdate),
                "responses": {**_ok(PostOut), **_problems(*BODY_ERRORS, 404)},
            },
            "delete": {
                "operationId": "deletePost",
                "summary": "Delete a local post",
                "responses": {"204": {"description": "Deleted"}, **_problems(404, 422)},
            },
        },
        "/posts/{post_id}/article": {
            "parameters": post_id,
            "post": {
                "operationId": "fetchArticle",
                "summary": "Fetch the article again (the worker fetches it at once)",
                "responses": {**_ok(PostOut, 202, "Accepted"), **_problems(404, 422)},
            },
        },
        "/opml": {
            "get": {
                "operationId": "exportOpml",
                "summary": "Every source as OPML 2.0",
                "responses": {"200": {"description": "OPML", "content": OPML}, **_problems()},
            },
            "post": {
                "operationId": "importOpml",
                "summary": "Add the feeds of an OPML file",
                "description": "A file of more entries than the server's OPML_SYNC_LIMIT is "
                "imported by a job: the answer is 202 with the job, at its `Location`.",
                "requestBody": {"required": True, "content": OPML},
                "responses": {
                    **_ok(ImportOut),
                    "202": {
                        "description": "Accepted: a job imports it",
                        "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
                        **_json(JobOut),
                    },
                    **_problems(400, 413, 422),
                },
            },
        },
        "/jobs/{job_id}": {
            "parameters": [_id("job_id")],
            "get": {
                "operationId": "getJob",
                "summary": "A job's state and progress",
                "responses": {**_ok(JobOut), **_problems(404)},
            },
        },
        "/rules": {
            "get": {
                "operationId": "listRules",
                "summary": "The filter rules, in the order they run",
                "parameters": [_query("source_id", ID_SCHEMA, "Only this source's rules.")],
                "responses": {**_ok(RuleList), **_problems(400)},
            },
            "post": {
                "operationId": "createRule",
                "summary": "Add a filter rule and apply the rules again to its scope",
                "description": "An invalid pattern is refused (422, field `pattern`) with the "
                "engine's reason. A scope of more stored posts than the server's "
                "RULES_SYNC_LIMIT is done by a job (`job` in the answer).",
                "requestBody": _body(RuleCreate),
                "responses": {**_ok(RuleSaved, 201, "Created"), **_problems(*BODY_ERRORS)},
            },
        },
        "/rules/preview": {
            "post": {
                "operationId": "previewRule",
                "summary": "The stored posts a rule would hide or bring back, nothing saved",
                "requestBody": _body(RuleCreate),
                "responses": {**_ok(RulePreview), **_problems(*BODY_ERRORS)},
            },
        },
        "/rules/{rule_id}": {
            "parameters": [_id("rule_id")],
            "delete": {
                "operationId": "deleteRule",
                "summary": "Delete a rule; the posts it hid come back",
                "responses": {**_ok(RuleSaved), **_problems(404)},
            },
        },
        "/comments": {
            "get": {
                "operationId": "listComments",
                "summary": "Comments, newest first",
                "parameters": [
                    *PAGING,
                    _query(
                        "state",
                        {"type": "string", "enum": ["pending", "approved", "spam"]},
                        "Only comments in this state.",
                    ),
                    _query("post_id", ID_SCHEMA, "Only this post's."),
                ],
                "responses": {**_ok(CommentList), **_problems(400)},
            },
        },
        "/comments/bulk": {
            "post": {
                "operationId": "moderateComments",
                "summary": "Approve, mark as spam or delete many comments at once",
                "requestBody": _body(CommentBulk),
                "responses": {**_ok(CommentBulkOut), **_problems(*BODY_ERRORS)},
            },
        },
        "/comments/{comment_id}": {
            "parameters": [_id("comment_id")],
            "get": {
                "operationId": "getComment",
                "responses": {**_ok(CommentOut), **_problems(404)},
            },
            "patch": {
                "operationId": "updateComment",
                "summary": "Approve a comment, mark it as spam, or hold it again",
                "requestBody": _body(CommentUpdate),
                "responses": {**_ok(CommentOut), **_problems(*BODY_ERRORS, 404)},
            },
            "delete": {
                "operationId": "deleteComment",
                "summary": "Delete a comment and the replies under it",
                "responses": {"204": {"description": "Deleted"}, **_problems(404)},
            },
        },
        "/webhooks": {
            "get": {
                "operationId": "listWebhooks",
                "summary": "The webhook endpoints (their secrets are never shown again)",
                "responses": {**_ok({"type": "array", "items": _ref(WebhookOut)}), **_problems()},
            },
            "post": {
                "operationId": "createWebhook",
                "summary": "Add an endpoint: signed JSON POSTs on new posts, and what it asks for",
                "description": "The answer holds the signing secret, this once. A target the "
                "fetch guard refuses (a loopback or private address) is a 400.",
                "requestBody": _body(WebhookCreate),
                "responses": {**_ok(WebhookCreated, 201, "Created"),
                              **_problems(*BODY_ERRORS)},
            },
        },
        "/webhooks/{webhook_id}": {
            "parameters": [_id("webhook_id")],
            "get": {"operationId": "getWebhook",
                    "responses": {**_ok(WebhookOut), **_problems(404)}},
            "patch": {
                "operationId": "updateWebhook",
                "requestBody": _body(WebhookUpdate),
                "responses": {**_ok(WebhookOut), **_problems(*BODY_ERRORS, 404)},
            },
            "delete": {
                "operationId": "deleteWebhook",
                "summary": "Delete it, its queued messages and its log",
                "responses": {"204": {"description": "Deleted"}, **_problems(404)},
            },
        },
        "/webhooks/{webhook_id}/deliveries": {
            "parameters": [_id("webhook_id")],
            "get": {
                "operationId": "listWebhookDeliveries",
                "summary": "Its delivery log, newest first: time, status, duration",
                "responses": {**_ok({"type": "array", "items": _ref(WebhookAttemptOut)}),
                              **_problems(404)},
            },
        },
        "/stats": {
            "get": {"operationId": "getStats", "responses": {**_ok(Stats), **_problems()}},
        },
    }
    schemas = {
        model.__name__: model.model_json_schema(ref_template="#/components/schemas/{model}")
        for model in SCHEMAS
    }
    for schema in list(schemas.values()):
        # Nested models are listed once, under components.
        for name, nested in schema.pop("$defs", {}).items():
            schemas.setdefault(name, nested)
    return {
        "openapi": "3.1.0",
        "info": {"title": "feedsvc API", "version": __version__,
                 "description": "Manage sources, posts and OPML. Send `Authorization: Bearer "
                                "<token>`; make a token with `feedsvc tokens create` or in the "
                                "admin's Tokens page. Errors are application/problem+json."},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }  # fmt: skip
