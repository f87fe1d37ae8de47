"""What one fetch brought: the value the fetcher (`fetcher.py`) returns, read
by the pipeline, discovery, full articles and the image proxy alike. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from feedsvc.vocabulary import FetchErrorKind


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""
    # True when every redirect on the way was permanent (301/308).
    permanent_redirect: bool = False
    error_kind: FetchErrorKind | None = None
    error: str | None = None
    elapsed_ms: int = 0
    # A hub delivered this body (WebSub): no fetch of ours, so no validators.
    pushed: bool = False

    @property
    def ok(self) -> bool:
        return self.error_kind is None and self.status is not None and 200 <= self.status < 300

    @property
    def has_body(self) -> bool:
        """A successful answer with something to parse (204 has nothing)."""
        return self.ok and self.status != 204

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def redirected(self) -> bool:
        return self.final_url != self.url
