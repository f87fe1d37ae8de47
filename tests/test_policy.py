"""The status policy as plain functions: a table of outcomes, then properties."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsvc.ingest import policy
from feedsvc.ingest.policy import Decision, Observation, ScheduleSettings, SourceState, decide
from feedsvc.vocabulary import Result

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
SETTINGS = ScheduleSettings(min_interval=300, max_interval=86400, default_interval=3600,
                            max_backoff=86400)  # fmt: skip
URL = "http://a.test/feed"
STATE = SourceState(feed_url=URL, error_count=2)


def run(status: int | None, *, error_kind: str | None = None, final_url: str = URL,
        permanent: bool = False, headers: dict[str, str] | None = None,
        state: SourceState = STATE) -> Decision:  # fmt: skip
    outcome = Observation(status=status, final_url=final_url, permanent_redirect=permanent,
                      headers=headers or {}, error_kind=error_kind)  # fmt: skip
    return decide(state, outcome, NOW, SETTINGS, jitter=0.5)


@pytest.mark.parametrize(
    ("status", "error_kind", "result", "stores", "errors"),
    [
        (200, None, Result.OK, True, 0),
        (304, None, Result.NOT_MODIFIED, False, 0),
        (404, None, Result.ERROR, False, 3),
        (500, None, Result.ERROR, False, 3),
        (502, None, Result.ERROR, False, 3),
        (None, "timeout", Result.ERROR, False, 3),
        (None, "connection", Result.ERROR, False, 3),
        (None, "tls", Result.ERROR, False, 3),
        (200, "parse", Result.ERROR, False, 3),
        (None, "refused", Result.REFUSED, False, 3),
        (410, None, Result.GONE, False, 3),
        (429, None, Result.THROTTLED, False, 3),
        (503, None, Result.THROTTLED, False, 3),
    ],
)
def test_status_table(
    status: int | None, error_kind: str | None, result: str, stores: bool, errors: int
) -> None:
    decision = run(status, error_kind=error_kind)
    assert decision.result == result
    assert decision.store_entries is stores
    assert decision.error_count == errors
    assert (decision.error is None) == (result in (Result.OK, Result.NOT_MODIFIED))


def test_permanent_redirect_moves_the_url_temporary_does_not() -> None:
    assert run(200, final_url="http://b.test/f", permanent=True).new_feed_url == "http://b.test/f"
    assert run(200, final_url="http://b.test/f", permanent=False).new_feed_url is None
    assert run(500, final_url="http://b.test/f", permanent=True).new_feed_url is None


def test_backoff_grows_and_is_capped() -> None:
    delays = [policy.backoff_seconds(n, SETTINGS, 0.5) for n in range(1, 20)]
    assert delays == sorted(delays)
    assert delays[0] == 300 and delays[1] == 600 and delays[-1] == 86400


def test_failing_after_ten_errors_in_a_row() -> None:
    assert not run(500, state=SourceState(URL, error_count=8)).failing
    assert run(500, state=SourceState(URL, error_count=9)).failing


def test_retry_after_seconds_and_date() -> None:
    assert run(429, headers={"retry-after": "120"}).next_check_at >= NOW + dt.timedelta(seconds=120)
    date = "Wed, 25 Nov 2026 12:00:00 GMT"
    assert run(503, headers={"retry-after": date}).next_check_at >= NOW + dt.timedelta(days=1)
    assert policy.retry_after("soon", NOW) is None


@pytest.mark.parametrize(
    "value",
    ["9" * 15, "9" * 5000, "Fri, 31 Dec 9999 23:59:59 GMT"],
    ids=["15 digits", "5000 digits", "the year 9999"],
)
def test_a_huge_retry_after_is_capped_not_a_crash(value: str) -> None:
    assert policy.retry_after(value, NOW) == NOW + policy.RETRY_AFTER_CAP
    decision = run(503, headers={"retry-after": value})
    assert decision.result == Result.THROTTLED
    assert decision.next_check_at == NOW + dt.timedelta(seconds=SETTINGS.max_backoff)


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "1\u00b9", "-5", "+5", "1.5"])
def test_retry_after_seconds_are_ascii_digits_only(value: str) -> None:
    # "²" and the Arabic-Indic "٣" pass str.isdigit(); int() refuses the first.
    assert policy.retry_after(value, NOW) is None
    assert run(429, headers={"retry-after": value}).result == Result.THROTTLED


def test_interval_override_wins() -> None:
    state = SourceState(URL, interval_override=900, hint_interval=86400)
    assert run(200, state=state).next_check_at == NOW + dt.timedelta(seconds=900)


def test_feed_hints_slow_the_schedule_down() -> None:
    assert run(200, state=SourceState(URL, hint_interval=7200)).next_check_at == (
        NOW + dt.timedelta(hours=2)
    )
    by_header = run(200, headers={"cache-control": "public, max-age=5400"}, state=SourceState(URL))
    assert by_header.next_check_at == NOW + dt.timedelta(seconds=5400)


def test_hourly_feed_is_checked_more_often_than_a_monthly_one() -> None:
    hourly = [NOW - dt.timedelta(hours=h) for h in range(168)]
    monthly = [NOW - dt.timedelta(days=30 * m) for m in range(1, 4)]
    fast = policy.schedule(SourceState(URL), {}, NOW, SETTINGS, hourly).seconds
    slow = policy.schedule(SourceState(URL), {}, NOW, SETTINGS, monthly).seconds
    assert fast == 3600 and slow == 86400
    no_history = policy.schedule(SourceState(URL), {}, NOW, SETTINGS, []).seconds
    assert no_history == 3600


def test_interval_is_clamped() -> None:
    busy = [NOW - dt.timedelta(minutes=m) for m in range(0, 10000, 1)]
    assert policy.schedule(SourceState(URL), {}, NOW, SETTINGS, busy).seconds == 300
    lazy = policy.schedule(SourceState(URL, hint_interval=10**7), {}, NOW, SETTINGS).seconds
    assert lazy == 86400


statuses = st.sampled_from([200, 304, 404, 410, 429, 500, 503, None])
retry_after = st.one_of(st.none(), st.integers(min_value=0, max_value=10**20).map(str))


@given(statuses, retry_after, st.integers(min_value=0, max_value=100),
       st.floats(min_value=0, max_value=0.999))  # fmt: skip
def test_never_before_retry_after_never_beyond_the_cap(
    status: int | None, wait: str | None, errors: int, jitter: float
) -> None:
    headers = {"retry-after": wait} if wait else {}
    outcome = Observation(status=status, final_url=URL, headers=headers,
                      error_kind="timeout" if status is None else None)  # fmt: skip
    decision = decide(SourceState(URL, error_count=errors), outcome, NOW, SETTINGS, jitter=jitter)
    delay = (decision.next_check_at - NOW).total_seconds()
    if status in (429, 503) and wait is not None:
        assert delay >= min(int(wait), SETTINGS.max_backoff)
        assert delay <= max(SETTINGS.max_backoff, SETTINGS.max_interval)
    else:
        assert delay <= max(SETTINGS.max_backoff, SETTINGS.max_interval)
    if status not in (410,):
        assert delay >= min(SETTINGS.min_interval * 0.75, SETTINGS.max_backoff)


def test_not_modified_keeps_the_previous_interval_without_entry_times() -> None:
    state = SourceState(URL, previous_interval=7200)
    decision = decide(state, Observation(304, URL), NOW, SETTINGS, entry_times=None)
    assert decision.next_check_at == NOW + dt.timedelta(hours=2)
    # After errors the previous interval was a backoff: start afresh.
    recovering = SourceState(URL, error_count=3, previous_interval=40000)
    decision = decide(recovering, Observation(304, URL), NOW, SETTINGS, entry_times=None)
    assert decision.next_check_at == NOW + dt.timedelta(seconds=SETTINGS.default_interval)


@pytest.mark.parametrize(("state", "entries", "headers", "seconds", "reason"), [
    (SourceState(URL, interval_override=3600), (), {}, 3600, "fixed by you"),
    (SourceState(URL, interval_override=60), (), {}, 300, "fixed by you, held to the minimum"),
    (SourceState(URL, pushed=True), (), {}, 86400, "its hub pushes new entries (WebSub)"),
    (SourceState(URL), (), {}, 3600, "adapting to the feed: no dated entries yet"),
    (SourceState(URL), (NOW - dt.timedelta(days=30),), {}, 86400,
     "adapting to the feed: nothing published in the last week"),
    (SourceState(URL), tuple(NOW - dt.timedelta(hours=h) for h in range(14)), {}, 43200,
     "adapting to the feed: 14 posts in the last week"),
    (SourceState(URL), tuple(NOW - dt.timedelta(minutes=m) for m in range(5000)), {}, 300,
     "adapting to the feed: 5000 posts in the last week, held to the minimum"),
    (SourceState(URL, hint_interval=7200), tuple(NOW - dt.timedelta(hours=h) for h in range(100)),
     {}, 7200,
     "the feed asks not to be fetched more often"),
    (SourceState(URL), (NOW,), {"cache-control": "max-age=999999"}, 86400,
     "the feed asks not to be fetched more often (its ttl or cache lifetime), held to the"),
])  # fmt: skip
def test_the_schedule_says_why(
    state: SourceState, entries: tuple[dt.datetime, ...], headers: dict[str, str],
    seconds: int, reason: str,
) -> None:  # fmt: skip
    said = policy.schedule(state, headers, NOW, SETTINGS, entries)
    assert said.seconds == seconds and said.reason.startswith(reason), said
    # The reason is the interval's own: the same rule as the worker's.
    healthy = decide(state, Observation(200, URL, headers=headers), NOW, SETTINGS,
                     entry_times=entries)  # fmt: skip
    assert healthy.next_check_at == NOW + dt.timedelta(seconds=said.seconds)
