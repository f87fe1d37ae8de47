"""What one fetch brought: the value the fetcher (`fetcher.py`) returns, read
by the pipeline, discovery, full articles and the image proxy alike; and how
a source asks to be fetched (`FetchOptions`). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
    # The answer came to a browser-like User-Agent after a 403 to ours.
    browser_agent: bool = False

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


@dataclass(frozen=True)
class FetchOptions:
    """How one source asks to be fetched (feedsvc/fetch_options.py checks them)."""

    # None: FEEDSVC_FETCH_USER_AGENT (or the browser-like one, once it worked).
    user_agent: str | None = None
    # Sent with the cookie and the credentials, to the feed URL's host only.
    headers: tuple[tuple[str, str], ...] = ()
    # Sealed (feedsvc/sealing.py): the fetcher opens them just before sending.
    cookie: str | None = field(default=None, repr=False)
    credentials: str | None = field(default=None, repr=False)
    # A 403 was answered once with a browser-like User-Agent: it is sent from then on.
    as_browser: bool = False


NO_OPTIONS = FetchOptions()


def fetch_options_of(source: Any) -> FetchOptions:
    """A source's options, from its row (a Source, or a row selecting its fetch columns)."""
    return FetchOptions(
        user_agent=source.fetch_user_agent,
        headers=tuple((name, value) for name, value in source.fetch_headers or ()),
        cookie=source.fetch_cookie,
        credentials=source.fetch_credentials,
        as_browser=bool(source.fetch_as_browser),
    )
