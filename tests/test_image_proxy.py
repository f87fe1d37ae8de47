"""The image proxy: /img/<signed token> serves upstream raster images from our
own address (guarded, sniffed, cached), and the site's pages point there."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc import create_app, images
from feedsvc.db import Database
from feedsvc.posts import create_local_post
from tests.configured import reconfigure
from tests.feedserver import FeedServer, Reply

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGNgAAIAAAUAAXpeqz8AAAAASUVORK5CYII="
)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def img_path(url: str, secret: str = "testing") -> str:
    return "/img/" + images.sign(url, secret)


@pytest.fixture
def upstream(feed_server: FeedServer) -> FeedServer:
    feed_server.routes["/a.png"] = Reply(body=PNG, headers={"Content-Type": "image/png"})
    # A type header that lies does not make a page an image, nor SVG a raster one.
    png, svg = {"Content-Type": "image/png"}, {"Content-Type": "image/svg+xml"}
    feed_server.routes["/page.png"] = Reply(body=b"<html><body>hi</body></html>", headers=png)
    feed_server.routes["/drawing.svg"] = Reply(body=SVG, headers=svg)
    feed_server.routes["/broken.png"] = Reply(status=500, body=b"oops")
    feed_server.routes["/big.png"] = Reply(body=PNG + b"\0" * 5000, headers=png)
    return feed_server


def test_a_raster_image_is_served_with_its_type_and_cache_headers(
    client: FlaskClient, upstream: FeedServer
) -> None:
    response = client.get(img_path(upstream.url("/a.png")))
    assert response.status_code == 200
    assert response.content_type == "image/png"
    assert response.data == PNG
    assert response.headers["ETag"]
    cache = response.headers["Cache-Control"]
    assert "public" in cache and "max-age=2592000" in cache
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    again = client.get(img_path(upstream.url("/a.png")),
                       headers={"If-None-Match": response.headers["ETag"]})  # fmt: skip
    assert again.status_code == 304
    # From the disk cache: upstream was asked once.
    assert len(upstream.hits("/a.png")) == 1


@pytest.mark.parametrize("path", ["/drawing.svg", "/page.png"])
def test_svg_and_html_bodies_are_refused(
    client: FlaskClient, upstream: FeedServer, path: str
) -> None:
    response = client.get(img_path(upstream.url(path)))
    assert response.status_code == 404
    assert response.content_type.startswith("text/plain")
    assert b"not a raster image" in response.data
    assert SVG not in response.data


def test_an_altered_token_is_404_and_fetches_nothing(
    client: FlaskClient, upstream: FeedServer
) -> None:
    token = images.sign(upstream.url("/a.png"), "testing")
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get("/img/" + altered).status_code == 404
    # A token signed with another key is just as foreign.
    assert client.get(img_path(upstream.url("/a.png"), secret="other")).status_code == 404
    assert upstream.hits("/a.png") == []


def test_upstream_failures_are_502_or_404_never_500(
    client: FlaskClient, upstream: FeedServer
) -> None:
    assert client.get(img_path(upstream.url("/broken.png"))).status_code == 502
    assert client.get(img_path(upstream.url("/missing.png"))).status_code == 404
    # Nothing listens there.
    assert client.get(img_path("http://127.0.0.1:9/x.png")).status_code == 502


@pytest.fixture
def guarded_app(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The production guard: no private or loopback addresses, a small size cap."""
    monkeypatch.setenv("FEEDSVC_ENV", "testing")
    config = app_config | {"FETCH_ALLOW_PRIVATE": False, "IMAGE_PROXY_MAX_BYTES": 1000}
    application = create_app(config, env="testing")
    yield application
    application.extensions["feedsvc.db"].dispose()


def test_a_loopback_image_is_refused_with_the_guard_on(
    guarded_app: Flask, upstream: FeedServer
) -> None:
    response = guarded_app.test_client().get(img_path(upstream.url("/a.png")))
    assert response.status_code == 404
    assert b"refused" in response.data
    assert upstream.hits("/a.png") == []


def test_an_image_over_the_size_cap_is_refused(app: Flask, upstream: FeedServer) -> None:
    reconfigure(app, IMAGE_PROXY_MAX_BYTES=1000)
    from feedsvc.web import images as web_images

    web_images.init(app)
    response = app.test_client().get(img_path(upstream.url("/big.png")))
    assert response.status_code == 404
    assert b"limit" in response.data


