"""Filter rules, run: which rule (if any) hides an entry or a stored post. Pure.

Patterns are regular expressions run by RE2 (`google-re2`), whose time is
linear in the text, so no pattern — careless or hostile — can hang a worker;
RE2 refuses what it cannot run in linear time (backreferences, lookaround).
Each pattern is compiled once per process and reused.

An entry is hidden by, in this order:

- the first `block` rule whose field matches;
- the first `keep` rule of a scope (global, or the source's own) when it
  matches none of that scope's keep rules;
- the first `max_age` rule when it was published more than `days` before it
  was first seen.

Whether an entry is hidden does not depend on the order; which rule is named
for it does. Rules come global first, then the source's own, each oldest first.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import re2

from feedsvc import content
from feedsvc.errors import FeedsvcError
from feedsvc.ingest.types import Rule

BLOCK = "block"
KEEP = "keep"
MAX_AGE = "max_age"
ACTIONS = (BLOCK, KEEP, MAX_AGE)
PATTERN_ACTIONS = (BLOCK, KEEP)
FIELDS = ("title", "link", "author", "tags", "content", "any")
MAX_PATTERN = 1000

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the reason goes back to whoever wrote the pattern, not stderr


class InvalidRule(FeedsvcError):
    """A rule that cannot be saved; the message says why, `field` which input."""


def check_pattern(pattern: str) -> str:
    """The pattern if RE2 can run it; else InvalidRule with RE2's reason."""
    if not pattern:
        raise InvalidRule("a pattern is needed", "pattern")
    if len(pattern) > MAX_PATTERN:
        raise InvalidRule(f"the pattern is longer than {MAX_PATTERN} characters", "pattern")
    try:
        compiled(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidRule(f"invalid pattern: {reason}", "pattern") from None
    return pattern


@functools.lru_cache(maxsize=4096)
def compiled(pattern: str) -> Any:
    return re2.compile(pattern, _OPTIONS)


class Fields:
    """The texts rules match, of an entry or a stored post; the content's text
    is extracted only if a rule asks for it."""

    def __init__(
        self,
        title: str,
        link: str | None,
        author: str | None,
        tags: Sequence[str],
        content_html: str,
        summary: str = "",
    ) -> None:
        self.title, self.link, self.author = title or "", link or "", author or ""
        self.tags = tuple(tags)
        self._html, self._summary = content_html or "", summary or ""

    @functools.cached_property
    def content(self) -> str:
        """The content's visible text; a summary-only entry's summary."""
        return content.html_to_text(self._html) or self._summary

    def texts(self, field: str) -> Iterator[str]:
        if field in ("title", "any"):
            yield self.title
        if field in ("link", "any"):
            yield self.link
        if field in ("author", "any"):
            yield self.author
        if field in ("tags", "any"):
            yield from self.tags
        if field in ("content", "any"):
            yield self.content


def entry_fields(values: dict[str, Any], tags: Sequence[str]) -> Fields:
    """The fields of a prepared entry (its post columns)."""
    return Fields(values["title"], values["link"], values["author"], tags, values["content"],
                  values["summary"])  # fmt: skip


def matches(rule: Rule, fields: Fields) -> bool:
    regex = compiled(rule.pattern)
    return any(regex.search(text) is not None for text in fields.texts(rule.field) if text)


def hiding_rule(
    rules: Sequence[Rule],
    fields: Fields,
    published: dt.datetime | None = None,
    first_seen: dt.datetime | None = None,
) -> Rule | None:
    """The rule that hides the entry, or None. Date rules are checked only when
    both times are given."""
    keep_scopes_done: set[int | None] = set()
    for rule in rules:
        if rule.action == BLOCK and matches(rule, fields):
            return rule
        if rule.action == KEEP and rule.source_id not in keep_scopes_done:
            keep_scopes_done.add(rule.source_id)
            scope = (r for r in rules if r.action == KEEP and r.source_id == rule.source_id)
            if not any(matches(r, fields) for r in scope):
                return rule
    if published is None or first_seen is None:
        return None
    return too_old(rules, published, first_seen)


def too_old(rules: Iterable[Rule], published: dt.datetime, first_seen: dt.datetime) -> Rule | None:
    """The first date rule an entry published then and first seen then breaks."""
    for rule in rules:
        old = rule.days is not None and first_seen - published > dt.timedelta(days=rule.days)
        if rule.action == MAX_AGE and old:
            return rule
    return None
