"""Static publishing: canonical feeds written atomically as files, and the
documented nginx configuration serving them."""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from feedsvc.db import Database
from feedsvc.posts import create_local_post
from feedsvc.publish.static import publish_static
from tests.publish_helpers import NOW, add_tricky_posts

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
CANONICAL = [
    f"feeds/{kind}.{fmt}" for kind in ("posts", "summary") for fmt in ("atom", "rss", "json")
]


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    return tmp_path / "static"


@pytest.fixture
def app_config(app_config: dict[str, Any], static_dir: Path) -> dict[str, Any]:
    return {**app_config, "STATIC_DIR": str(static_dir)}


def test_canonical_feeds_are_written_with_gzip_twins(
    app: Flask, client: FlaskClient, db: Database, static_dir: Path
) -> None:
    add_tricky_posts(db)
    assert publish_static(db, app.config, NOW) is True
    for name in CANONICAL:
        written = (static_dir / name).read_bytes()
        assert written == client.get("/" + name).data
        assert gzip.decompress((static_dir / f"{name}.gz").read_bytes()) == written
    # No temporary files are left behind.
    assert not [p for p in static_dir.rglob(".*") if p.name != ".content-version"]


def test_files_are_rewritten_only_after_a_change(
    app: Flask, db: Database, static_dir: Path
) -> None:
    add_tricky_posts(db)
    publish_static(db, app.config, NOW)
    target = static_dir / "feeds/posts.atom"
    before = target.stat().st_ino
    assert publish_static(db, app.config, NOW) is False
    assert target.stat().st_ino == before
    with db.session() as session:
        create_local_post(session, title="Fresh", body_html="<p>new</p>", now=NOW,
                          summary_length=300)  # fmt: skip
    assert publish_static(db, app.config, NOW) is True
    assert target.stat().st_ino != before
    assert b"Fresh" in target.read_bytes()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def app_server(app: Flask) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()


@pytest.fixture
def nginx(tmp_path: Path, static_dir: Path, app_server: int) -> Iterator[str]:
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian package nginx-light)")
    port = _free_port()
    site = (ROOT / "docs" / "nginx.conf").read_text()
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_server};"),
        ("root /srv/feedsvc/static;", f"root {static_dir};"),
    ):
        assert old in site
        site = site.replace(old, new)
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        # pytest's temporary folders are private to their owner: run nginx as us.
        f"{'user root;' if os.geteuid() == 0 else ''}\n"
        f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\naccess_log off;\nclient_body_temp_path {tmp_path};\n"
        f"proxy_temp_path {tmp_path};\n{site}\n}}\n"
    )
    process = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)],
                               stderr=subprocess.PIPE)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/feeds/no-such", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_nginx_serves_the_static_feeds_and_passes_the_rest_to_the_app(
    app: Flask, client: FlaskClient, db: Database, static_dir: Path, nginx: str
) -> None:
    add_tricky_posts(db)
    publish_static(db, app.config, NOW)
    # Nothing would tell the app's answer apart from the file's, so mark the file.
    target = static_dir / "feeds/posts.atom"
    target.write_bytes(target.read_bytes().replace(b"</feed>", b"<!-- from disk --></feed>"))

    with httpx.Client(base_url=nginx) as web:
        plain = web.get("/feeds/posts.atom", headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200
        assert plain.content.endswith(b"<!-- from disk --></feed>")
        assert plain.headers["content-type"] == "application/atom+xml; charset=utf-8"
        assert "max-age=300" in plain.headers["cache-control"]
        etag = plain.headers["etag"]
        again = web.get("/feeds/posts.atom", headers={"If-None-Match": etag,
                                                      "Accept-Encoding": "identity"})  # fmt: skip
        assert again.status_code == 304 and again.content == b""

        zipped = web.get("/feeds/summary.rss", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding"
        assert zipped.content == client.get("/feeds/summary.rss").data

        feed_json = web.get("/feeds/posts.json")
        assert feed_json.headers["content-type"] == "application/feed+json; charset=utf-8"

        # Query strings and every other address reach the app.
        paged = web.get("/feeds/posts.atom?limit=2")
        assert paged.status_code == 200 and b"from disk" not in paged.content
        assert paged.content == client.get("/feeds/posts.atom?limit=2").data
        assert (
            web.get("/feeds/tags/python.rss").content == client.get("/feeds/tags/python.rss").data
        )
        assert web.get("/").status_code == 200


def test_publish_command_writes_the_static_feeds(
    app: Flask, db: Database, static_dir: Path
) -> None:
    add_tricky_posts(db)
    result = app.test_cli_runner().invoke(args=["publish"])
    assert result.exit_code == 0, result.output
    assert f"static feeds written to {static_dir}" in result.output
    assert all((static_dir / name).exists() for name in CANONICAL)
