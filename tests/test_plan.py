"""The plan as plain functions: the source row's next state and the entry diff,
each decision a row of a table. No network, no database, a fixed clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from feedsvc import messages
from feedsvc.fetched import FetchResult
from feedsvc.ingest import policy
from feedsvc.ingest.plan import (
    EntryDiff,
    Existing,
    Parsed,
    Plan,
    SourceRow,
    StoredPost,
    diff_entries,
    plan_crash,
    plan_refresh,
)
from feedsvc.ingest.prepare import PreparedEntry, PreparedFeed
from feedsvc.ingest.types import FeedMeta
from feedsvc.vocabulary import Result

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
SETTINGS = policy.ScheduleSettings(min_interval=300, max_interval=86400, default_interval=3600,
                                   max_backoff=86400)  # fmt: skip
URL = "http://a.test/feed"
ROW = SourceRow(
    feed_url=URL, error_count=2, etag='"old"', last_modified="Mon, 23 Nov 2026 08:00:00 GMT",
    last_success_at=NOW - dt.timedelta(hours=1), title="", site_url=None, description="",
    hint_interval=900,
)  # fmt: skip


def entry(key: str, *, link: str | None = None, content_hash: str = "c", entry_hash: str = "e",
          published: dt.datetime | None = None) -> PreparedEntry:  # fmt: skip
    values: dict[str, Any] = {"link": link, "content_hash": content_hash, "published": published}
    return PreparedEntry(key=key, entry_hash=entry_hash, values=values)


def feed(*entries: PreparedEntry, meta: FeedMeta | None = None, unchanged: int = 0) -> PreparedFeed:
    return PreparedFeed(
        meta=meta or FeedMeta(title="Feed title", link="http://a.test/", description="About",
                              upstream_id="urn:feed", hint_interval=1800),
        entries=entries,
        unchanged=tuple((f"u{n}", f"h{n}") for n in range(unchanged)),
        entry_times=tuple(e.values["published"] for e in entries if e.values["published"]),
    )  # fmt: skip


def fetched(status: int | None = 200, *, headers: dict[str, str] | None = None,
            error_kind: str | None = None, error: str | None = None, final_url: str = URL,
            permanent: bool = False, body: bytes = b"<rss/>") -> FetchResult:  # fmt: skip
    return FetchResult(
        url=URL, final_url=final_url, status=status, headers=headers or {},
        content=body if status == 200 else b"", permanent_redirect=permanent,
        error_kind=error_kind, error=error, elapsed_ms=12,
    )  # fmt: skip


def plan(fetch: FetchResult, parsed: Parsed | None = None, *, row: SourceRow = ROW,
         existing: Existing | None = None) -> Plan:  # fmt: skip
    return plan_refresh(7, row, fetch, parsed, existing or Existing(entry_times=()), NOW,
                        SETTINGS, jitter=0.5)  # fmt: skip


OK_FEED = Parsed(feed=feed(entry("a")))


# The source row: one row per outcome, every field the writes used to decide.
@pytest.mark.parametrize(
    ("fetch", "parsed", "result", "errors", "etag", "last_error", "success"),
    [
        # 200 with validators: the new ones are kept, errors reset.
        (fetched(200, headers={"etag": '"new"'}), OK_FEED, Result.OK, 0, '"new"', None, NOW),
        # 200 without an ETag: the old one no longer describes the body.
        (fetched(200), OK_FEED, Result.OK, 0, None, None, NOW),
        # 304 without validators: ours still hold.
        (fetched(304), None, Result.NOT_MODIFIED, 0, '"old"', None, NOW),
        (fetched(304, headers={"etag": '"v2"'}), None, Result.NOT_MODIFIED, 0, '"v2"', None, NOW),
        # Errors keep the validators and the last success, and say why.
        (fetched(500), None, Result.ERROR, 3, '"old"', "the server answered HTTP 500",
         ROW.last_success_at),
        (fetched(None, error_kind="timeout", error="timed out"), None, Result.ERROR, 3, '"old"',
         "timed out", ROW.last_success_at),
        (fetched(None, error_kind="refused", error="refused: loopback"), None, Result.REFUSED, 3,
         '"old"', "refused: loopback", ROW.last_success_at),
        (fetched(410), None, Result.GONE, 3, '"old"', "the feed is gone (HTTP 410)",
         ROW.last_success_at),
        (fetched(429), None, Result.THROTTLED, 3, '"old"',
         "the server asked us to slow down (HTTP 429)", ROW.last_success_at),
        # A body that is no feed is the source's error, in the parser's words.
        (fetched(200), Parsed(error="not a feed: HTML page"), Result.ERROR, 3, '"old"',
         "not a feed: HTML page", ROW.last_success_at),
        # A malformed feed stored as far as it parsed: success, with the problem noted.
        (fetched(200), Parsed(feed=feed(entry("a"), meta=FeedMeta(problem="malformed"))),
         Result.OK, 0, None, "malformed", NOW),
    ],
)  # fmt: skip
def test_source_row_next_state(
    fetch: FetchResult, parsed: Parsed | None, result: str, errors: int, etag: str | None,
    last_error: str | None, success: dt.datetime | None,
) -> None:  # fmt: skip
    planned = plan(fetch, parsed)
    assert planned.result == result
    state = planned.source
    assert (state.error_count, state.etag) == (errors, etag)
    assert state.last_success_at == success and state.last_checked_at == NOW
    assert state.next_check_at >= NOW
    # The history keeps the error as it came; the source says it to a person.
    assert planned.attempt.result == result and planned.attempt.error == last_error
    if Result(result).succeeded:
        assert state.last_error == last_error
    else:
        assert state.last_error == messages.fetch_problem(
            fetch.error_kind or ("parse" if parsed else None), fetch.final_url, fetch.status,
            last_error,
        )
        assert state.last_error != last_error and state.last_error.endswith(".")
    assert planned.attempt.status_code == fetch.status and planned.attempt.duration_ms == 12


def test_gone_changes_the_status_others_keep_it() -> None:
    assert plan(fetched(410)).source.status == "gone"
    paused = SourceRow(feed_url=URL, status="paused")
    assert plan(fetched(500), row=paused).source.status == "paused"
    assert plan(fetched(200), OK_FEED, row=paused).source.status == "paused"


@pytest.mark.parametrize(
    ("permanent", "taken", "status", "feed_url"),
    [
        (True, False, 200, "http://b.test/feed"),  # 301/308 all the way: follow it
        (False, False, 200, URL),  # a 302 on the way: keep ours
        (True, True, 200, URL),  # another source has that URL already
        (True, False, 500, URL),  # the new place fails: don't move there
    ],
)
def test_a_new_url_only_for_a_permanent_redirect_to_a_free_url(
    permanent: bool, taken: bool, status: int, feed_url: str
) -> None:
    fetch = fetched(status, final_url="http://b.test/feed", permanent=permanent)
    existing = Existing(entry_times=(), new_url_taken=taken)
    parsed = OK_FEED if status == 200 else None
    assert plan(fetch, parsed, existing=existing).source.feed_url == feed_url


def test_metadata_an_admin_set_wins_and_the_feed_fills_the_rest() -> None:
    named = SourceRow(feed_url=URL, title="Admin's name", site_url=None, description="")
    state = plan(fetched(200), OK_FEED, row=named).source
    assert (state.title, state.site_url, state.description) == (
        "Admin's name", "http://a.test/", "About"
    )  # fmt: skip
    assert state.upstream == ("urn:feed", None) and state.hint_interval == 1800
    # An error learns nothing about the feed: metadata and the hint stay.
    failed = plan(fetched(500), row=named).source
    assert (failed.title, failed.site_url, failed.upstream, failed.hint_interval) == (
        "Admin's name", None, None, None,
    )  # fmt: skip


def test_long_feed_metadata_is_cut_to_the_columns() -> None:
    meta = FeedMeta(title="t" * 900, link="http://a.test/" + "x" * 3000, upstream_id="u" * 3000)
    state = plan(fetched(200), Parsed(feed=feed(meta=meta)), row=SourceRow(feed_url=URL)).source
    assert len(state.title) == 500 and len(state.site_url or "") == 2048
    assert state.upstream is not None and len(state.upstream[0] or "") == 2048


def test_the_adaptive_interval_learns_from_stored_and_fetched_times() -> None:
    # One entry a day over the last week, between the stored and the fetched ones.
    days = [NOW - dt.timedelta(days=n, hours=1) for n in range(7)]
    stored = Existing(entry_times=tuple(days[:4]))
    parsed = Parsed(feed=feed(*(entry(f"k{n}", published=t) for n, t in enumerate(days[4:]))))
    planned = plan(fetched(200), parsed, row=SourceRow(feed_url=URL), existing=stored)
    assert planned.source.next_check_at == NOW + dt.timedelta(days=1)


def test_a_304_keeps_the_previous_interval() -> None:
    row = SourceRow(feed_url=URL, previous_interval=7200)
    assert plan(fetched(304), row=row).source.next_check_at == NOW + dt.timedelta(hours=2)


def test_only_a_200_that_parsed_stores_entries() -> None:
    for fetch, parsed in [(fetched(304), None), (fetched(500), None),
                          (fetched(200), Parsed(error="not a feed"))]:  # fmt: skip
        assert plan(fetch, parsed).entries == EntryDiff()
    assert [e.key for e in plan(fetched(200), OK_FEED).entries.new] == ["a"]


def test_a_crash_backs_off_and_says_it_was_ours() -> None:
    crashed = plan_crash(7, ROW, fetched(200), "KeyError", NOW, SETTINGS, 0.5)
    assert crashed.result == Result.ERROR and crashed.entries == EntryDiff()
    state = crashed.source
    assert state.error_count == 3 and state.last_error.startswith("Something went wrong inside")
    assert crashed.attempt.error == "internal error while storing: KeyError"
    assert state.next_check_at == NOW + dt.timedelta(seconds=1200)
    # Nothing the fetch brought is believed: validators and last success stay.
    assert (state.etag, state.last_success_at) == (ROW.etag, ROW.last_success_at)


# The entry diff: what each incoming entry meets among the stored posts.
@pytest.mark.parametrize(
    ("incoming", "stored_by_key", "stored_by_link", "expect"),
    [
        # Nothing stored: new.
        (entry("a"), {}, {}, "new"),
        # Same key, same content and entry hash: unchanged.
        (entry("a"), {"a": StoredPost(1, "c", "e")}, {}, "unchanged"),
        # Same key, other content: changed.
        (entry("a", content_hash="c2"), {"a": StoredPost(1, "c", "e")}, {}, "changed"),
        # Same content, the upstream entry differs in no way a reader sees: rehashed.
        (entry("a", entry_hash="e2"), {"a": StoredPost(1, "c", "e")}, {}, "rehashed"),
        # Stored before entry hashes existed, content equal: rehashed, not rewritten.
        (entry("a"), {"a": StoredPost(1, "c", None)}, {}, "rehashed"),
        # New id, same link as a stored post: that post takes the new key.
        (entry("b", link="http://a.test/1"), {}, {"http://a.test/1": StoredPost(1, "c", "e")},
         "rekeyed"),
        # New id and a link nobody has: new.
        (entry("b", link="http://a.test/2"), {}, {"http://a.test/1": StoredPost(1, "c", "e")},
         "new"),
    ],
)  # fmt: skip
def test_entry_diff(
    incoming: PreparedEntry,
    stored_by_key: dict[str, StoredPost],
    stored_by_link: dict[str, StoredPost],
    expect: str,
) -> None:
    diff = diff_entries(feed(incoming), Existing(by_key=stored_by_key, by_link=stored_by_link))
    kinds = {
        "new": [e.key for e in diff.new] == [incoming.key],
        "changed": [(c.post_id, c.new_key) for c in diff.changed] == [(1, None)],
        "rekeyed": [(c.post_id, c.new_key) for c in diff.changed] == [(1, incoming.key)],
        "rehashed": diff.rehashed == ((1, incoming.entry_hash, None),),
        "unchanged": diff.unchanged == 1,
    }
    assert [kind for kind, hit in kinds.items() if hit] == [expect]


def test_a_link_is_taken_over_once() -> None:
    """Two new ids with the stored post's link: the first takes it, the second is new."""
    stored = Existing(by_link={"http://a.test/1": StoredPost(1, "c", "e")})
    diff = diff_entries(feed(entry("b", link="http://a.test/1"),
                             entry("c", link="http://a.test/1")), stored)  # fmt: skip
    assert [c.new_key for c in diff.changed] == ["b"] and [e.key for e in diff.new] == ["c"]


def test_entries_skipped_as_unchanged_before_preparing_count_as_unchanged() -> None:
    diff = diff_entries(feed(entry("a"), unchanged=3), Existing())
    assert (len(diff.new), diff.unchanged) == (1, 3)


def test_what_steps_said_about_entries_is_the_sources_last_error() -> None:
    noted = PreparedEntry(key="a", entry_hash="e", values=entry("a").values,
                          notes=("link dropped: not an http(s) URL",))  # fmt: skip
    parsed = Parsed(feed=feed(noted, dataclasses.replace(noted, key="b"),
                              meta=FeedMeta(problem="the feed is malformed")))  # fmt: skip
    assert plan(fetched(200), parsed).source.last_error == (
        "the feed is malformed; link dropped: not an http(s) URL (2 entries)"
    )
