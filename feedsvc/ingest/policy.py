"""Pure decisions about a source: given its state and what a fetch brought,
what to record and when to check it next.

Nothing here touches the network, the database or the clock; `now` and the
jitter are passed in, so every rule can be tested as a plain function.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from feedsvc.vocabulary import FAILING_AFTER as FAILING_AFTER  # the policy's word too
from feedsvc.vocabulary import MIN_INTERVAL, FetchErrorKind, Result

WEEK = dt.timedelta(days=7)
# The longest Retry-After read as it is: past this a server's wish is no
# schedule (and `Retry-After: 999999999999999` would overflow a datetime).
RETRY_AFTER_CAP = dt.timedelta(days=30)


@dataclass(frozen=True)
class ScheduleSettings:
    min_interval: int = MIN_INTERVAL
    max_interval: int = 86400
    default_interval: int = 3600
    max_backoff: int = 86400


@dataclass(frozen=True)
class SourceState:
    feed_url: str
    error_count: int = 0
    interval_override: int | None = None
    hint_interval: int | None = None
    # The interval chosen last time (seconds), reused when nothing changed.
    previous_interval: int | None = None
    # A hub pushes its changes (a live WebSub subscription): polling is a safety net.
    pushed: bool = False


@dataclass(frozen=True)
class Observation:
    """What a fetch (and, for a 200, the parse) brought: the policy's input."""

    status: int | None
    final_url: str
    permanent_redirect: bool = False
    headers: Mapping[str, str] | None = None
    # None when all went well.
    error_kind: FetchErrorKind | None = None
    error: str | None = None


@dataclass(frozen=True)
class Decision:
    result: Result
    next_check_at: dt.datetime
    error_count: int
    error: str | None = None
    # Set when the source's feed URL should change (a permanent redirect).
    new_feed_url: str | None = None
    store_entries: bool = False

    @property
    def failing(self) -> bool:
        return self.error_count >= FAILING_AFTER


def decide(
    state: SourceState,
    observed: Observation,
    now: dt.datetime,
    settings: ScheduleSettings,
    *,
    entry_times: Sequence[dt.datetime] | None = (),
    jitter: float = 0.5,
) -> Decision:
    """The one rule book for what a fetch brought.

    `entry_times` are the publication times of the source's recent posts, for
    the adaptive interval (None: not looked up, keep the previous interval);
    `jitter` in [0, 1) spreads retries of many sources.
    """
    headers = observed.headers or {}
    if observed.error_kind is None and observed.status is not None:
        if observed.status == 410:
            return Decision(Result.GONE, now, state.error_count + 1, "the feed is gone (HTTP 410)")
        if observed.status in (200, 203, 226) or observed.status == 304:
            interval = schedule(state, headers, now, settings, entry_times).seconds
            return Decision(
                result=Result.OK if observed.status != 304 else Result.NOT_MODIFIED,
                next_check_at=now + dt.timedelta(seconds=interval),
                error_count=0,
                new_feed_url=(
                    observed.final_url
                    if observed.permanent_redirect and observed.final_url != state.feed_url
                    else None
                ),
                store_entries=observed.status != 304,
            )
        if observed.status in (429, 503):
            retry_at = retry_after(headers.get("retry-after"), now)
            backoff = now + dt.timedelta(seconds=backoff_seconds(state.error_count + 1,
                                                                 settings, jitter))  # fmt: skip
            # The server's wish is honoured up to the longest backoff we allow.
            longest = now + dt.timedelta(seconds=settings.max_backoff)
            next_check = min(max(retry_at, backoff), longest) if retry_at else backoff
            return Decision(
                Result.THROTTLED, next_check, state.error_count + 1,
                f"the server asked us to slow down (HTTP {observed.status})",
            )  # fmt: skip

    errors = state.error_count + 1
    words = observed.error or f"the server answered HTTP {observed.status}"
    result = Result.REFUSED if observed.error_kind == FetchErrorKind.REFUSED else Result.ERROR
    delay = backoff_seconds(errors, settings, jitter)
    return Decision(result, now + dt.timedelta(seconds=delay), errors, words)


