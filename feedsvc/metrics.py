"""Prometheus metrics.

Counters live in the process that counts: the web app's (renders, cache hits,
304s, views) show on its /metrics, the worker's (fetches) on the worker's own
metrics port. With PROMETHEUS_MULTIPROC_DIR set (prometheus_client's
multiprocess mode), every process on the machine is summed instead. The
schedule's state — due and overdue sources, lag — is read from the database at
scrape time, so any process reports it truthfully.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select

from feedsvc.db import Database
from feedsvc.models import Source
from feedsvc.vocabulary import SourceStatus

FETCHES = Counter("feedsvc_fetches", "Upstream fetches, by result (outcome)", ["outcome"])
FETCH_SECONDS = Histogram(
    "feedsvc_fetch_duration_seconds",
    "Time to fetch one upstream feed",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30),
)
FEED_RENDERS = Counter("feedsvc_feed_renders", "Feeds rendered (render-cache misses)", ["feed"])
RENDER_CACHE_HITS = Counter("feedsvc_render_cache_hits", "Feed requests answered from the cache")
NOT_MODIFIED_SERVED = Counter("feedsvc_not_modified", "Feed requests answered with 304")
VIEWS_COUNTED = Counter("feedsvc_views_counted", "Post views counted")

# A source this late past its check time is overdue, not merely due.
OVERDUE_AFTER = dt.timedelta(minutes=5)


class ScheduleCollector(Collector):
    """Due and overdue sources and the schedule lag, read from the database."""

    def __init__(self, db: Database, now: dt.datetime) -> None:
        self.db = db
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.now
        active = Source.status == SourceStatus.ACTIVE
        active_due = (active, Source.next_check_at <= now)
        with self.db.session(write=False) as session:
            due, oldest = session.execute(
                select(func.count(), func.min(Source.next_check_at)).where(*active_due)
            ).one()
            overdue = session.scalar(
                select(func.count()).where(active, Source.next_check_at <= now - OVERDUE_AFTER)
            )
        yield GaugeMetricFamily("feedsvc_sources_due", "Active sources due for a check", due)
        yield GaugeMetricFamily(
            "feedsvc_sources_overdue", "Sources due for more than five minutes", overdue or 0
        )
        lag = (now - oldest.replace(tzinfo=dt.UTC)).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "feedsvc_schedule_lag_seconds", "Now minus the oldest due check time", max(lag, 0.0)
        )


def render_metrics(db: Database, now: dt.datetime) -> bytes:
    """The text exposition of this process's (or this machine's) metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    schedule = CollectorRegistry()
    schedule.register(ScheduleCollector(db, now))
    return generate_latest(counted) + generate_latest(schedule)
