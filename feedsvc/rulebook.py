"""The filter rules as a refresh carries them: read in one query, plain values."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc.filtering import Rule
from feedsvc.models import FilterRule


@dataclass(frozen=True)
class RuleBook:
    """Every rule: the global ones, and each source's own, oldest first."""

    global_rules: tuple[Rule, ...] = ()
    by_source: dict[int, tuple[Rule, ...]] = field(default_factory=dict)

    def for_source(self, source_id: int | None) -> tuple[Rule, ...]:
        """The rules a source's entries go through: global first, then its own."""
        own = self.by_source.get(source_id, ()) if source_id is not None else ()
        return self.global_rules + own

    def __bool__(self) -> bool:
        return bool(self.global_rules or self.by_source)


def load_rules(session: Session) -> RuleBook:
    rows = session.execute(
        select(FilterRule.id, FilterRule.action, FilterRule.field, FilterRule.pattern,
               FilterRule.days, FilterRule.source_id).order_by(FilterRule.id)
    )  # fmt: skip
    global_rules: list[Rule] = []
    by_source: dict[int, list[Rule]] = {}
    for row in rows:
        rule = Rule(*row)
        if rule.source_id is None:
            global_rules.append(rule)
        else:
            by_source.setdefault(rule.source_id, []).append(rule)
    return RuleBook(tuple(global_rules), {k: tuple(v) for k, v in by_source.items()})
