"""The whole decision of one refresh, as data: pure, like reader's Decider.

Given what was fetched and made of it, the source row as it stands and the
posts already stored, `plan_refresh` says everything that is to be written:
the source row's next state (result, next check, error count, last error,
validators kept, a new URL, a status change, which metadata wins) and the
entry diff (new, changed, re-keyed by link, unchanged). `apply` only writes it.
Nothing here touches the network, the database or the clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from feedsvc import messages
from feedsvc.fetched import FetchResult
from feedsvc.filtering import MAX_AGE, Rule, too_old
from feedsvc.ingest import policy
from feedsvc.ingest.types import FeedMeta, Parsed, Podcast, PreparedEntry, PreparedFeed
from feedsvc.urls import stored_url
from feedsvc.vocabulary import FetchErrorKind, Result, SourceStatus


@dataclass(frozen=True)
class SourceRow:
    """The columns of the source the decision reads, as they stand now."""

    feed_url: str
    status: str = SourceStatus.ACTIVE
    error_count: int = 0
    interval_override: int | None = None
    hint_interval: int | None = None
    # Seconds between the last check and the next one planned then.
    previous_interval: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_success_at: dt.datetime | None = None
    title: str = ""
    site_url: str | None = None
    description: str = ""
    # When the lease of the source's live WebSub subscription ends (None: none).
    push_until: dt.datetime | None = None

    @property
    def fresh(self) -> bool:
        return self.last_success_at is None


@dataclass(frozen=True)
class StoredPost:
    id: int
    content_hash: str
    entry_hash: str | None = None
    key: str = ""
    hidden: bool = False
    # The filter rule that hid it; None for a post an admin hid.
    hidden_by_rule: int | None = None


@dataclass(frozen=True)
class Existing:
    """What is stored that the entries of this fetch may match."""

    by_key: Mapping[str, StoredPost] = field(default_factory=dict)
    by_link: Mapping[str, StoredPost] = field(default_factory=dict)
    # Publication times of recent posts (last week and the newest); None: not looked up.
    entry_times: tuple[dt.datetime, ...] | None = None
    # The URL a permanent redirect leads to belongs to another source already.
    new_url_taken: bool = False
    # Keys of entries whose posts retention deleted: not stored again.
    pruned: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SourceChanges:
    """The source row's next state: apply writes every field."""

    feed_url: str
    status: str
    error_count: int
    last_error: str | None
    next_check_at: dt.datetime
    last_checked_at: dt.datetime
    last_success_at: dt.datetime | None
    etag: str | None
    last_modified: str | None
    title: str
    site_url: str | None
    description: str
    hint_interval: int | None
    # Only written after a successful parse (None here means "leave as is").
    upstream: tuple[str | None, dt.datetime | None] | None = None
    # The podcast channel's iTunes description, written with `upstream`.
    itunes: dict[str, Any] | None = None
    # The WebSub hub and topic the feed names, (None, None) when it names none;
    # None: leave them as they are.
    websub: tuple[str | None, str | None] | None = None
    # A browser-like User-Agent got the feed after a 403: send it from now on.
    as_browser: bool = False


@dataclass(frozen=True)
class PostChange:
    post_id: int
    entry: PreparedEntry
    # Set when the entry matched by link under a new id: the post takes the new key.
    new_key: str | None = None


@dataclass(frozen=True)
class EntryDiff:
    new: tuple[PreparedEntry, ...] = ()
    changed: tuple[PostChange, ...] = ()
    # Posts whose entry changed upstream in no way a reader sees: only the hash
    # moves, and the canonical link (posts stored before it existed get one).
    rehashed: tuple[tuple[int, str, str | None], ...] = ()
    unchanged: int = 0
    # What the diff said about entries (dates in the future), one note per entry.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attempt:
    """The fetch history row."""

    url: str
    status_code: int | None
    duration_ms: int
    bytes: int
    result: Result
    error: str | None


@dataclass(frozen=True)
class Plan:
    source_id: int
    result: Result
    source: SourceChanges
    entries: EntryDiff
    attempt: Attempt


