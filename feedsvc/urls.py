"""Which URLs from outside may be stored and republished: http(s) or nothing.

Entry links, enclosures, a feed's link and image, and any URL an admin or the
API sets all pass through `web_url` (or `check_web_url`, which says why not);
a `javascript:` or `data:` URL never reaches a feed reader, which, unlike our
pages, has no CSP to save it.

`joins_to_itself` says which URLs `urljoin` gives back as they are, so that
the parse can skip its work for most links and ids.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import SplitResult, urlparse, urlsplit, uses_relative

from feedsvc.errors import FeedsvcError

WEB_SCHEMES = frozenset({"http", "https"})
# The width of every URL column: a longer URL cannot be stored whole.
MAX_URL_LENGTH = 2048
# A real URL has these percent-encoded; raw, they are how a scheme or host is
# smuggled past a naive check ("java\tscript:", "http://a b").
_ASCII_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
# Code points a browser refuses in a host name (WHATWG's forbidden host code
# points, and %): where Python and a browser would read a different host.
_FORBIDDEN_IN_HOST = re.compile(r"[%<>\[\\\]^|]")
_SHOWN_LENGTH = 100
# Most URLs an entry carries have this shape, which every check below passes
# as it is: lower-case scheme and host of letters, digits, dots and hyphens (no
# userinfo, brackets or percent signs to reread), a port only of ASCII digits,
# then printable ASCII but the backslash. Anything else takes all the checks.
_PLAIN_WEB_URL = re.compile(r"https?://[a-z0-9.-]+(?::([0-9]{1,5}))?(?:[/?#][!-\[\]-~]*)?")


class NotWebUrl(FeedsvcError):
    """A URL that is not an absolute http(s) URL; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "url")


def check_web_url(url: str) -> str:
    """The URL without surrounding space if it is an absolute http(s) URL with a
    host that fits a URL column; else NotWebUrl saying why not."""
    if _is_plain_web_url(url):
        return url  # what the checks give back, without urlsplit's parse
    return _checked_web_url(url)


def _is_plain_web_url(url: str) -> bool:
    plain = _PLAIN_WEB_URL.fullmatch(url)
    if plain is None or len(url) > MAX_URL_LENGTH:
        return False
    port = plain[1]
    return port is None or 0 < int(port) <= 65535


def _checked_web_url(url: str) -> str:
    url = url.strip()
    if not url:
        raise NotWebUrl("the URL is empty")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise NotWebUrl(f"not a valid URL ({exc}): {_shown(url)}") from None
    if not _valid_port(parts):
        raise NotWebUrl(f"the port must be a whole number from 1 to 65535: {_shown(url)}")
    if parts.scheme not in WEB_SCHEMES:  # urlsplit lowercases the scheme
        raise NotWebUrl(f"not an http(s) URL: {_shown(url)}")
    hostname = parts.hostname
    if not hostname:
        raise NotWebUrl(f"not an absolute http(s) URL, it has no host: {_shown(url)}")
    if _has_space_or_control(url):
        raise NotWebUrl(f"the URL contains spaces or control characters: {_shown(url)}")
    if not _valid_host(parts.netloc, hostname):
        raise NotWebUrl(f"the URL's host is not a valid host name: {_shown(url)}")
    if len(url) > MAX_URL_LENGTH:
        raise NotWebUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    return url


def web_url(url: str | None) -> str | None:
    """The URL, stripped, if it is an absolute http(s) URL with a host; else None."""
    if not url:
        return None
    try:
        return check_web_url(url)
    except NotWebUrl:
        return None


def _has_space_or_control(url: str) -> bool:
    if _ASCII_SPACE_OR_CONTROL.search(url):
        return True
    # Almost every URL is ASCII; only the others need the Unicode database.
    return not url.isascii() and any(
        unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in url
    )


def _valid_port(parts: SplitResult) -> bool:
    try:
        port = parts.port  # None when there is none; raises when above 65535 or not digits
    except ValueError:
        return False
    return port != 0  # which urlsplit allows, but no server listens on


def _valid_host(netloc: str, hostname: str) -> bool:
    # A backslash ends the host for a browser ("http://evil\\@good/" is evil's).
    if "\\" in netloc:
        return False
    if "[" in netloc and netloc.rpartition("@")[2].startswith("["):
        return True  # an IPv6 literal, which urlsplit has checked
    return _FORBIDDEN_IN_HOST.search(hostname) is None


def _shown(url: str) -> str:
    """The URL as quoted in an error: a very long one is cut."""
    if len(url) > _SHOWN_LENGTH:
        url = url[:_SHOWN_LENGTH] + "…"
    return repr(url)


def stored_url(url: str | None) -> str | None:
    """A URL from outside fit to store and republish: http(s), and short enough.

    Bytes, not characters: links are indexed, and an index row is bounded.
    """
    checked = web_url(url)
    return checked if checked and len(checked.encode("utf-8")) <= MAX_URL_LENGTH else None


def host_name(url: str | None) -> str:
    """The host a person would name a site by: `example.org` for
    `https://www.example.org/feed.xml`; "" when there is none."""
    try:
        host = urlsplit(url or "").hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


# The shape most entry links have, which urljoin and links.canonical_link both
# give back as it is: lower-case http(s) and host labels (no port, userinfo or
# brackets to reread, no trailing dot), a path without params, query or
# fragment (which a round trip through urlunparse may drop), backslash, space
# or control; nothing between "://" and the host (feedparser's _urifixer
# collapses extra slashes there).
_PLAIN_LINK = re.compile(r"https?://(?:[a-z0-9-]+\.)*[a-z0-9-]+(?:/[^?#;\\\x00-\x20\x7f]*)?")


def is_plain_link(url: str) -> bool:
    """Whether the URL has the plain shape above: a shortcut's test, no check."""
    return url.isascii() and _PLAIN_LINK.fullmatch(url) is not None


# urljoin gives back as it is an opaque URI too (urn:…, tag:…, mailto:…),
# whose scheme is not one it resolves against.
# Lower-case scheme characters from the very start (nothing for urlsplit to
# strip), no "/" after the colon (no host to parse), and no tab or line break
# (which urlsplit removes before it reads the URL).
_OPAQUE_URI = re.compile(r"([a-z][a-z0-9+.-]*):(?!/)[^\t\n\r]*")


def joins_to_itself(base: str, uri: str) -> bool:
    """Whether `urljoin(base, uri)` is `uri` as it is, known from its shape
    without urljoin's two parses; False also when not known."""
    if is_plain_link(uri):
        return _base_parses(base)
    opaque = _OPAQUE_URI.fullmatch(uri)
    if opaque is not None and opaque[1] not in uses_relative:
        return _base_parses(base)
    return False


@functools.lru_cache(maxsize=1024)
def _base_parses(base: str) -> bool:
    """Whether urljoin gets past its parse of `base`: it raises ValueError for a
    broken one such as "http://[::1", and parses no empty one."""
    if not base:
        return True
    try:
        urlparse(base)
    except ValueError:
        return False
    return True
