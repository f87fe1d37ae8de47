"""Filter rules: save, list, delete and preview them, and apply them again to stored posts.

The ingest runs the rules on every new or changed entry (`ingest/process.py`,
`ingest/plan.py`); a post a rule hid is stored hidden with the rule's id in
`hidden_by_rule`. Changing the rules applies them again to the stored posts of
the rule's scope — in the request for a small scope, as a job in the worker
for a large one — which hides posts and brings others back. A post an admin
hid (`hidden` without a rule) and local posts are never touched.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from feedsvc import changes
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.filtering import (
    ACTIONS,
    FIELDS,
    MAX_AGE,
    Fields,
    InvalidRule,
    Rule,
    check_pattern,
    hiding_rule,
)
from feedsvc.models import LOCAL_KEY_PREFIX, FilterRule, Job, Post, Source
from feedsvc.rulebook import RuleBook, load_rules
from feedsvc.vocabulary import JobKind, JobState

# Posts evaluated per transaction when applying the rules again.
CHUNK = 500
# A preview looks at this many of the scope's newest posts, so it answers at once.
PREVIEW_SCAN = 2000
MAX_DAYS = 36500


class RuleError(FeedsvcError):
    """A rule cannot be saved or found; the message says why, `field` which input."""


class RuleNotFound(RuleError):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, rule_id: int) -> None:
        super().__init__(f"no rule with id {rule_id}")


@dataclass(frozen=True)
class Reapplied:
    """What applying the rules again did: posts hidden, brought back, looked at."""

    hidden: int = 0
    shown: int = 0
    scanned: int = 0
    last_id: int = 0


@dataclass(frozen=True)
class Preview:
    """Which stored posts a change of the rules would hide or bring back (some
    examples of each, and how many), among the newest `scanned` of `total`."""

    hide: list[Post]
    bring_back: list[Post]
    hide_count: int
    bring_back_count: int
    scanned: int
    total: int


@dataclass(frozen=True)
class Saved:
    """A rule change, and either what applying it did or the job that will."""

    rule: FilterRule | None
    applied: Reapplied | None = None
    job: Job | None = None

    def describe(self) -> str:
        if self.job is not None:
            return (f"the worker applies the rules to the {self.job.total} stored posts "
                    f"of its scope (job {self.job.id})")  # fmt: skip
        applied = self.applied or Reapplied()
        return f"{applied.hidden} stored posts hidden, {applied.shown} brought back"


def list_rules(session: Session, source_id: int | None = None) -> list[FilterRule]:
    """Every rule (or those of one source), global first, oldest first."""
    query = select(FilterRule).order_by(FilterRule.source_id.is_not(None), FilterRule.source_id,
                                        FilterRule.id)  # fmt: skip
    if source_id is not None:
        query = query.where(FilterRule.source_id == source_id)
    return list(session.scalars(query))


def get_rule(session: Session, rule_id: int) -> FilterRule:
    rule = session.get(FilterRule, rule_id)
    if rule is None:
        raise RuleNotFound(rule_id)
    return rule


def check_rule(
    session: Session,
    action: str,
    field: str = "",
    pattern: str = "",
    days: int | None = None,
    source_id: int | None = None,
) -> Rule:
    """The rule as given, checked (not saved): RuleError naming the input at fault."""
    if action not in ACTIONS:
        raise RuleError(f"the action must be one of {', '.join(ACTIONS)}", "action")
    if source_id is not None and session.get(Source, source_id) is None:
        raise RuleError(f"no source with id {source_id}", "source_id")
    if action == MAX_AGE:
        if days is None or not 1 <= days <= MAX_DAYS:
            raise RuleError(f"days must be a whole number from 1 to {MAX_DAYS}", "days")
        if field or pattern:
            raise RuleError("a max_age rule takes days, not a field or a pattern",
                            "pattern" if pattern else "field")  # fmt: skip
        return Rule(0, action, days=days, source_id=source_id)
    if days is not None:
        raise RuleError(f"a {action} rule takes a field and a pattern, not days", "days")
    if field not in FIELDS:
        raise RuleError(f"the field must be one of {', '.join(FIELDS)}", "field")
    try:
        check_pattern(pattern)
    except InvalidRule as exc:
        raise RuleError(str(exc), exc.field) from None
    return Rule(0, action, field, pattern, None, source_id)


def add_rule(
    session: Session,
    now: dt.datetime,
    *,
    action: str,
    field: str = "",
    pattern: str = "",
    days: int | None = None,
    source_id: int | None = None,
    sync_limit: int = 5000,
) -> Saved:
    """Save a rule and apply the rules again to its scope (or queue that as a job)."""
    rule = check_rule(session, action, field, pattern, days, source_id)
    row = FilterRule(source_id=rule.source_id, action=rule.action, field=rule.field,
                     pattern=rule.pattern, days=rule.days, created_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    return dataclasses.replace(_apply_to_scope(session, now, source_id, sync_limit), rule=row)


def delete_rule(session: Session, rule_id: int, now: dt.datetime, sync_limit: int = 5000) -> Saved:
    """Delete a rule and bring back what it hid (now, or by a job)."""
    row = get_rule(session, rule_id)
    source_id = row.source_id
    session.delete(row)
    session.flush()
    return _apply_to_scope(session, now, source_id, sync_limit)


def _apply_to_scope(
    session: Session, now: dt.datetime, source_id: int | None, sync_limit: int
) -> Saved:
    total = scope_size(session, source_id)
    if total > sync_limit:
        job = Job(kind=JobKind.RULES_APPLY, state=JobState.QUEUED, payload="", total=total, done=0,
                  options={"source_id": source_id}, created_at=now,
                  result={"hidden": 0, "shown": 0})  # fmt: skip
        session.add(job)
        session.flush()
        return Saved(None, job=job)
    return Saved(None, applied=reapply(session, now, source_id))


def scope_size(session: Session, source_id: int | None) -> int:
    """Stored posts rules may touch: one source's, or every source's."""
    query = select(func.count()).select_from(Post).where(*_in_scope(source_id))
    return int(session.scalar(query) or 0)


def reapply(session: Session, now: dt.datetime, source_id: int | None = None) -> Reapplied:
    """Apply the rules again to every stored post of the scope, in one transaction."""
    hidden = shown = scanned = after = 0
    while True:
        done = reapply_chunk(session, now, source_id, after)
        hidden, shown, scanned = hidden + done.hidden, shown + done.shown, scanned + done.scanned
        after = done.last_id
        if done.scanned < CHUNK:
            return Reapplied(hidden, shown, scanned, after)


def reapply_chunk(
    session: Session,
    now: dt.datetime,
    source_id: int | None,
    after_id: int,
    limit: int = CHUNK,
    book: RuleBook | None = None,
) -> Reapplied:
    """The next `limit` posts of the scope after `after_id`, hidden or shown as
    the rules say; the feeds they are in are announced as changed."""
    book = load_rules(session) if book is None else book
    posts = session.scalars(
        select(Post).where(*_in_scope(source_id), Post.id > after_id, _rules_may_touch())
        .order_by(Post.id).limit(limit)
    ).unique().all()  # fmt: skip
    hidden = shown = 0
    scopes: set[str] = set()
    for post in posts:
        wanted = _wanted(book, post)
        if (post.hidden, post.hidden_by_rule) == (wanted is not None, wanted):
            continue
        if post.hidden != (wanted is not None):
            hidden, shown = (hidden + 1, shown) if wanted is not None else (hidden, shown + 1)
            post.modified_at = now
            scopes.update(_scopes(post))
        post.hidden, post.hidden_by_rule = wanted is not None, wanted
    if scopes:
        session.flush()
        changes.note_changes(session, now, scopes)
    return Reapplied(hidden, shown, len(posts), posts[-1].id if posts else after_id)


def preview(
    session: Session,
    *,
    add: Rule | None = None,
    remove: int | None = None,
    examples: int = 20,
    scan: int = PREVIEW_SCAN,
) -> Preview:
    """What adding the rule `add` (checked, unsaved) or deleting rule `remove`
    would hide and bring back among the newest posts of its scope."""
    book = load_rules(session)
    source_id = add.source_id if add is not None else None
    if remove is not None:
        source_id = get_rule(session, remove).source_id
        book = _without(book, remove)
    if add is not None:
        book = _with(book, dataclasses.replace(add, id=-1))
    posts = session.scalars(
        select(Post).where(*_in_scope(source_id), _rules_may_touch())
        .order_by(Post.id.desc()).limit(scan)
    ).unique().all()  # fmt: skip
    hide: list[Post] = []
    bring_back: list[Post] = []
    for post in posts:
        wanted = _wanted(book, post) is not None
        if wanted and not post.hidden:
            hide.append(post)
        elif post.hidden and not wanted:
            bring_back.append(post)
    return Preview(hide[:examples], bring_back[:examples], len(hide), len(bring_back),
                   len(posts), scope_size(session, source_id))  # fmt: skip


def _wanted(book: RuleBook, post: Post) -> int | None:
    """The id of the rule that hides the post, or None."""
    rules = book.for_source(post.source_id)
    if not rules:
        return None
    fields = Fields(post.title, post.link, post.author, [tag.name for tag in post.tags],
                    post.content, post.summary)  # fmt: skip
    rule = hiding_rule(rules, fields, post.published_at, post.created_at)
    return rule.id if rule else None


def _in_scope(source_id: int | None) -> list[ColumnElement[bool]]:
    """Posts from outside (never local ones), of one source or all."""
    conditions: list[ColumnElement[bool]] = [~Post.entry_key.startswith(LOCAL_KEY_PREFIX)]
    if source_id is not None:
        conditions.append(Post.source_id == source_id)
    return conditions


def _rules_may_touch() -> ColumnElement[bool]:
    """Shown posts, and those a rule hid: never one an admin hid."""
    return or_(Post.hidden.is_(False), Post.hidden_by_rule.is_not(None))


def _scopes(post: Post) -> list[str]:
    scopes = [changes.tag_scope(tag.id) for tag in post.tags]
    if post.source_id is not None:
        scopes.append(changes.source_scope(post.source_id))
    return scopes


def _with(book: RuleBook, rule: Rule) -> RuleBook:
    if rule.source_id is None:
        return RuleBook((*book.global_rules, rule), book.by_source)
    own = book.by_source.get(rule.source_id, ())
    return RuleBook(book.global_rules, {**book.by_source, rule.source_id: (*own, rule)})


def _without(book: RuleBook, rule_id: int) -> RuleBook:
    def keep(rules: Sequence[Rule]) -> tuple[Rule, ...]:
        return tuple(rule for rule in rules if rule.id != rule_id)

    return RuleBook(keep(book.global_rules), {k: keep(v) for k, v in book.by_source.items()})


def describe(rule: FilterRule | Rule) -> str:
    """The rule in words: "block title ~ /sponsored/" or "hide entries older than 30 days"."""
    if rule.action == MAX_AGE:
        return f"hide entries published more than {rule.days} days before first seen"
    return f"{rule.action} {rule.field} ~ /{rule.pattern}/"
