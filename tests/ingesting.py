"""Putting a feed body into the database through the real pipeline, no network."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import func, select

from feedsvc.db import Database
from feedsvc.ingest.pipeline import RefreshReport, ingest_body
from feedsvc.ingest.settings import IngestSettings
from feedsvc.models import Post
from feedsvc.scheduler import Worker
from feedsvc.settings import Settings


def store_feed(
    db: Database,
    source_id: int,
    body: bytes,
    now: dt.datetime,
    content_type: str | None = None,
) -> RefreshReport:
    report = ingest_body(db, source_id, body, now=now, settings=IngestSettings(),
                         content_type=content_type)  # fmt: skip
    assert report.result == "ok", report
    return report


def dispatch_until_stored(worker: Worker, db: Database, posts: int, timeout: float = 10) -> int:
    """Run one dispatch of `worker`, wait (up to `timeout`) until `posts` posts are
    stored, and shut the worker down; return how many sources it claimed."""
    try:
        claimed = worker.dispatch()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with db.session() as session:
                if session.scalar(select(func.count()).select_from(Post)) == posts:
                    break
            time.sleep(0.05)
    finally:
        worker.shutdown(wait=True)
    return claimed


def housekeep(db: Database, settings: Settings) -> None:
    """One pass of the worker's housekeeping, the worker shut down after it."""
    worker = Worker(db, settings, name="housekeeper")
    try:
        worker.housekeeping()
    finally:
        worker.shutdown()
