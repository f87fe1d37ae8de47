"""Logging for every process: one handler on stderr, text or JSON lines.

`FEEDSVC_LOG_LEVEL` and `FEEDSVC_LOG_FORMAT` (text|json) apply to the web app
and the worker alike; under systemd, stderr goes to the journal. Libraries
that talk on every run are kept quiet: APScheduler's line per job run is
DEBUG, httpx's line per request and alembic's chatter are shown only at DEBUG.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers that say INFO for every request they make (httpx), or for every
# plugin they load (alembic: `feedsvc db upgrade` prints the revisions itself).
CHATTY = ("httpx", "httpcore", "alembic")


class SchedulerChatter(logging.Filter):
    """APScheduler says INFO on every run of every job ("Running job",
    "executed successfully") and WARNING whenever a run is skipped because the
    previous one still works (the dispatch job does, through a backlog): those
    are DEBUG here. Its other warnings (a run missed) stay as they are."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("apscheduler") and (
            record.levelno <= logging.INFO
            or "maximum number of running instances" in record.getMessage()
        ):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self.threshold


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        # Fields passed as `extra` (a refresh's source id, URL …) become keys.
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter(TEXT_FORMAT)


def configure(level: str, fmt: str, stream: TextIO | None = None) -> logging.Handler:
    """Send every log record at `level` and above to `stream` (stderr), as `fmt`.

    Calling it again replaces the handler it installed before."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "feedsvc", False)]:
        root.removeHandler(old)
    threshold = logging.getLevelName(level.upper())
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.feedsvc = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter(fmt))
    handler.addFilter(SchedulerChatter(threshold))
    root.addHandler(handler)
    root.setLevel(threshold)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if threshold <= logging.DEBUG else "WARNING")
    return handler