def backoff_seconds(errors: int, settings: ScheduleSettings, jitter: float) -> int:
    """Exponential backoff from the minimum interval, jittered ±25 %, capped."""
    base = settings.min_interval * (2 ** min(max(errors - 1, 0), 30))
    spread = 0.75 + 0.5 * min(max(jitter, 0.0), 0.999)
    return int(min(base * spread, settings.max_backoff))


@dataclass(frozen=True)
class Schedule:
    """How often a healthy feed is checked, and why, in words an admin reads."""

    seconds: int
    reason: str


def schedule(
    state: SourceState,
    headers: Mapping[str, str],
    now: dt.datetime,
    settings: ScheduleSettings,
    entry_times: Sequence[dt.datetime] | None = (),
) -> Schedule:
    """Seconds until the next check of a healthy feed, and why."""
    if state.pushed:
        return Schedule(settings.max_interval, "its hub pushes new entries (WebSub): "
                        "checked only as a safety net")  # fmt: skip
    if state.interval_override:
        # One set before the minimum was what it is now is held to it too.
        if state.interval_override < settings.min_interval:
            return Schedule(settings.min_interval, "fixed by you, held to the minimum")
        return Schedule(state.interval_override, "fixed by you")
    if entry_times is None and state.previous_interval and state.error_count == 0:
        interval, reason = state.previous_interval, "as last time: the feed had not changed"
    else:
        interval = observed_interval(entry_times or (), now, settings)
        reason = _observed_words(entry_times or (), now)
    hints = [h for h in (state.hint_interval, cache_lifetime(headers, now)) if h]
    if hints and max(hints) > interval:
        # A feed's own hint says "not more often than this".
        interval = max(hints)
        reason = "the feed asks not to be fetched more often (its ttl or cache lifetime)"
    if interval < settings.min_interval:
        return Schedule(settings.min_interval, f"{reason}, held to the minimum")
    if interval > settings.max_interval:
        return Schedule(settings.max_interval, f"{reason}, held to the longest")
    return Schedule(interval, reason)


def _observed_words(entry_times: Sequence[dt.datetime], now: dt.datetime) -> str:
    if not entry_times:
        return "adapting to the feed: no dated entries yet, so the default"
    recent = sum(1 for t in entry_times if now - WEEK <= t <= now)
    if not recent:
        return "adapting to the feed: nothing published in the last week"
    return f"adapting to the feed: {recent} post{'' if recent == 1 else 's'} in the last week"


def observed_interval(
    entry_times: Sequence[dt.datetime], now: dt.datetime, settings: ScheduleSettings
) -> int:
    """The average gap between entries over the last week."""
    if not entry_times:
        return settings.default_interval
    recent = [t for t in entry_times if now - WEEK <= t <= now]
    if not recent:
        return settings.max_interval
    return int(WEEK.total_seconds() / len(recent))


_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def cache_lifetime(headers: Mapping[str, str], now: dt.datetime) -> int | None:
    """Seconds the response may be cached, from Cache-Control or Expires."""
    control = headers.get("cache-control", "")
    match = _MAX_AGE.search(control)
    if match:
        return int(match.group(1))
    expires = _http_date(headers.get("expires"))
    if expires and expires > now:
        return int((expires - now).total_seconds())
    return None


_DELTA_SECONDS = re.compile(r"[0-9]+")


def retry_after(value: str | None, now: dt.datetime) -> dt.datetime | None:
    """Retry-After as a time: delta seconds or an HTTP date, at most
    `RETRY_AFTER_CAP` from `now`; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):  # ASCII only: "²".isdigit() is true
        # Capped before the timedelta, which overflows near 10**14 s; a long
        # string is past the cap anyway (and int() refuses over 4300 digits).
        cap = int(RETRY_AFTER_CAP.total_seconds())
        seconds = min(int(value), cap) if len(value) <= len(str(cap)) else cap
        return now + dt.timedelta(seconds=seconds)
    moment = _http_date(value)
    return None if moment is None else min(moment, now + RETRY_AFTER_CAP)


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)
