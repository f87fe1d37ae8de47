"""The admin's times: relative to now, with the exact UTC time on hover."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask

from feedsvc.clock import FixedClock
from feedsvc.web.times import ago, duration, time_tag

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("delta", "words"), [
    (dt.timedelta(seconds=10), "just now"),
    (dt.timedelta(minutes=3), "3 min ago"),
    (dt.timedelta(minutes=-5), "in 5 min"),
    (dt.timedelta(hours=2), "2 h ago"),
    (dt.timedelta(hours=-30), "in 30 h"),
    (dt.timedelta(days=1), "24 h ago"),
    (dt.timedelta(days=2), "2 days ago"),
    (dt.timedelta(days=3), "3 days ago"),
    (dt.timedelta(days=400), "on 2025-10-21"),
])  # fmt: skip
def test_ago(delta: dt.timedelta, words: str) -> None:
    assert ago(NOW - delta, NOW) == words


@pytest.mark.parametrize(("seconds", "words"), [
    (20, "1 min"), (900, "15 min"), (3600, "1 h"), (5400, "1 h 30 min"),
    (86400, "1 day"), (90000, "1 day 1 h"), (31_536_000, "365 days"),
])  # fmt: skip
def test_duration(seconds: int, words: str) -> None:
    assert duration(seconds) == words


def test_the_time_tag_says_it_relative_with_utc_on_hover(app: Flask) -> None:
    app.extensions["feedsvc.clock"] = FixedClock(NOW)
    paris = dt.timezone(dt.timedelta(hours=1))
    with app.app_context():
        tag = str(time_tag(dt.datetime(2026, 11, 25, 12, 57, tzinfo=paris)))
        assert tag == ('<time datetime="2026-11-25T11:57:00+00:00" '
                       'title="2026-11-25 11:57:00 UTC">3 min ago</time>')  # fmt: skip
        assert str(time_tag(None)) == "never" and str(time_tag(None, "<b>")) == "&lt;b&gt;"
