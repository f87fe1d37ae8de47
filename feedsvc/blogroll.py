"""The blogroll: the sources the site lists, in its sidebar and at /sources.opml."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc.models import Source
from feedsvc.vocabulary import SourceStatus


def blogroll(session: Session) -> list[Source]:
    """Active sources, by title."""
    sources = session.scalars(select(Source).where(Source.status == SourceStatus.ACTIVE)).all()
    return sorted(sources, key=lambda s: s.display_title.casefold())
