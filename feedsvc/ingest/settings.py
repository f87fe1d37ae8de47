"""What the pipeline's stages after fetching need to know (built by feedsvc/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from feedsvc.ingest.policy import ScheduleSettings
from feedsvc.ingest.types import PrepareSettings


@dataclass(frozen=True)
class IngestSettings:
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    prepare: PrepareSettings = field(default_factory=PrepareSettings)
