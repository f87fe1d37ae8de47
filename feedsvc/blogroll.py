"""The blogroll: the sources the site lists, in its sidebar and at /sources.opml."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc.models import SOURCE_ACTIVE, Source


def blogroll(session: Session) -> list[Source]:
    """Active sources, by title."""
    sources = session.scalars(select(Source).where(Source.status == SOURCE_ACTIVE)).all()
    return sorted(sources, key=lambda s: s.display_title.casefold())
