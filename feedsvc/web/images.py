"""`/img/<token>`: the image proxy's door, and the template filters that send
the site's images through it (`image_src` for one URL, `proxy_images` for
sanitized HTML). Rewriting happens when a page is rendered, never in stored
content, so `FEEDSVC_IMAGE_PROXY=off` needs no migration.

An answer is the image, or 404/502 with a few words why: never a 500. The
fetch is bounded by `FEEDSVC_IMAGE_PROXY_TIMEOUT`, so a sync gunicorn worker
waits no longer than that for any upstream.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request, send_file, url_for
from markupsafe import Markup

from feedsvc import images
from feedsvc.errors import ErrorKind
from feedsvc.fetcher import Fetcher, FetchSettings
from feedsvc.imageproxy import ImageProxy, ImageUnavailable, ProxiedImage
from feedsvc.settings import EXTENSION as SETTINGS
from feedsvc.settings import ImageProxySettings
from feedsvc.urls import web_url
from feedsvc.web.context import settings

bp = Blueprint("images", __name__)

PROXY = "feedsvc.image_proxy"
IMAGE_ACCEPT = "image/avif, image/webp, image/png, image/jpeg, image/gif;q=0.9, */*;q=0.1"
# Failures are kept a little while by browsers and caches, so a broken image
# on a busy page does not send every visitor's request upstream again.
FAILURE_MAX_AGE = 300


def init(app: Flask) -> None:
    proxy: ImageProxySettings = app.extensions[SETTINGS].images
    if not proxy.enabled:
        return
    # One pooled client per process, shared by its threads; made on first use.
    app.extensions[PROXY] = _LazyProxy(replace(proxy.fetch, accept=IMAGE_ACCEPT), proxy.folder)


class _LazyProxy:
    def __init__(self, settings: FetchSettings, folder: Path) -> None:
        self.settings = settings
        self.folder = folder
        self._proxy: ImageProxy | None = None

    def get(self) -> ImageProxy:
        if self._proxy is None:
            self._proxy = ImageProxy(Fetcher(self.settings), self.folder)
        return self._proxy


@bp.get(images.PATH + "<token>")
def image(token: str) -> Response:
    lazy: _LazyProxy | None = current_app.extensions.get(PROXY)
    url = images.unsign(token, settings().secret_key)
    if lazy is None or url is None or web_url(url) is None:
        return _failure(404, "no such image")
    max_age = settings().images.max_age
    try:
        try:
            response = _answer(lazy.get().get(url), max_age)
        except OSError:
            # The cached file went (a clean-up) between finding and sending it.
            response = _answer(lazy.get().get(url), max_age)
    except ImageUnavailable as exc:
        status = 502 if exc.kind == ErrorKind.UNREACHABLE else 404
        return _failure(status, str(exc))
    except OSError:
        return _failure(502, "the image cache cannot be read")
    response.cache_control.public = True
    response.cache_control.immutable = True
    # The bytes are an image whatever a browser would make of them.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _answer(found: ProxiedImage, max_age: int) -> Response:
    if found.path is not None:
        response = send_file(found.path, mimetype=found.content_type, max_age=max_age,
                             conditional=True, etag=True)  # fmt: skip
    else:
        response = Response(found.body, mimetype=found.content_type)
        response.add_etag()
        response.cache_control.max_age = max_age
        response.make_conditional(request)
    return response


def _failure(status: int, reason: str) -> Response:
    response = Response(reason + "\n", status=status, mimetype="text/plain")
    response.cache_control.public = True
    response.cache_control.max_age = FAILURE_MAX_AGE
    return response


def proxied_url(url: str | None) -> str | None:
    """Our address for an upstream image, or None for no http(s) URL."""
    url = web_url(url)
    if url is None:
        return None
    token = images.sign(url, settings().secret_key)
    return url_for("images.image", token=token)


def image_src(url: str | None) -> str | None:
    """Template filter: the address a page shows an image from."""
    if not settings().images.enabled:
        return web_url(url)
    return proxied_url(url)


# A listed post's picture: this wide, as tall as its shape says when its size
# is known, else cropped to a 4:3 box (site.css: `.thumbnail-box`).
THUMBNAIL_WIDTH = 160
THUMBNAIL_BOX = (THUMBNAIL_WIDTH, 120)
THUMBNAIL_MAX_HEIGHT = 240


def thumbnail_size(post: Any) -> tuple[int, int, bool]:
    """Template filter: width and height attributes of a post's thumbnail, and
    whether the picture is cropped to a fixed box (its size is unknown, or it
    is very tall): either way its box is known before it loads."""
    width, height = getattr(post, "image_width", None), getattr(post, "image_height", None)
    if not width or not height or width <= 0 or height <= 0:
        return (*THUMBNAIL_BOX, True)
    scaled = round(THUMBNAIL_WIDTH * height / width)
    if scaled > THUMBNAIL_MAX_HEIGHT:
        return (*THUMBNAIL_BOX, True)
    return THUMBNAIL_WIDTH, max(1, scaled), False


def proxy_images(fragment: str) -> Markup:
    """Template filter: sanitized HTML with its images through the proxy."""
    if not settings().images.enabled:
        return Markup(fragment)
    return Markup(images.rewrite_images(fragment, proxied_url))
