"""Times on the admin's pages: "3 min ago", with the exact UTC time on hover.

Only the admin's pages say times relative to now: they are never cached,
while the public pages are shared by caches and keep absolute dates.
"""

from __future__ import annotations

import datetime as dt

from markupsafe import Markup

from feedsvc.web.context import current_time


def ago(value: dt.datetime, now: dt.datetime) -> str:
    """`value` relative to `now` in a few words: "just now", "5 min ago", "in 2 h"."""
    seconds = (now - value).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 45:
        return "just now"
    if seconds < 45 * 60:
        words = f"{max(round(seconds / 60), 1)} min"
    elif seconds < 36 * 3600:
        words = f"{round(seconds / 3600)} h"
    elif seconds < 30 * 86400:
        days = round(seconds / 86400)
        words = f"{days} day{'' if days == 1 else 's'}"
    else:
        return f"on {value.astimezone(dt.UTC):%Y-%m-%d}"
    return f"in {words}" if future else f"{words} ago"


def duration(seconds: int) -> str:
    """An interval in words: "15 min", "1 h 30 min", "2 days"."""
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} day{'' if days == 1 else 's'}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes and not days else []
    return " ".join(parts)


def time_tag(value: dt.datetime | None, never: str = "never") -> Markup:
    """A `<time>` saying `value` relative to now, its exact UTC time in the title."""
    if value is None:
        return Markup("{}").format(never)
    utc = value.astimezone(dt.UTC)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        utc.isoformat(), f"{utc:%Y-%m-%d %H:%M:%S} UTC", ago(utc, current_time())
    )
