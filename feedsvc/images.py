"""Images through our own address: signed tokens, raster sniffing, rewriting
`<img>` sources in sanitized HTML. Pure: the fetching and the disk cache are
in `feedsvc.imageproxy`.

A token is the image's URL signed with the app's secret (itsdangerous), so
`/img/<token>` fetches only what a page of ours named, never a URL a visitor
made up.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "feedsvc.image-proxy"
# Where the web app serves a token (web/images.py); feeds name it absolutely.
PATH = "/img/"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def sign(url: str, secret_key: str) -> str:
    """The token standing for `url` in `/img/<token>`."""
    token: str = _serializer(secret_key).dumps(url)
    return token


def unsign(token: str, secret_key: str) -> str | None:
    """The URL a token stands for; None for a token we did not sign."""
    try:
        url = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    return url if isinstance(url, str) else None


# Magic numbers of the raster formats every browser shows. SVG is left out on
# purpose: it is a document that can carry script and external references.
def sniff(head: bytes) -> str | None:
    """The raster image type the bytes start with, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "image/avif"
    return None


# Sanitized HTML double-quotes every attribute value (see content.sanitize_html).
_IMAGE_TAG = re.compile(r'<(img|source|video)\b(?:[^>"]|"[^"]*+")*+>', re.IGNORECASE)
_URL_ATTRIBUTE = re.compile(r'(\s(src|poster|srcset)=")([^"]*)(")', re.IGNORECASE)
# Which attributes hold an image: a <source> srcset is a <picture>'s (a media
# file's <source> has src), a video's poster is its still.
_IMAGE_ATTRIBUTES = {"img": {"src", "srcset"}, "source": {"srcset"}, "video": {"poster"}}


def rewrite_images(fragment: str, proxied: Callable[[str], str | None]) -> str:
    """`fragment` with every image URL replaced by `proxied(url)`; a URL it
    returns None for is left as it is."""

    def one(url: str) -> str:
        return proxied(url) or url

    def attribute(match: re.Match[str], wanted: set[str]) -> str:
        if match.group(2).lower() not in wanted:
            return match.group(0)
        value = html.unescape(match.group(3))
        if match.group(2).lower() == "srcset":
            new = ", ".join(_srcset_candidate(candidate, one) for candidate in value.split(","))
        else:
            new = one(value.strip())
        return match.group(1) + html.escape(new, quote=True) + match.group(4)

    def tag(match: re.Match[str]) -> str:
        wanted = _IMAGE_ATTRIBUTES[match.group(1).lower()]
        return _URL_ATTRIBUTE.sub(lambda m: attribute(m, wanted), match.group(0))

    return _IMAGE_TAG.sub(tag, fragment)


def _srcset_candidate(candidate: str, one: Callable[[str], str]) -> str:
    parts = candidate.strip().split(None, 1)
    if not parts:
        return ""
    return " ".join([one(parts[0]), *parts[1:]])
