"""Whether a worker is running: the newest heartbeat and how old it is.

One check for every place that asks: `/healthz`, the admin's banner and a
queued job's page all read it here, so they never disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from feedsvc.models import WorkerHeartbeat
from feedsvc.vocabulary import WorkerState


@dataclass(frozen=True)
class WorkerHealth:
    state: WorkerState
    # Seconds since the newest beat; None when no worker ever beat (or was forgotten).
    age_seconds: float | None

    @property
    def beating(self) -> bool:
        return self.state == WorkerState.OK


def worker_health(
    reader: Connection | Session, now: dt.datetime, stale_seconds: int
) -> WorkerHealth:
    """ok when some worker beat within `stale_seconds`, else stale or missing."""
    newest = reader.execute(select(func.max(WorkerHeartbeat.beat_at))).scalar()
    if newest is None:
        return WorkerHealth(WorkerState.MISSING, None)
    age = round((now - newest).total_seconds(), 1)
    return WorkerHealth(WorkerState.OK if age <= stale_seconds else WorkerState.STALE, age)