@pytest.fixture
def pictured(db: Database) -> int:
    with db.session() as session:
        post = create_local_post(
            session, title="With a picture", now=NOW, summary_length=300,
            body_html='<p><img src="http://img.example/a.png" alt="A"'
            ' srcset="http://img.example/a2.png 2x"></p>',
        )  # fmt: skip
        return post.id


def test_pages_show_images_through_the_proxy_and_allow_only_self(
    client: FlaskClient, pictured: int
) -> None:
    response = client.get(f"/posts/{pictured}")
    page = client.get(response.headers["Location"]) if response.status_code == 301 else response
    html = page.get_data(as_text=True)
    assert f'src="{img_path("http://img.example/a.png")}"' in html
    assert f'srcset="{img_path("http://img.example/a2.png")} 2x"' in html
    assert "http://img.example/a.png" not in html.split('<div class="content">', 1)[1]
    policy = page.headers["Content-Security-Policy"]
    assert "img-src 'self';" in policy


def test_with_the_proxy_off_pages_keep_upstream_images(
    app: Flask, client: FlaskClient, pictured: int
) -> None:
    reconfigure(app, IMAGE_PROXY=False)
    page = client.get(f"/posts/{pictured}-with-a-picture")
    html = page.get_data(as_text=True)
    assert 'src="http://img.example/a.png"' in html
    assert "img-src 'self' https: http: data:;" in page.headers["Content-Security-Policy"]


def test_feeds_keep_original_images_unless_asked(
    app: Flask, client: FlaskClient, pictured: int
) -> None:
    feed = client.get("/feeds/posts.atom").get_data(as_text=True)
    assert "http://img.example/a.png" in feed and "/img/" not in feed
    reconfigure(app, IMAGE_PROXY_FEEDS=True)
    feed = client.get("/feeds/posts.rss").get_data(as_text=True)
    assert "http://feeds.test" + img_path("http://img.example/a.png") in feed
    assert "http://img.example/a.png" not in feed


def test_rewrite_images_touches_image_urls_only() -> None:
    html = (
        '<p><img src="http://x.example/a.png?b=1&amp;c=2" alt="a">'
        '<a href="http://x.example/page">link</a>'
        '<video src="http://x.example/v.mp4" poster="http://x.example/p.jpg"></video>'
        '<picture><source srcset="http://x.example/w.webp 1x, http://x.example/w2.webp 2x">'
        '</picture><audio><source src="http://x.example/s.mp3"></audio></p>'
    )
    out = images.rewrite_images(html, lambda url: "/img/" + url.rsplit("/", 1)[1])
    assert 'src="/img/a.png?b=1&amp;c=2"' in out
    assert 'href="http://x.example/page"' in out
    assert 'src="http://x.example/v.mp4" poster="/img/p.jpg"' in out
    assert 'srcset="/img/w.webp 1x, /img/w2.webp 2x"' in out
    assert 'src="http://x.example/s.mp3"' in out


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x1cftypavif", "image/avif"),
        (SVG, None),
        (b"<?xml version='1.0'?><svg/>", None),
        (b"<!doctype html>", None),
        (b"", None),
    ],
)
def test_sniff_knows_raster_images_only(head: bytes, kind: str | None) -> None:
    assert images.sniff(head) == kind


def test_a_cached_file_removed_meanwhile_is_fetched_again(
    app: Flask, upstream: FeedServer, tmp_path: Path
) -> None:
    from feedsvc.imageproxy import ProxiedImage
    from feedsvc.web import images as web_images

    proxy = app.extensions[web_images.PROXY].get()
    real_get = proxy.get
    answers = iter([ProxiedImage("image/png", path=tmp_path / "gone")])
    # The first lookup finds a file a clean-up then deletes; the second fetches.
    proxy.get = lambda url: next(answers, None) or real_get(url)  # type: ignore[method-assign]
    response = app.test_client().get(img_path(upstream.url("/a.png")))
    assert response.status_code == 200 and response.data == PNG
    # Gone both times: a short answer, still no 500.
    proxy.get = lambda url: ProxiedImage("image/png", path=tmp_path / "gone")  # type: ignore[method-assign]
    assert app.test_client().get(img_path(upstream.url("/a.png"))).status_code == 502
