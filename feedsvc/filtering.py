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

Fifty rules must not cost fifty scans of each entry: the block rules, and the
keep rules of each scope, are joined into one RE2 alternation per field and
compiled once per set of rules, so a field is scanned once per group; only
when a block rule matches are the rules tried one by one, to name the first.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from feedsvc import content
from feedsvc.errors import FeedsvcError

BLOCK = "block"
KEEP = "keep"
MAX_AGE = "max_age"
ACTIONS = (BLOCK, KEEP, MAX_AGE)
PATTERN_ACTIONS = (BLOCK, KEEP)
FIELDS = ("title", "link", "author", "tags", "content", "any")
MAX_PATTERN = 1000

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the reason goes back to whoever wrote the pattern, not stderr
# Joined patterns only answer whether one matches: no groups (two may share a name).
_JOINED = re2.Options()
_JOINED.log_errors = False
_JOINED.never_capture = True
TEXT_FIELDS = ("title", "link", "author", "tags", "content")  # content last: it costs most


@dataclass(frozen=True)
class Rule:
    """A filter rule as the ingest and `rules.py` read it, and this module runs it.

    `block` hides entries whose `field` matches `pattern`; `keep` hides those
    matching none of the keep rules of its scope; `max_age` hides entries
    published more than `days` before they were first seen. `source_id` None:
    every source's."""

    id: int
    action: str
    field: str = ""
    pattern: str = ""
    days: int | None = None
    source_id: int | None = None


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
        return content.sanitized_text(self._html) or self._summary

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


class _Group:
    """Pattern rules asked together whether any matches: one scan per field."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self.by_field = {
            field: _joined(tuple(r.pattern for r in rules if r.field in (field, "any")))
            for field in TEXT_FIELDS
            if any(r.field in (field, "any") for r in rules)
        }

    def matches(self, fields: Fields) -> bool:
        return any(regex.search(text) is not None
                   for field, regex in self.by_field.items()
                   for text in fields.texts(field) if text)  # fmt: skip


class _OneByOne:
    """The patterns tried in turn, when RE2 cannot join them (it always can, so far)."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.regexes = [compiled(pattern) for pattern in patterns]

    def search(self, text: str) -> object | None:
        return next((m for m in (r.search(text) for r in self.regexes) if m is not None), None)


def _joined(patterns: tuple[str, ...]) -> Any:
    if len(patterns) == 1:
        return compiled(patterns[0])
    try:
        return re2.compile("|".join(f"(?:{pattern})" for pattern in patterns), _JOINED)
    except re2.error:
        return _OneByOne(patterns)


class _Plan:
    """A set of rules made ready to run: the block rules as a group, and each
    scope's keep rules as a group behind the first of them."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.position = {rule: index for index, rule in enumerate(rules)}
        blocks = [rule for rule in rules if rule.action == BLOCK]
        self.block = _Group(blocks) if blocks else None
        scopes: dict[int | None, list[Rule]] = {}
        for rule in rules:
            if rule.action == KEEP:
                scopes.setdefault(rule.source_id, []).append(rule)
        self.keeps = [(scope[0], _Group(scope)) for scope in scopes.values()]


_last: tuple[tuple[Rule, ...], _Plan] | None = None


def _plan(rules: tuple[Rule, ...]) -> _Plan:
    """The plan of these rules; the entries of one feed share one tuple, so
    the last one is checked by identity before hashing fifty rules."""
    global _last
    if _last is None or _last[0] is not rules:
        _last = (rules, _cached_plan(rules))
    return _last[1]


@functools.lru_cache(maxsize=1024)
def _cached_plan(rules: tuple[Rule, ...]) -> _Plan:
    return _Plan(rules)


def hiding_rule(
    rules: Sequence[Rule],
    fields: Fields,
    published: dt.datetime | None = None,
    first_seen: dt.datetime | None = None,
) -> Rule | None:
    """The first rule, in order, that hides the entry: a block rule that matches,
    or the first keep rule of a scope none of whose keep rules match; else a date
    rule, checked only when both times are given; else None."""
    plan = _plan(tuple(rules))
    found: Rule | None = None
    if plan.block is not None and plan.block.matches(fields):
        found = next(rule for rule in plan.block.rules if matches(rule, fields))
    for first, group in plan.keeps:
        earlier = found is None or plan.position[first] < plan.position[found]
        if earlier and not group.matches(fields):
            found = first
    if found is not None or published is None or first_seen is None:
        return found
    return too_old(rules, published, first_seen)


def too_old(rules: Iterable[Rule], published: dt.datetime, first_seen: dt.datetime) -> Rule | None:
    """The first date rule an entry published then and first seen then breaks."""
    for rule in rules:
        old = rule.days is not None and first_seen - published > dt.timedelta(days=rule.days)
        if rule.action == MAX_AGE and old:
            return rule
    return None
