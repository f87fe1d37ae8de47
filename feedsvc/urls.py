"""Which URLs from outside may be stored and republished: http(s) or nothing.

Entry links, enclosures, a feed's link and image, and any URL an admin or the
API sets all pass through `web_url`; a `javascript:` or `data:` URL never
reaches a feed reader, which, unlike our pages, has no CSP to save it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

WEB_SCHEMES = frozenset({"http", "https"})


def web_url(url: str | None) -> str | None:
    """The URL, stripped, if it is an absolute http(s) URL with a host; else None."""
    if not url:
        return None
    url = url.strip()
    # Control characters and spaces inside a URL are how schemes get smuggled
    # past naive checks ("java\tscript:"); a real URL has them percent-encoded.
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        return None
    return url


def is_web_url(url: str | None) -> bool:
    return web_url(url) is not None
