"""Comments under posts: taking one from the public form (with its spam
defence), moderating them, and reading them back for pages, feeds and counts.

The form is plain HTML: no script, no session. What stops spam, in order:
the post must take comments, a honeypot field must stay empty, a browser's
User-Agent (feedsvc/bots.txt), a form token from our page at least a few
seconds old and not expired (feedsvc/comment_tokens.py), then a per-address
rate limit counted where every process sees it (the sign-in attempts' store).
Moderation decides the rest: `all` holds every comment, `first` a first-time
commenter's and any with a link, `none` only those with too many links.

Every change of an approved comment recounts its post and notes the change
(changes.note_comment_changes): its post's comment feeds, the site's comment
feed and the counts move on; the post feeds' cached renders do not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from limits import parse_many
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql import Select

from feedsvc import changes, comment_text, comment_tokens, fields, webhooks
from feedsvc.content import normalize_space
from feedsvc.db import Database
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.models import Comment, Post
from feedsvc.popularity import is_bot
from feedsvc.settings import CommentSettings
from feedsvc.sign_in_limits import AttemptStore, attempt_store
from feedsvc.urls import web_url
from feedsvc.vocabulary import CommentState, Moderation

NAME_MAX = 200
URL_MAX = 2048
BODY_MAX = 10_000
# The name beside an admin's replies when none is given.
ADMIN_NAME = "Author"
BUCKET = "comment:"


class CommentError(FeedsvcError):
    """A comment cannot be taken or changed as given; the message says why."""


class CommentsClosed(CommentError):
    """The post takes no new comments."""

    kind = ErrorKind.CONFLICT


class CommentRefused(CommentError):
    """The comment looks automated (honeypot filled, a bot's User-Agent)."""


class RateLimited(CommentError):
    """Too many comments from one address; `retry_after` says for how long."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many comments from your address: try again in {retry_after} seconds")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Submission:
    """What the public form sent, and who sent it."""

    post_id: int
    name: str
    website: str
    body: str
    token: str
    parent_id: int | None = None
    # The honeypot: a field people never see, so never fill.
    honeypot: str = ""
    address: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class Shown:
    """An approved comment as a page shows it: plain values, read without the
    ORM's bookkeeping (a page may show hundreds); `website` only when http(s)."""

    id: int
    parent_id: int | None
    author_name: str
    website: str | None
    body: str
    by_admin: bool
    created_at: dt.datetime


@dataclass
class Thread:
    """An approved top-level comment and its approved replies, oldest first."""

    comment: Shown
    replies: list[Shown] = field(default_factory=list)


class CommentLimiter:
    """Comments per client address, under moving windows ("5 per 10 minutes")."""

    def __init__(self, store: AttemptStore, limits: str) -> None:
        self.store = store
        self.limits = parse_many(limits)

    @classmethod
    def configured(cls, storage_uri: str, db: Database, limits: str) -> CommentLimiter:
        """Counted where sign-in attempts are: the database, or a `limits` storage."""
        store = attempt_store(storage_uri, db, limits, prefixes=(BUCKET,),
                              namespace="feedsvc-comments")  # fmt: skip
        return cls(store, limits)

    def hit(self, address: str, now: dt.datetime) -> None:
        """Count one comment from the address, or raise RateLimited."""
        wait = self.store.hit([(BUCKET + address[:200], item) for item in self.limits], now)
        if wait is not None:
            raise RateLimited(max(1, math.ceil(wait)))


# --- the rules ----------------------------------------------------------------


def comments_open(post: Post, settings: CommentSettings, now: dt.datetime) -> bool:
    """Whether the post takes new comments: on site-wide, not closed by an
    admin, and not older than FEEDSVC_COMMENTS_CLOSE_DAYS."""
    if not settings.enabled or post.comments_closed or post.hidden:
        return False
    if settings.close_days:
        return now - post.published_at <= dt.timedelta(days=settings.close_days)
    return True


def initial_state(mode: Moderation, links: int, max_links: int, known_author: bool) -> CommentState:
    """Whether a new comment is shown at once or waits for an admin."""
    if links > max_links or mode == Moderation.ALL:
        return CommentState.PENDING
    if mode == Moderation.FIRST and (links > 0 or not known_author):
        return CommentState.PENDING
    return CommentState.APPROVED


def author_key(secret: str, name: str, website: str | None) -> str:
    """Who a commenter is, as far as a form can tell: name and website, keyed."""
    message = f"{name.casefold()}\n{(website or '').lower()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def form_token(secret: str, post_id: int, now: dt.datetime, settings: CommentSettings) -> str:
    return comment_tokens.issue(secret, post_id, now, settings.min_seconds)


# --- taking a comment ---------------------------------------------------------


def submit(
    session: Session,
    form: Submission,
    *,
    settings: CommentSettings,
    secret: str,
    limiter: CommentLimiter,
    now: dt.datetime,
) -> Comment:
    """Take a comment from the public form: the spam defence, then moderation.
    Raises a CommentError (or BadToken) saying what to correct."""
    post = session.get(Post, form.post_id)
    if post is None or post.hidden:
        raise CommentError(f"no post with id {form.post_id}", "post_id", kind=ErrorKind.NOT_FOUND)
    if not comments_open(post, settings, now):
        raise CommentsClosed("comments are closed on this post")
    if form.honeypot.strip():
        raise CommentRefused("this comment looks automated and was not taken", "email")
    if is_bot(form.user_agent):
        raise CommentRefused("comments are taken from browsers only", "user_agent")
    comment_tokens.check(secret, form.token, post.id, now,
                         dt.timedelta(hours=settings.token_hours))  # fmt: skip
    name, website, body = _checked_fields(form.name, form.website, form.body)
    parent_id = _thread_of(session, post.id, form.parent_id)
    limiter.hit(form.address, now)
    key = author_key(secret, name, website)
    known = session.scalar(
        select(Comment.id)
        .where(Comment.author_key == key, Comment.state == CommentState.APPROVED)
        .limit(1)
    )
    state = initial_state(settings.moderation, comment_text.count_links(body),
                          settings.max_links, known is not None)  # fmt: skip
    comment = Comment(post_id=post.id, parent_id=parent_id, state=state, author_name=name,
                      author_url=website, author_key=key, body=body, created_at=now)  # fmt: skip
    session.add(comment)
    session.flush()
    if state == CommentState.APPROVED:
        _recount(session, [post.id], now)
        webhooks.note_comments(session, [comment.id], now)
    return comment


def admin_reply(
    session: Session,
    post_id: int,
    body: str,
    *,
    secret: str,
    now: dt.datetime,
    parent_id: int | None = None,
    name: str = ADMIN_NAME,
) -> Comment:
    """An admin's comment or reply: approved at once, marked as the author's.
    Taken even where comments are closed."""
    post = session.get(Post, post_id)
    if post is None:
        raise CommentError(f"no post with id {post_id}", "post_id", kind=ErrorKind.NOT_FOUND)
    name, _, body = _checked_fields(name or ADMIN_NAME, "", body)
    comment = Comment(
        post_id=post.id, parent_id=_thread_of(session, post.id, parent_id),
        state=CommentState.APPROVED, author_name=name, author_url=None,
        author_key=author_key(secret, name, None), body=body, by_admin=True, created_at=now,
    )  # fmt: skip
    session.add(comment)
    session.flush()
    _recount(session, [post.id], now)
    webhooks.note_comments(session, [comment.id], now)
    return comment


def parent_of(raw: str) -> int | None:
    """The comment a form's `parent_id` names: None when empty, else its id."""
    raw = raw.strip()
    if not raw:
        return None
    if not (raw.isdigit() and len(raw) < 12):
        raise CommentError("the comment replied to is not on this post", "parent_id")
    return int(raw)


def _checked_fields(name: str, website: str, body: str) -> tuple[str, str | None, str]:
    # A name reads as it is: no bidi overrides or zero-width characters.
    name = normalize_space(fields.check_text(name, "name"))
    if not name:
        raise CommentError("a comment needs a name", "name")
    if len(name) > NAME_MAX:
        raise CommentError(f"the name is longer than {NAME_MAX} characters", "name")
    website = website.strip()
    url = None
    if website:
        url = web_url(website)
        if url is None or len(url) > URL_MAX:
            raise CommentError("the website must be an http:// or https:// address", "website")
    body = comment_text.normalize(body)
    if not body:
        raise CommentError("the comment is empty", "body")
    if len(body) > BODY_MAX:
        raise CommentError(f"the comment is longer than {BODY_MAX} characters", "body")
    return name, url, body


def _thread_of(session: Session, post_id: int, parent_id: int | None) -> int | None:
    """The top-level comment a reply goes under: one level of replies, so a
    reply to a reply joins its thread."""
    if parent_id is None:
        return None
    parent = session.get(Comment, parent_id)
    if parent is None or parent.post_id != post_id or parent.state != CommentState.APPROVED:
        raise CommentError("the comment replied to is not on this post", "parent_id")
    return parent.parent_id or parent.id


# --- moderation ---------------------------------------------------------------


def approve(session: Session, ids: Iterable[int], now: dt.datetime) -> int:
    return set_state(session, ids, CommentState.APPROVED, now)


def mark_spam(session: Session, ids: Iterable[int], now: dt.datetime) -> int:
    return set_state(session, ids, CommentState.SPAM, now)


def delete_comments(session: Session, ids: Iterable[int], now: dt.datetime) -> int:
    """Delete the comments (and the replies under them); how many were found."""
    wanted = sorted(set(ids))
    post_ids = _post_ids(session, wanted)
    found = session.execute(delete(Comment).where(Comment.id.in_(wanted))).rowcount  # type: ignore[attr-defined]
    # SQLite enforces the cascade too (foreign keys are on), but say it for both.
    session.execute(delete(Comment).where(Comment.parent_id.in_(wanted)))
    _recount(session, post_ids, now)
    return int(found or 0)


# The bulk moderation actions, by the names the admin's form and the API give them.
ACTIONS = {"approve": approve, "spam": mark_spam, "delete": delete_comments}


def set_state(session: Session, ids: Iterable[int], state: CommentState,
               now: dt.datetime) -> int:  # fmt: skip
    """Put the comments in this state; how many were found."""
    wanted = sorted(set(ids))
    post_ids = _post_ids(session, wanted)
    # Comments shown from now on: webhooks tell of them.
    shown = [] if state != CommentState.APPROVED else list(session.scalars(
        select(Comment.id).where(Comment.id.in_(wanted), Comment.state != state)
    ))  # fmt: skip
    found = session.execute(
        update(Comment).where(Comment.id.in_(wanted)).values(state=state)
    ).rowcount  # type: ignore[attr-defined]
    _recount(session, post_ids, now)
    webhooks.note_comments(session, shown, now)
    return int(found or 0)


def _post_ids(session: Session, comment_ids: Sequence[int]) -> list[int]:
    if not comment_ids:
        return []
    return list(session.scalars(
        select(Comment.post_id).where(Comment.id.in_(comment_ids)).distinct()
    ))  # fmt: skip


def _recount(session: Session, post_ids: Iterable[int], now: dt.datetime) -> None:
    """Keep the posts' approved-comment counts, and announce their comments changed."""
    post_ids = sorted(set(post_ids))
    if not post_ids:
        return
    approved = (
        select(func.count(Comment.id))
        .where(Comment.post_id == Post.id, Comment.state == CommentState.APPROVED)
        .scalar_subquery()
    )
    session.execute(
        update(Post).where(Post.id.in_(post_ids)).values(comment_count=approved),
        execution_options={"synchronize_session": False},
    )
    session.expire_all()
    changes.note_comment_changes(session, now, post_ids)


def set_closed(session: Session, post_id: int, closed: bool, now: dt.datetime) -> Post:
    """Close (or open again) a post's comments."""
    post = session.get(Post, post_id)
    if post is None:
        raise CommentError(f"no post with id {post_id}", "post_id", kind=ErrorKind.NOT_FOUND)
    post.comments_closed = closed
    changes.note_comment_changes(session, now, [post_id])
    return post


# --- reading ------------------------------------------------------------------


def threads(session: Session, post_id: int) -> list[Thread]:
    """The post's approved comments as threads, oldest first, in one query."""
    found = session.execute(
        select(Comment.id, Comment.parent_id, Comment.author_name, Comment.author_url,
               Comment.body, Comment.by_admin, Comment.created_at)
        .where(Comment.post_id == post_id, Comment.state == CommentState.APPROVED)
        .order_by(Comment.created_at, Comment.id)
    )  # fmt: skip
    rows = [Shown(row.id, row.parent_id, row.author_name, web_url(row.author_url), row.body,
                  row.by_admin, row.created_at) for row in found]  # fmt: skip
    by_id = {row.id: Thread(row) for row in rows if row.parent_id is None}
    for row in rows:
        if row.parent_id is not None and row.parent_id in by_id:
            by_id[row.parent_id].replies.append(row)
    return list(by_id.values())


def reply_target(session: Session, post_id: int, comment_id: int) -> Comment | None:
    """The approved comment of this post a reader asked to reply to, if it is one."""
    found = session.get(Comment, comment_id)
    if found is None or found.post_id != post_id or found.state != CommentState.APPROVED:
        return None
    return found


def listed(
    session: Session,
    *,
    state: CommentState | None = None,
    post_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[Comment]:
    """Comments newest first, of one state and post when asked, with their posts."""
    query = _filtered(select(Comment).options(joinedload(Comment.post)), state, post_id)
    query = query.order_by(Comment.created_at.desc(), Comment.id.desc())
    return session.scalars(query.limit(limit).offset(offset)).all()


def count_listed(
    session: Session, *, state: CommentState | None = None, post_id: int | None = None
) -> int:
    return int(session.scalar(_filtered(select(func.count(Comment.id)), state, post_id)) or 0)


def _filtered(query: Select[Any], state: CommentState | None, post_id: int | None) -> Select[Any]:
    if state is not None:
        query = query.where(Comment.state == state)
    if post_id is not None:
        query = query.where(Comment.post_id == post_id)
    return query


def count_pending(session: Session) -> int:
    return count_listed(session, state=CommentState.PENDING)


def get_comment(session: Session, comment_id: int) -> Comment:
    found = session.get(Comment, comment_id)
    if found is None:
        raise CommentError(f"no comment with id {comment_id}", "id", kind=ErrorKind.NOT_FOUND)
    return found


def feed_comments(
    session: Session, limit: int, offset: int, post_id: int | None = None
) -> Sequence[Comment]:
    """Approved comments of visible posts (or of one post), newest first."""
    query = (
        select(Comment)
        .join(Post, Post.id == Comment.post_id)
        .options(joinedload(Comment.post), joinedload(Comment.parent))
        .where(Comment.state == CommentState.APPROVED, Post.hidden.is_(False))
    )
    if post_id is not None:
        query = query.where(Comment.post_id == post_id)
    query = query.order_by(Comment.created_at.desc(), Comment.id.desc())
    return session.scalars(query.limit(limit).offset(offset)).all()


def count_feed_comments(session: Session, post_id: int | None = None) -> int:
    query = (
        select(func.count(Comment.id))
        .join(Post, Post.id == Comment.post_id)
        .where(Comment.state == CommentState.APPROVED, Post.hidden.is_(False))
    )
    if post_id is not None:
        query = query.where(Comment.post_id == post_id)
    return int(session.scalar(query) or 0)
