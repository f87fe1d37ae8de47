"""The worker's publishing job: announce changes to hubs, rewrite static feeds."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from feedsvc.db import Database
from feedsvc.models import HubPing
from feedsvc.publish import static, websub

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, db: Database, cfg: Mapping[str, Any]) -> None:
        self.db = db
        self.cfg = cfg
        self.client = websub.make_client()

    def run(self, now: dt.datetime, *, force_static: bool = False) -> None:
        sent, failed = websub.announce_changes(self.db, self.cfg, self.client, now)
        if sent or failed:
            log.info("hub pings: %s sent, %s failed", sent, failed)
        if self.cfg["STATIC_DIR"] and static.publish_static(
            self.db, self.cfg, now, force=force_static
        ):
            log.info("static feeds rewritten in %s", self.cfg["STATIC_DIR"])

    def pending_pings(self) -> int:
        with self.db.session(write=False) as session:
            return int(session.scalar(select(func.count()).select_from(HubPing)) or 0)

    def close(self) -> None:
        self.client.close()
