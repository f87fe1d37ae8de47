"""Clean links: tracking parameters off, and the form a story is known by. Pure.

The tracking parameters are a maintained list in tracking_params.txt. A link
is only rebuilt when it had one, so every other link stays byte for byte as
the feed gave it.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from feedsvc.urls import is_plain_link

DEFAULT_PORTS = {"http": 80, "https": 443}


def _tracking_pattern() -> re.Pattern[str]:
    lines = Path(__file__).with_name("tracking_params.txt").read_text(encoding="utf-8")
    names = [line.strip() for line in lines.splitlines()]
    parts = [re.escape(name[:-1]) + ".*" if name.endswith("*") else re.escape(name)
             for name in names if name and not name.startswith("#")]  # fmt: skip
    return re.compile("(?:" + "|".join(parts) + ")", re.IGNORECASE)


TRACKING = _tracking_pattern()


def is_tracking_param(name: str) -> bool:
    return TRACKING.fullmatch(name) is not None


def without_tracking(url: str) -> str:
    """The URL without tracking parameters in its query (or in a #fragment query)."""
    if "?" not in url and "#" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = _clean_query(parts.query)
    fragment = _clean_query(parts.fragment) if "=" in parts.fragment else parts.fragment
    if query == parts.query and fragment == parts.fragment:
        return url
    return urlunsplit(parts._replace(query=query, fragment=fragment))


def _clean_query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(name, value) for name, value in pairs if not is_tracking_param(name)]
    if len(kept) == len(pairs):
        return query
    return urlencode(kept)


def canonical_link(url: str | None) -> str | None:
    """The link a story is known by across sources: without tracking, scheme and
    host in lower case, no default port, no fragment; None for none."""
    if not url:
        return None
    if is_plain_link(url):  # most entry links: canonical but for an empty path's "/"
        return url if url.count("/") > 2 else url + "/"
    return _rebuilt_canonical_link(url)


def _rebuilt_canonical_link(url: str) -> str | None:
    try:
        parts = urlsplit(without_tracking(url.strip()))
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return None
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username or parts.password:
        return None
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


# Sanitized HTML double-quotes every attribute value.
_URL_ATTRIBUTE = re.compile(r'\b(href|src)="([^"]*)"')


def clean_links_in_html(fragment: str) -> str:
    """The sanitized HTML with tracking parameters taken off its links and images."""
    if "=" not in fragment or ("?" not in fragment and "#" not in fragment):
        return fragment

    def clean(match: re.Match[str]) -> str:
        url = html.unescape(match.group(2))
        cleaned = without_tracking(url)
        if cleaned == url:
            return match.group(0)
        return f'{match.group(1)}="{html.escape(cleaned)}"'

    return _URL_ATTRIBUTE.sub(clean, fragment)
