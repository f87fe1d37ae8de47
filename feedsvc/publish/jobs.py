"""The worker's publishing job: announce changes to hubs, rewrite static feeds."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select

from feedsvc.db import Database
from feedsvc.models import HubPing
from feedsvc.publish import static, websub
from feedsvc.settings import Settings

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.client = websub.make_client()

    def run(self, now: dt.datetime, *, force_static: bool = False) -> None:
        sent, failed = websub.announce_changes(self.db, self.settings, self.client, now)
        if sent or failed:
            log.info("hub pings: %s sent, %s failed", sent, failed)
        if self.settings.feeds.static_dir and static.publish_static(
            self.db, self.settings, now, force=force_static
        ):
            log.info("static feeds rewritten in %s", self.settings.feeds.static_dir)

    def pending_pings(self) -> int:
        with self.db.session(write=False) as session:
            return int(session.scalar(select(func.count()).select_from(HubPing)) or 0)

    def close(self) -> None:
        self.client.close()
