"""What a feed says of its media, as ingest reads it and publish writes it back:
enclosures, and a podcast's iTunes fields for the channel and each episode. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Enclosure:
    url: str
    type: str = ""
    length: int = 0


@dataclass(frozen=True)
class Episode:
    """What a podcast entry says of itself in the iTunes namespace."""

    duration: int | None = None  # seconds
    image: str | None = None
    episode: int | None = None
    explicit: bool | None = None


@dataclass(frozen=True)
class Podcast:
    """What a podcast's channel says of itself in the iTunes namespace."""

    image: str | None = None
    explicit: bool | None = None
    # The first (top-level) category; Apple's list, as upstream spelled it.
    category: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None

    @property
    def complete(self) -> bool:
        """Everything a podcast directory (and the feed validator) requires of
        a channel that speaks iTunes; short of it, the feed stays plain RSS,
        whose enclosures podcast apps play just as well."""
        return self.explicit is not None and bool(self.category and self.owner_email)
