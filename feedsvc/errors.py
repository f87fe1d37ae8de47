"""The one family of errors a caller's input can cause.

Every service raises a `FeedsvcError` subclass whose message says what went
wrong in words, `field` names the input at fault (or None) and `kind` says what
sort of failure it is. The entry points each map them in one place: the API to
problem+json, the admin to a message beside the field, the CLI to one line and
a non-zero exit.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorKind(StrEnum):
    """Kinds of failure, each answered alike by every entry point."""

    # The input is malformed or out of bounds.
    INVALID = "invalid"
    # What it names does not exist.
    NOT_FOUND = "not_found"
    # It clashes with what exists (a duplicate, the last admin).
    CONFLICT = "conflict"
    # The fetch guard refused the address.
    REFUSED = "refused"
    # The address did not answer, or not in time.
    UNREACHABLE = "unreachable"
    # It answered, with no feed.
    NOT_A_FEED = "not_a_feed"
    # A page names several feeds: one must be picked.
    NEEDS_CHOICE = "needs_choice"


class FeedsvcError(ValueError):
    """An error a caller can cause and correct; the message says why."""

    kind: ErrorKind = ErrorKind.INVALID
    # A short summary for API clients; by default the kind's.
    title: ClassVar[str | None] = None

    def __init__(
        self, message: str, field: str | None = None, kind: ErrorKind | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        if kind is not None:
            self.kind = kind

    def extra(self) -> dict[str, Any]:
        """What an answer adds beside the message (the feeds to pick from, …)."""
        return {}
