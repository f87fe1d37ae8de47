"""Filter rules as pure cases: fields, order, keep against block, date rules,
invalid patterns, a pattern that would backtrack for ever in a backtracking
engine; then the process step and the plan's dating of new and changed entries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsvc.filtering import FIELDS, Fields, InvalidRule, Rule, check_pattern, hiding_rule, matches
from feedsvc.ingest.plan import FUTURE_DATE, Existing, StoredPost, diff_entries, problems
from feedsvc.ingest.prepare import PreparedEntry, PreparedFeed
from feedsvc.ingest.process import filter_rules, process_feed
from feedsvc.ingest.types import FeedMeta, Target

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def fields(
    title: str = "A post", link: str = "https://a.test/1", author: str = "Ann",
    tags: tuple[str, ...] = ("news",), html: str = "<p>Body text</p>", summary: str = "",
) -> Fields:  # fmt: skip
    return Fields(title, link, author, tags, html, summary)


def block(rule_id: int, field: str, pattern: str, source_id: int | None = None) -> Rule:
    return Rule(rule_id, "block", field, pattern, None, source_id)


def keep(rule_id: int, field: str, pattern: str, source_id: int | None = None) -> Rule:
    return Rule(rule_id, "keep", field, pattern, None, source_id)


def max_age(rule_id: int, days: int, source_id: int | None = None) -> Rule:
    return Rule(rule_id, "max_age", days=days, source_id=source_id)


@pytest.mark.parametrize(
    ("field", "pattern", "hit"),
    [
        ("title", "^A post$", True),
        ("title", "Body", False),
        ("link", r"a\.test/\d", True),
        ("author", "^Ann$", True),
        ("author", "Bob", False),
        ("tags", "^news$", True),
        ("tags", "^sport$", False),
        ("content", "Body text", True),  # the text, not the markup
        ("content", "<p>", False),
        ("any", "Ann", True),
        ("any", "news", True),
        ("any", "nowhere", False),
        ("title", "(?i)A POST", True),
        ("title", "A POST", False),  # case matters unless the pattern says otherwise
    ],
)
def test_each_field_is_matched(field: str, pattern: str, hit: bool) -> None:
    assert matches(block(1, field, pattern), fields()) is hit


def test_a_summary_only_entry_is_matched_on_its_summary() -> None:
    assert matches(block(1, "content", "teaser"), fields(html="", summary="a teaser"))


def test_an_empty_field_matches_nothing_not_even_an_anchor() -> None:
    assert not matches(block(1, "author", "^$"), fields(author=""))


def test_no_rules_hide_nothing() -> None:
    assert hiding_rule((), fields()) is None


def test_the_first_block_rule_that_matches_is_named() -> None:
    rules = (block(1, "title", "nothing"), block(2, "title", "post"), block(3, "any", "Ann"))
    assert hiding_rule(rules, fields()) == rules[1]


def test_keep_rules_hide_what_matches_none_of_them() -> None:
    rules = (keep(1, "tags", "^sport$"), keep(2, "title", "post"))
    assert hiding_rule(rules, fields()) is None  # the second keeps it
    assert hiding_rule(rules, fields(title="Other")) == rules[0]


def test_keep_rules_count_per_scope_global_and_the_sources_own() -> None:
    rules = (keep(1, "title", "post"), keep(2, "author", "Bob", source_id=7))
    # Kept by the global keep rule, but the source's own asks for Bob.
    assert hiding_rule(rules, fields()) == rules[1]
    assert hiding_rule(rules, fields(author="Bob")) is None


def test_block_wins_over_keep() -> None:
    rules = (keep(1, "title", "post"), block(2, "author", "Ann"))
    assert hiding_rule(rules, fields()) == rules[1]


def test_whether_it_is_hidden_does_not_depend_on_the_order() -> None:
    rules = [block(1, "tags", "news"), keep(2, "title", "nothing"), block(3, "author", "Ann")]
    for order in (rules, rules[::-1], [rules[1], rules[0], rules[2]]):
        assert hiding_rule(order, fields()) == order[0]


def test_date_rules_compare_publication_with_first_sight() -> None:
    rules = (max_age(1, 30), max_age(2, 7, source_id=3))
    assert hiding_rule(rules, fields(), NOW - 8 * DAY, NOW) == rules[1]
    assert hiding_rule(rules, fields(), NOW - 31 * DAY, NOW) == rules[0]
    assert hiding_rule(rules, fields(), NOW - 6 * DAY, NOW) is None
    # Old today, but it was fresh when first seen: it stays.
    assert hiding_rule(rules, fields(), NOW - 40 * DAY, NOW - 39 * DAY) is None
    # Without the times, date rules are not checked (the process step).
    assert hiding_rule(rules, fields()) is None


def test_pattern_rules_are_named_before_date_rules() -> None:
    rules = (max_age(1, 1), block(2, "title", "post"))
    assert hiding_rule(rules, fields(), NOW - 9 * DAY, NOW) == rules[1]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(unclosed", "missing )"),
        ("(?=lookahead)", "invalid perl operator"),
        (r"(a)\1", "invalid escape sequence"),
        ("a{2,1}", "invalid repetition size"),
        ("", "a pattern is needed"),
        ("x" * 1001, "longer than 1000"),
    ],
)
def test_an_invalid_pattern_is_refused_with_the_engines_reason(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidRule) as refused:
        check_pattern(pattern)
    assert reason in str(refused.value) and refused.value.field == "pattern"


def test_a_catastrophic_backtracking_pattern_returns_at_once() -> None:
    # (a+)+$ against a long run of "a" ending in "!" takes exponential time in a
    # backtracking engine (Python's re would not return in our lifetime); RE2 is linear.
    evil = "a" * 100_000 + "!"
    assert check_pattern("(a+)+$") == "(a+)+$"
    assert not matches(block(1, "title", "(a+)+$"), fields(title=evil))
    assert not matches(block(1, "content", "(x+x+)+y"), fields(html="<p>" + "x" * 50_000))


def entry(key: str = "k", **values: Any) -> PreparedEntry:
    base: dict[str, Any] = {
        "title": "A post", "link": "https://a.test/1", "author": "Ann", "content": "<p>Body</p>",
        "summary": "Body", "published": NOW - DAY, "updated": None, "content_hash": "c",
        "enclosures": [], "image_url": None,
    }  # fmt: skip
    return PreparedEntry(key=key, entry_hash="e", values={**base, **values}, tags=("news",))


def test_the_process_step_names_the_rule_and_keeps_the_entry() -> None:
    target = Target(1, "http://a.test/feed", rules=(block(5, "title", "post"),))
    assert filter_rules(entry(), target).values["hidden_by_rule"] == 5
    clean = Target(1, "http://a.test/feed", rules=(block(5, "title", "nothing"),))
    assert filter_rules(entry(), clean).values["hidden_by_rule"] is None
    feed = PreparedFeed(meta=FeedMeta(), entries=(entry("a"), entry("b", title="Other")))
    processed = process_feed(feed, target)
    assert [e.values["hidden_by_rule"] for e in processed.entries] == [5, None]


def test_without_rules_the_step_leaves_the_entry_alone() -> None:
    one = entry()
    assert filter_rules(one, Target(1, "http://a.test/feed")) is one


def feed_of(*entries: PreparedEntry) -> PreparedFeed:
    return PreparedFeed(meta=FeedMeta(), entries=entries)


def test_new_entries_dated_in_the_future_are_dated_when_first_seen_and_said() -> None:
    later = NOW + 3 * DAY
    diff = diff_entries(feed_of(entry(published=later, updated=later)), Existing(), NOW)
    (new,) = diff.new
    assert new.values["published"] == NOW and new.values["updated"] == NOW
    assert diff.notes == (FUTURE_DATE,)
    assert FUTURE_DATE in (problems(feed_of(), diff.notes) or "")


def test_a_changed_entry_dated_in_the_future_keeps_its_stored_date() -> None:
    stored = Existing(by_key={"k": StoredPost(9, "old")})
    diff = diff_entries(feed_of(entry(published=NOW + DAY)), stored, NOW)
    assert diff.changed[0].entry.values["published"] is None  # apply keeps the column
    assert diff.notes == (FUTURE_DATE,)


def test_date_rules_hide_new_entries_published_long_before_now() -> None:
    rules = (max_age(4, 30),)
    old, fresh = entry("old", published=NOW - 31 * DAY), entry("fresh", published=NOW - DAY)
    diff = diff_entries(feed_of(old, fresh), Existing(), NOW, rules)
    assert [(e.values["hidden"], e.values["hidden_by_rule"]) for e in diff.new] == [
        (True, 4), (False, None)]  # fmt: skip


def test_an_entry_the_step_hid_is_stored_hidden() -> None:
    diff = diff_entries(feed_of(entry(hidden_by_rule=5)), Existing(), NOW)
    assert (diff.new[0].values["hidden"], diff.new[0].values["hidden_by_rule"]) == (True, 5)


@pytest.mark.parametrize(
    ("stored", "verdict", "written"),
    [
        # Shown, now matched by a rule: hidden.
        (StoredPost(9, "old"), 5, {"hidden": True, "hidden_by_rule": 5}),
        # Hidden by a rule that no longer matches: back.
        (StoredPost(9, "old", hidden=True, hidden_by_rule=5), None,
         {"hidden": False, "hidden_by_rule": None}),
        # Hidden by an admin: left alone, whatever the rules say.
        (StoredPost(9, "old", hidden=True), None, {}),
        (StoredPost(9, "old", hidden=True), 5, {}),
        # Hidden by a date rule when first seen: still old then, stays hidden.
        (StoredPost(9, "old", hidden=True, hidden_by_rule=4), None,
         {"hidden": True, "hidden_by_rule": 4}),
    ],
)  # fmt: skip
def test_a_changed_entry_is_filtered_again_but_an_admins_hiding_stands(
    stored: StoredPost, verdict: int | None, written: dict[str, Any]
) -> None:
    diff = diff_entries(feed_of(entry(hidden_by_rule=verdict)), Existing(by_key={"k": stored}),
                        NOW, (max_age(4, 30),))  # fmt: skip
    values = diff.changed[0].entry.values
    assert {k: values[k] for k in ("hidden", "hidden_by_rule") if k in values} == written


def reference(rules: list[Rule], entry: Fields) -> Rule | None:
    """The rules' meaning, rule by rule in order: what the joined groups must agree with."""
    done: set[int | None] = set()
    for rule in rules:
        if rule.action == "block" and matches(rule, entry):
            return rule
        if rule.action == "keep" and rule.source_id not in done:
            done.add(rule.source_id)
            scope = [r for r in rules if r.action == "keep" and r.source_id == rule.source_id]
            if not any(matches(r, entry) for r in scope):
                return rule
    return None


PATTERNS = ["post", "(?i)POST", "^A", "news$", r"\d", "Ann|Bob", "(?P<x>o)", "Body", "zzz", "^$"]
rule_lists = st.lists(
    st.tuples(st.sampled_from(["block", "keep"]), st.sampled_from(FIELDS),
              st.sampled_from(PATTERNS), st.sampled_from([None, 7])),
    max_size=8,
)  # fmt: skip
entries = st.builds(
    fields,
    title=st.sampled_from(["A post", "News", "", "Other 42"]),
    author=st.sampled_from(["Ann", "Bob", ""]),
    tags=st.sampled_from([(), ("news",), ("a", "b1")]),
    html=st.sampled_from(["", "<p>Body text</p>", "<p>zzz</p>"]),
)


@given(rule_lists, entries)
def test_the_joined_groups_name_the_same_rule_as_trying_each_in_turn(
    specs: list[tuple[str, str, str, int | None]], entry: Fields
) -> None:
    rules = [Rule(n, action, field, pattern, None, source)
             for n, (action, field, pattern, source) in enumerate(specs)]  # fmt: skip
    assert hiding_rule(rules, entry) == reference(rules, entry)