def plan_refresh(
    source_id: int,
    row: SourceRow,
    fetched: FetchResult,
    parsed: Parsed | None,
    existing: Existing,
    now: dt.datetime,
    settings: policy.ScheduleSettings,
    jitter: float,
    rules: Sequence[Rule] = (),
) -> Plan:
    """Everything one fetch leads to, for `apply` to write; `rules` are the
    source's filter rules (the date rules are applied here, knowing `now`)."""
    feed = parsed.feed if parsed else None
    observed = observe(fetched, parsed)
    decision = policy.decide(
        policy.SourceState(
            feed_url=row.feed_url,
            error_count=row.error_count,
            interval_override=row.interval_override,
            hint_interval=feed.meta.hint_interval if feed else row.hint_interval,
            previous_interval=row.previous_interval,
            pushed=row.push_until is not None and row.push_until > now,
        ),
        observed,
        now,
        settings,
        entry_times=learning_times(existing.entry_times, feed, fetched),
        jitter=jitter,
    )
    stores = decision.store_entries and feed is not None
    diff = diff_entries(feed, existing, now, rules) if stores and feed else EntryDiff()
    return _plan(source_id, row, fetched, feed if stores else None, decision, observed.error_kind,
                 existing, now, settings, diff)  # fmt: skip


def _plan(
    source_id: int,
    row: SourceRow,
    fetched: FetchResult,
    feed: PreparedFeed | None,
    decision: policy.Decision,
    error_kind: str | None,
    existing: Existing,
    now: dt.datetime,
    settings: policy.ScheduleSettings,
    diff: EntryDiff,
) -> Plan:
    """The plan of a decision made: the source's next state and the history row."""
    source = next_source_state(row, fetched, feed, decision, existing, now, settings, diff.notes)
    if not decision.result.succeeded:
        # The source says it in a sentence with a next step; the history keeps the detail.
        words = messages.fetch_problem(
            error_kind, fetched.final_url or fetched.url, fetched.status, decision.error
        )
        source = dataclasses.replace(source, last_error=words)
    attempt = Attempt(
        url=fetched.url,
        status_code=fetched.status,
        duration_ms=fetched.elapsed_ms,
        bytes=len(fetched.content),
        result=decision.result,
        error=decision.error if not decision.result.succeeded else source.last_error,
    )
    return Plan(source_id, decision.result, source, diff, attempt)


def plan_crash(
    source_id: int,
    row: SourceRow,
    fetched: FetchResult,
    error: str,
    now: dt.datetime,
    settings: policy.ScheduleSettings,
    jitter: float,
) -> Plan:
    """A bug of ours while storing: say so on the source and back off, store nothing.
    It is planned as a failed fetch: nothing the fetch brought is believed."""
    errors = row.error_count + 1
    delay = policy.backoff_seconds(errors, settings, jitter)
    decision = policy.Decision(Result.ERROR, now + dt.timedelta(seconds=delay), errors,
                               f"internal error while storing: {error}")  # fmt: skip
    return _plan(source_id, row, fetched, None, decision, FetchErrorKind.INTERNAL, Existing(),
                 now, settings, EntryDiff())  # fmt: skip


def observe(fetched: FetchResult, parsed: Parsed | None) -> policy.Observation:
    """The fetch as the policy sees it: a body that is no feed is the source's error."""
    no_feed = parsed if parsed is not None and parsed.feed is None else None
    return policy.Observation(
        status=fetched.status,
        final_url=fetched.final_url,
        # A permanent redirect to something that is no feed is not followed.
        permanent_redirect=fetched.permanent_redirect and no_feed is None,
        headers=fetched.headers,
        error_kind=FetchErrorKind.PARSE if no_feed else fetched.error_kind,
        error=(no_feed.error or "the feed could not be parsed") if no_feed else fetched.error,
    )


def learning_times(
    stored: tuple[dt.datetime, ...] | None, feed: PreparedFeed | None, fetched: FetchResult
) -> tuple[dt.datetime, ...] | None:
    """Publication times the adaptive interval learns from; None keeps the last interval."""
    if fetched.status == 304 or (stored is None and feed is None):
        return None
    times = set(stored or ())
    if feed is not None:
        times.update(feed.entry_times)
    return tuple(sorted(times))


