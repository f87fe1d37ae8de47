"""Feeds over HTTP with aggregator manners: rendered once, compressed once,
answered with 304 whenever the client already has the bytes.

A rendered feed is cached per address together with the content version it
was rendered at; a request whose version differs renders afresh. The version
lives in the database, so every process sees a change at once.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime

from flask import Request, Response


@dataclass(frozen=True)
class Rendered:
    body: bytes
    gzipped: bytes
    etag: str
    gzip_etag: str
    last_modified: dt.datetime
    content_type: str
    # Formatted once, not per request.
    last_modified_header: str = ""


def make_rendered(body: bytes, last_modified: dt.datetime, content_type: str) -> Rendered:
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    last_modified = last_modified.astimezone(dt.UTC).replace(microsecond=0)
    return Rendered(
        body=body,
        # mtime=0: the same bytes always compress to the same bytes.
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        etag=f'"{digest}"',
        # A strong ETag names exact bytes, so the gzip variant has its own.
        gzip_etag=f'"{digest}-gz"',
        last_modified=last_modified,
        content_type=content_type,
        last_modified_header=format_datetime(last_modified, usegmt=True),
    )


class RenderCache:
    """A small LRU of rendered feeds, each tagged with its content version."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[int, Rendered]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, version: int) -> Rendered | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != version:
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: str, version: int, rendered: Rendered) -> None:
        with self._lock:
            self._entries[key] = (version, rendered)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def cache_control(max_age: int, stale_while_revalidate: int) -> str:
    return f"public, max-age={max_age}, stale-while-revalidate={stale_while_revalidate}"


def feed_response(rendered: Rendered, request: Request, cache_control: str) -> Response:
    """200 with the negotiated encoding, or 304 when the client is up to date."""
    accept = request.headers.get("Accept-Encoding", "")
    # The common case needs no parsing; q-values do.
    use_gzip = "gzip" in accept and request.accept_encodings["gzip"] > 0
    headers = [
        ("ETag", rendered.gzip_etag if use_gzip else rendered.etag),
        ("Last-Modified", rendered.last_modified_header),
        ("Cache-Control", cache_control),
        ("Vary", "Accept-Encoding"),
    ]
    if _not_modified(rendered, request):
        return Response(status=304, headers=headers)
    headers.append(("Content-Type", rendered.content_type))
    if use_gzip:
        headers.append(("Content-Encoding", "gzip"))
    return Response(rendered.gzipped if use_gzip else rendered.body, headers=headers)


def _not_modified(rendered: Rendered, request: Request) -> bool:
    # If-None-Match wins over If-Modified-Since (RFC 9110 section 13.2.2).
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or rendered.etag in tags or rendered.gzip_etag in tags
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return rendered.last_modified <= when
    return False
