"""The one clock: what time it is, for the app and the worker alike.

The factory puts one in the app (`app.extensions[EXTENSION]`), the worker is
given one at its start; views, commands and jobs read `now` from it and pass
it down, so that no service asks the system for the time. Tests pin it with
`FixedClock`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

# Where the factory keeps the app's clock.
EXTENSION = "feedsvc.clock"


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


@dataclass
class FixedClock:
    """A clock that says `at` until it is moved."""

    at: dt.datetime

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, delta: dt.timedelta) -> None:
        self.at += delta
