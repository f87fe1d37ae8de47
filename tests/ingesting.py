"""Putting a feed body into the database through the real pipeline, no network."""

from __future__ import annotations

import datetime as dt

from feedsvc.db import Database
from feedsvc.ingest.pipeline import RefreshReport, ingest_body
from feedsvc.ingest.settings import IngestSettings


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
