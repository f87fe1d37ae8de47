"""The image proxy's work: fetch an upstream image with the guarded fetcher,
keep it only when its bytes are a raster image, and cache it on disk.

The web door (`web/images.py`) turns a token into a URL and a `ProxiedImage`
or an `ImageUnavailable` into an answer; nothing here knows about requests.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from feedsvc import images
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.fetcher import Fetcher
from feedsvc.vocabulary import FetchErrorKind

# Bytes read to learn a cached file's type.
SNIFF_BYTES = 16


class ImageUnavailable(FeedsvcError):
    """The image cannot be served; the message says why in a few words.
    `kind` NOT_FOUND: it never will be (refused, not an image, gone upstream);
    UNREACHABLE: upstream failed this time."""

    kind = ErrorKind.NOT_FOUND


@dataclass(frozen=True)
class ProxiedImage:
    content_type: str
    # The cached file; or, when the cache could not be written, the bytes.
    path: Path | None = None
    body: bytes = b""


class ImageProxy:
    """Images by URL, from the disk cache or fetched once into it."""

    def __init__(self, fetcher: Fetcher, cache_dir: Path) -> None:
        self.fetcher = fetcher
        self.cache_dir = cache_dir

    def get(self, url: str) -> ProxiedImage:
        path = self._path(url)
        try:
            with path.open("rb") as cached:
                kind = images.sniff(cached.read(SNIFF_BYTES))
            if kind is not None:
                return ProxiedImage(kind, path=path)
        except OSError:
            pass
        body, kind = self._fetch(url)
        try:
            self._store(path, body)
        except OSError:
            # A full or read-only disk costs the cache, not the picture.
            return ProxiedImage(kind, body=body)
        return ProxiedImage(kind, path=path)

    def _fetch(self, url: str) -> tuple[bytes, str]:
        result = self.fetcher.fetch(url)
        if result.error_kind in (FetchErrorKind.REFUSED, FetchErrorKind.TOO_LARGE):
            raise ImageUnavailable(result.error or "refused")
        if result.error_kind is not None:
            raise ImageUnavailable(result.error or "upstream failed", kind=ErrorKind.UNREACHABLE)
        if result.status in (404, 410):
            raise ImageUnavailable(f"upstream answered {result.status}")
        if not result.ok:
            raise ImageUnavailable(f"upstream answered {result.status}", kind=ErrorKind.UNREACHABLE)
        kind = images.sniff(result.content[:SNIFF_BYTES])
        if kind is None:
            raise ImageUnavailable("upstream's answer is not a raster image")
        return result.content, kind

    def _path(self, url: str) -> Path:
        digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_dir / digest[:2] / digest

    def _store(self, path: Path, body: bytes) -> None:
        """Write whole or not at all: a reader never sees half an image."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(body)
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
