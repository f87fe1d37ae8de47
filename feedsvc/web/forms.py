"""What the admin's forms share: the interval chooser, and the previewed feed
carried from the preview to the form that saves it.

An admin who gets a value wrong sees the form again with everything typed
and the reason beside the field; these helpers make that possible without
fetching the feed again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from types import EllipsisType
from typing import Any

from feedsvc.discovery import Preview, PreviewEntry
from feedsvc.sources import SourceError, check_interval
from feedsvc.urls import web_url

# (value, label): the choices offered for "Check every"; "" adapts to the feed.
INTERVAL_CHOICES = (
    ("", "Adapt to the feed"),
    ("900", "Every 15 minutes"),
    ("3600", "Hourly"),
    ("86400", "Daily"),
    ("custom", "Custom…"),
)
_PRESETS = {value for value, _ in INTERVAL_CHOICES if value.isdigit()}


def interval_from(form: Mapping[str, str], minimum: int) -> int | EllipsisType | None:
    """The interval a form chose, in seconds; None adapts; a form without the
    chooser leaves it as it is (...). Custom intervals are typed in minutes."""
    if "interval" not in form:
        return ...
    choice = form["interval"].strip()
    if choice == "custom":
        raw = form.get("interval_minutes", "").strip()
        try:
            minutes = float(raw)
        except ValueError:
            raise SourceError(
                f"give the custom interval in minutes, {minimum / 60:g} or more", "interval"
            ) from None
        if not 0 < minutes < 1e9:
            raise SourceError(
                f"the custom interval is {minimum / 60:g} minutes or more", "interval"
            )
        return check_interval(round(minutes * 60), minimum)
    if not choice:
        return None
    # A preset, or seconds from a hand-made request: held to the same bounds.
    if not choice.isdigit():
        raise SourceError("choose how often to check the feed", "interval")
    return check_interval(int(choice), minimum)


def interval_fields(seconds: int | None) -> dict[str, str]:
    """The chooser's values for a stored interval: a preset, or custom minutes."""
    if seconds is None:
        return {"interval": "", "interval_minutes": ""}
    if str(seconds) in _PRESETS:
        return {"interval": str(seconds), "interval_minutes": ""}
    return {"interval": "custom", "interval_minutes": f"{seconds / 60:g}"}


def pack_preview(preview: Preview) -> str:
    """The preview as a hidden field's value, so a failed save can show it again."""
    return json.dumps({
        # Upstream's link only when it is http(s): nothing else is ever offered.
        "feed_url": preview.feed_url, "title": preview.title, "site_url": web_url(preview.site_url),
        "description": preview.description,
        "entries": [[e.title, e.link, e.published.isoformat() if e.published else None]
                    for e in preview.entries],
    })  # fmt: skip


def unpack_preview(raw: str, feed_url: str) -> Preview:
    """The preview a form carried back; what does not read (a hand-made request)
    is left out, never an error: the feed's URL is all the save needs."""
    try:
        data: Any = json.loads(raw)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}

    def text(key: str) -> str:
        value = data.get(key)
        return value if isinstance(value, str) else ""

    entries = []
    for item in data.get("entries", []) if isinstance(data.get("entries"), list) else []:
        if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
            entries.append(PreviewEntry(item[0], _str_or_none(item[1]), _when(item[2])))
    return Preview(feed_url=feed_url, title=text("title"), site_url=web_url(text("site_url")),
                   description=text("description"), entries=tuple(entries[:10]))  # fmt: skip


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _when(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None
