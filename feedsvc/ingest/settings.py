"""The fetcher's and the pipeline's settings, read once from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from feedsvc.ingest.fetch import FetchSettings
from feedsvc.ingest.policy import ScheduleSettings
from feedsvc.ingest.types import PrepareSettings


@dataclass(frozen=True)
class IngestSettings:
    """What the pipeline's stages after fetching need to know."""

    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    prepare: PrepareSettings = field(default_factory=PrepareSettings)


def settings_from_config(cfg: Mapping[str, Any]) -> tuple[FetchSettings, IngestSettings]:
    """The fetcher's and the pipeline's settings, from the app's configuration."""
    fetch = FetchSettings(
        timeout=float(cfg["FETCH_TIMEOUT"]),
        max_bytes=int(cfg["FETCH_MAX_BYTES"]),
        max_redirects=int(cfg["FETCH_MAX_REDIRECTS"]),
        allow_private=bool(cfg["FETCH_ALLOW_PRIVATE"]),
        allow_hosts=tuple(cfg["FETCH_ALLOW_HOSTS"]),
    )
    ingest = IngestSettings(
        schedule=ScheduleSettings(
            min_interval=int(cfg["FETCH_MIN_INTERVAL"]),
            max_interval=int(cfg["FETCH_MAX_INTERVAL"]),
            default_interval=int(cfg["FETCH_DEFAULT_INTERVAL"]),
            max_backoff=int(cfg["FETCH_MAX_BACKOFF"]),
        ),
        prepare=PrepareSettings(summary_length=int(cfg["SUMMARY_LENGTH"])),
    )
    return fetch, ingest