def next_source_state(
    row: SourceRow,
    fetched: FetchResult,
    feed: PreparedFeed | None,
    decision: policy.Decision,
    existing: Existing,
    now: dt.datetime,
    settings: policy.ScheduleSettings,
    notes: Sequence[str] = (),
) -> SourceChanges:
    succeeded = decision.result.succeeded
    # A 304, or a body a hub pushed, says nothing new of the validators.
    kept = decision.result == Result.NOT_MODIFIED or fetched.pushed
    headers = fetched.headers
    if succeeded:
        # A 304 may omit the validators: keep ours. A 200 without them means none,
        # and so does one too long to store (an upstream's, not ours to cut).
        etag = _fits(headers.get("etag"), MAX_ETAG) or (row.etag if kept else None)
        last_modified = _fits(headers.get("last-modified"), MAX_LAST_MODIFIED) or (
            row.last_modified if kept else None
        )
        last_error = problems(feed, notes) if feed else None
    else:
        etag, last_modified, last_error = row.etag, row.last_modified, decision.error
    moved = (
        decision.new_feed_url
        and not existing.new_url_taken
        and stored_url(decision.new_feed_url) == decision.new_feed_url
    )
    meta = feed.meta if feed else FeedMeta(hint_interval=row.hint_interval)
    # An admin's title, site and description win; the feed fills what is empty.
    return SourceChanges(
        feed_url=decision.new_feed_url if moved and decision.new_feed_url else row.feed_url,
        status=SourceStatus.GONE if decision.result == Result.GONE else row.status,
        error_count=decision.error_count,
        last_error=last_error,
        next_check_at=decision.next_check_at,
        last_checked_at=now,
        last_success_at=now if succeeded else row.last_success_at,
        etag=etag,
        last_modified=last_modified,
        title=row.title or meta.title[:500],
        site_url=row.site_url or (meta.link or "")[:2048] or None,
        description=row.description or meta.description,
        hint_interval=_clamped(meta.hint_interval, settings.max_interval),
        upstream=((meta.upstream_id or "")[:2048] or None, meta.updated) if feed else None,
        itunes=_itunes(meta.podcast),
        websub=websub_of(meta, fetched) if feed else None,
        as_browser=fetched.browser_agent and succeeded,
    )


def websub_of(meta: FeedMeta, fetched: FetchResult) -> tuple[str | None, str | None] | None:
    """The hub and topic (rel=self) a feed names, both or neither, fit to store.

    A hub's delivery leaves them be, whatever it names: what names them is our
    own fetch of the feed, else a hub could move the subscription elsewhere."""
    if fetched.pushed:
        return None
    hub = next((url for url in meta.hubs if _fits(url, MAX_URL)), None)
    topic = _fits(meta.self_url, MAX_URL)
    if hub and topic:
        return hub, topic
    return None, None


def _itunes(podcast: Podcast | None) -> dict[str, Any] | None:
    """The source's `itunes` column: what the channel said, its image an http(s) URL."""
    if podcast is None:
        return None
    found = dataclasses.asdict(podcast)
    if found["image"] is not None and stored_url(found["image"]) is None:
        found["image"] = None
    return {name: value for name, value in found.items() if value is not None} or None


# The columns' widths: a longer validator is dropped, never cut (a cut one never matches).
MAX_ETAG = 1024
MAX_LAST_MODIFIED = 100
MAX_URL = 2048


def _fits(value: str | None, width: int) -> str | None:
    return value if value and len(value) <= width else None


def _clamped(hint: int | None, most: int) -> int | None:
    """A feed's polling hint within what the schedule allows (and an INTEGER column)."""
    return None if hint is None else min(max(hint, 1), most)


def problems(feed: PreparedFeed, more: Sequence[str] = ()) -> str | None:
    """What was wrong with a feed that was stored anyway, in words, or None."""
    notes: dict[str, int] = {}
    for note in (*(note for entry in feed.entries for note in entry.notes), *more):
        notes[note] = notes.get(note, 0) + 1
    said = [f"{note} ({count} entries)" if count > 1 else note for note, count in notes.items()]
    return "; ".join([p for p in (feed.meta.problem, *said) if p]) or None


