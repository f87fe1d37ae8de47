"""The service's words for results, error kinds and states, one meaning each.

Each is a `StrEnum` whose values are the strings stored in the database and
shown in the API, so a member compares equal to (and is stored as) its string.

- A *result* is what one refresh of a source amounted to (`Result`); the fetch
  history stores it in its `outcome` column and the API shows it by that name.
- A *fetch error kind* says why a fetch brought no answer, or why its body was
  no feed (`FetchErrorKind`); it feeds the policy, which turns it into a result.
"""

from __future__ import annotations

from enum import StrEnum


class Result(StrEnum):
    """What a refresh amounted to."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"
    GONE = "gone"
    THROTTLED = "throttled"
    REFUSED = "refused"

    @property
    def succeeded(self) -> bool:
        return self in (Result.OK, Result.NOT_MODIFIED)


class FetchErrorKind(StrEnum):
    """Why a fetch failed (or its body was no feed)."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    TLS = "tls"
    REFUSED = "refused"
    TOO_LARGE = "too_large"
    TOO_MANY_REDIRECTS = "redirects"
    BAD_URL = "bad_url"
    PARSE = "parse"
    # The pipeline itself failed on it (a parse process crashed, say).
    INTERNAL = "internal"


# The shortest interval between checks of a source by default
# (FEEDSVC_FETCH_MIN_INTERVAL): an admin's fixed interval may not be shorter.
MIN_INTERVAL = 300
# The longest fixed interval an admin may set: a year.
MAX_FIXED_INTERVAL = 31_536_000

# An active source with this many errors in a row is "failing" (still tried, at the
# backoff cap): the schedule's policy and the admin's states agree on it here.
FAILING_AFTER = 10


class SourceStatus(StrEnum):
    """The states an admin sets on a source; warning and failing (`SourceState`)
    are derived from its error count."""

    ACTIVE = "active"
    PAUSED = "paused"
    GONE = "gone"


class SourceState(StrEnum):
    """A source as an admin sees it, in the order the admin lists them: what needs
    attention first. warning and failing are active sources with errors in a row
    (failing from FAILING_AFTER on, warning from the first)."""

    FAILING = "failing"
    WARNING = "warning"
    ACTIVE = "active"
    PAUSED = "paused"
    GONE = "gone"


class WorkerState(StrEnum):
    """Whether some worker beat lately: ok, stale (it stopped) or missing (none ever did)."""

    OK = "ok"
    STALE = "stale"
    MISSING = "missing"


class PostMode(StrEnum):
    """How a source's posts are republished."""

    FULL = "full"
    SUMMARY = "summary"
    LINK = "link"


class ArticleState(StrEnum):
    """Where a post's full article stands (its source asks for full articles)."""

    PENDING = "pending"
    FETCHED = "fetched"
    FAILED = "failed"


class JobState(StrEnum):
    """Where a job (long admin work run by the worker) stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobKind(StrEnum):
    """What a job does: an OPML file's sources added, or the rules applied to stored posts."""

    OPML_IMPORT = "opml_import"
    RULES_APPLY = "rules_apply"


class CommentState(StrEnum):
    """Where a comment stands: waiting for an admin, shown, or kept as spam."""

    PENDING = "pending"
    APPROVED = "approved"
    SPAM = "spam"


class Moderation(StrEnum):
    """Which comments wait for approval (FEEDSVC_COMMENTS_MODERATION)."""

    # Every one.
    ALL = "all"
    # A first-time commenter's, and any with links.
    FIRST = "first"
    # None but those with too many links.
    NONE = "none"


class PushState(StrEnum):
    """Where our WebSub subscription to an upstream hub stands (feedsvc/push/)."""

    # Asked for (or being renewed), the hub's verification awaited.
    SUBSCRIBING = "subscribing"
    # Verified: the hub pushes until the lease ends.
    LIVE = "live"
    # Asked to end (the source paused, deleted, or its feed moved hub), verification awaited.
    UNSUBSCRIBING = "unsubscribing"
    UNSUBSCRIBED = "unsubscribed"
    # The hub refused it.
    DENIED = "denied"


class WebhookEvent(StrEnum):
    """What a webhook endpoint is told about (feedsvc/webhooks.py): the `type`
    of the JSON it is sent. New posts always; the others when asked for."""

    POST_CREATED = "post.created"
    POST_UPDATED = "post.updated"
    POST_DELETED = "post.deleted"
    COMMENT_CREATED = "comment.created"


class DeliveryState(StrEnum):
    """Where one webhook message stands."""

    # Waiting for its (next) attempt at `next_attempt_at`.
    PENDING = "pending"
    DELIVERED = "delivered"
    # Every attempt failed, or its endpoint was deleted or disabled.
    FAILED = "failed"