def diff_entries(
    feed: PreparedFeed,
    existing: Existing,
    now: dt.datetime | None = None,
    rules: Sequence[Rule] = (),
) -> EntryDiff:
    """Which entries are new, changed, re-keyed (same link, new id) or unchanged;
    with `now`, new and changed entries are dated and filtered (`first_seen`, `seen_again`)."""
    by_link = dict(existing.by_link)
    # A post whose own entry is in this feed is never taken over by another.
    in_feed = {entry.key for entry in feed.entries} | {key for key, _ in feed.unchanged}
    new: list[PreparedEntry] = []
    changed: list[PostChange] = []
    rehashed: list[tuple[int, str, str | None]] = []
    unchanged = len(feed.unchanged)
    notes: list[str] = []
    for entry in feed.entries:
        match = existing.by_key.get(entry.key)
        new_key = None
        link = entry.values.get("link")
        if match is None and link and link in by_link and by_link[link].key not in in_feed:
            # Same link, new id: the upstream changed its ids; keep one post.
            match, new_key = by_link.pop(link), entry.key
        if match is None and entry.key in existing.pruned:
            unchanged += 1  # deleted by retention, still in the feed
        elif match is None:
            new.append(first_seen(entry, now, rules, notes) if now else entry)
        elif new_key or match.content_hash != entry.values["content_hash"]:
            entry = seen_again(entry, match, now, rules, notes) if now else entry
            changed.append(PostChange(match.id, entry, new_key))
        elif match.entry_hash != entry.entry_hash:
            rehashed.append((match.id, entry.entry_hash, entry.values.get("canonical_link")))
        else:
            unchanged += 1
    return EntryDiff(tuple(new), tuple(changed), tuple(rehashed), unchanged, tuple(notes))


FUTURE_DATE = "dated in the future: dated when first seen instead"


def first_seen(
    entry: PreparedEntry, now: dt.datetime, rules: Sequence[Rule], notes: list[str]
) -> PreparedEntry:
    """A new entry dated no later than now, hidden by the rule that hides it."""
    values = dict(entry.values)
    published, updated = values.get("published"), values.get("updated")
    if published and published > now:
        values["published"] = published = now
        notes.append(FUTURE_DATE)
    if updated and updated > now:
        values["updated"] = updated = now
    rule_id = values.get("hidden_by_rule")
    if rule_id is None:
        date_rule = too_old(rules, published or updated or now, now)
        rule_id = date_rule.id if date_rule else None
    values["hidden_by_rule"] = rule_id
    values["hidden"] = values.get("hidden", False) or rule_id is not None
    return dataclasses.replace(entry, values=values)


def seen_again(
    entry: PreparedEntry, stored: StoredPost, now: dt.datetime, rules: Sequence[Rule],
    notes: list[str],
) -> PreparedEntry:  # fmt: skip
    """A changed entry: a date in the future keeps the stored one; the pattern rules
    decide again whether it is hidden, but a post hidden otherwise (by an admin)
    stays hidden, and one a date rule hid stays hidden (it was old when first seen)."""
    values = dict(entry.values)
    published, updated = values.get("published"), values.get("updated")
    if published and published > now:
        values["published"] = None
        notes.append(FUTURE_DATE)
    if updated and updated > now:
        values["updated"] = now
    if stored.hidden and stored.hidden_by_rule is None:
        values.pop("hidden", None)
        values.pop("hidden_by_rule", None)
        return dataclasses.replace(entry, values=values)
    rule_id = values.get("hidden_by_rule")
    date_rules = {rule.id for rule in rules if rule.action == MAX_AGE}
    if rule_id is None and stored.hidden_by_rule in date_rules:
        rule_id = stored.hidden_by_rule
    values["hidden_by_rule"] = rule_id
    values["hidden"] = rule_id is not None
    return dataclasses.replace(entry, values=values)
