"""Static publishing: canonical feeds written atomically as files, and the
documented nginx configuration serving them."""

from __future__ import annotations

import fcntl
import gzip
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from feedsvc.db import Database
from feedsvc.posts import create_local_post
from feedsvc.publish.static import LOCK, STAMP, publish_static
from tests.configured import settings_of
from tests.publish_helpers import NOW, add_tricky_posts

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
CANONICAL = [
    f"feeds/{kind}.{fmt}" for kind in ("posts", "summary") for fmt in ("atom", "rss", "json")
]


@pytest.fixture
def nginx_home() -> Iterator[Path]:
    """A folder others may enter: nginx's workers run as another user when we are root."""
    home = Path(tempfile.mkdtemp(prefix="feedsvc-nginx-"))
    home.chmod(0o755)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def static_dir(nginx_home: Path) -> Path:
    return nginx_home / "static"


@pytest.fixture
def app_config(app_config: dict[str, Any], static_dir: Path) -> dict[str, Any]:
    return {**app_config, "STATIC_DIR": str(static_dir)}


def test_canonical_feeds_are_written_with_gzip_twins(
    app: Flask, client: FlaskClient, db: Database, static_dir: Path
) -> None:
    add_tricky_posts(db)
    assert publish_static(db, settings_of(app), NOW) is True
    for name in CANONICAL:
        written = (static_dir / name).read_bytes()
        assert written == client.get("/" + name).data
        assert gzip.decompress((static_dir / f"{name}.gz").read_bytes()) == written
    # No temporary files are left behind.
    assert not [p for p in static_dir.rglob(".*") if p.name not in (STAMP, LOCK)]


def test_files_are_rewritten_only_after_a_change(
    app: Flask, db: Database, static_dir: Path
) -> None:
    add_tricky_posts(db)
    publish_static(db, settings_of(app), NOW)
    target = static_dir / "feeds/posts.atom"
    before = target.stat().st_ino
    assert publish_static(db, settings_of(app), NOW) is False
    assert target.stat().st_ino == before
    with db.session() as session:
        create_local_post(session, title="Fresh", body_html="<p>new</p>", now=NOW,
                          summary_length=300)  # fmt: skip
    assert publish_static(db, settings_of(app), NOW) is True
    assert target.stat().st_ino != before
    assert b"Fresh" in target.read_bytes()


def test_writers_take_turns_and_the_last_writes_the_newest_version(
    app: Flask, db: Database, static_dir: Path
) -> None:
    """The worker and a web process (a hub's delivery) may both write: one waits
    for the other, and reads the content version only once it holds the lock."""
    add_tricky_posts(db)
    static_dir.mkdir(parents=True)
    with open(static_dir / LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        writer = threading.Thread(target=publish_static, args=(db, settings_of(app), NOW))
        writer.start()
        time.sleep(0.3)
        assert not (static_dir / "feeds/posts.atom").exists()
        with db.session() as session:
            create_local_post(session, title="Written while waiting", body_html="<p>x</p>",
                              now=NOW, summary_length=300)  # fmt: skip
    writer.join(10)
    assert b"Written while waiting" in (static_dir / "feeds/posts.atom").read_bytes()


def test_files_and_folders_are_readable_under_a_strict_umask(
    app: Flask, db: Database, static_dir: Path
) -> None:
    """nginx runs as another user: a worker started with umask 077 must still
    write files it can read."""
    add_tricky_posts(db)
    before = os.umask(0o077)
    try:
        publish_static(db, settings_of(app), NOW)
    finally:
        os.umask(before)
    assert stat.S_IMODE(static_dir.stat().st_mode) == 0o755
    assert stat.S_IMODE((static_dir / "feeds").stat().st_mode) == 0o755
    for name in CANONICAL:
        for path in (static_dir / name, static_dir / f"{name}.gz"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AppServer:
    port: int
    # Every path (with its query) that reached the app.
    seen: list[str] = field(default_factory=list)


@pytest.fixture
def app_server(app: Flask) -> Iterator[AppServer]:
    served = AppServer(0)

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        query = environ.get("QUERY_STRING")
        served.seen.append(environ["PATH_INFO"] + (f"?{query}" if query else ""))
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, counting, threaded=True)
    served.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served
    server.shutdown()


@dataclass(frozen=True)
class Nginx:
    http: str
    https: str


def _certificate(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (Debian package openssl)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=feeds.example.org",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _shipped_site(replacements: dict[str, str]) -> str:
    site = (ROOT / "docs" / "nginx.conf").read_text()
    for old, new in replacements.items():
        assert old in site, old
        site = site.replace(old, new)
    return site


@pytest.fixture
def nginx_site() -> dict[str, str]:
    """Lines of docs/nginx.conf a test wants changed, beyond the addresses."""
    return {}


@pytest.fixture
def nginx(
    nginx_home: Path, static_dir: Path, app_server: AppServer, nginx_site: dict[str, str]
) -> Iterator[Nginx]:
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian package nginx-light)")
    http, https = _free_port(), _free_port()
    cert, key = _certificate(nginx_home)
    site = _shipped_site({
        "listen 80 default_server;": f"listen 127.0.0.1:{http} default_server;",
        "listen [::]:80 default_server;": "",
        "listen 443 ssl default_server;": f"listen 127.0.0.1:{https} ssl default_server;",
        "listen [::]:443 ssl default_server;": "",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{app_server.port};",
        "/etc/letsencrypt/live/feeds.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/feeds.example.org/privkey.pem": str(key),
        "root /srv/feedsvc/static;": f"root {static_dir};",
        **nginx_site,
    })  # fmt: skip
    # Another site on the same ports, read first: ours must still be the default.
    other_site = (
        f"server {{ listen 127.0.0.1:{http}; listen 127.0.0.1:{https} ssl; "
        f"ssl_certificate {cert}; ssl_certificate_key {key}; "
        "server_name other.test; return 418; }"
    )
    conf = nginx_home / "nginx.conf"
    conf.write_text(
        # As root, nginx's workers run as nobody, as www-data would: file
        # permissions apply to them.
        f"{'user nobody nogroup;' if os.geteuid() == 0 else ''}\n"
        f"daemon off;\npid {nginx_home}/nginx.pid;\nerror_log {nginx_home}/error.log;\n"
        f"events {{}}\nhttp {{\naccess_log off;\nclient_body_temp_path {nginx_home}/body;\n"
        f"proxy_temp_path {nginx_home}/proxy;\n{other_site}\n{site}\n}}\n"
    )
    process = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(nginx_home)],
                               stderr=subprocess.PIPE)  # fmt: skip
    base = Nginx(f"http://127.0.0.1:{http}", f"https://127.0.0.1:{https}")
    for _ in range(100):
        try:
            httpx.get(base.https + "/feeds/no-such", timeout=1, verify=False)
            break
        except httpx.TransportError:
            if process.poll() is not None:
                pytest.fail(f"nginx did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.05)
    app_server.seen.clear()
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_nginx_serves_the_static_feeds_and_passes_the_rest_to_the_app(
    app: Flask, client: FlaskClient, db: Database, static_dir: Path, nginx: Nginx,
    app_server: AppServer,
) -> None:  # fmt: skip
    add_tricky_posts(db)
    publish_static(db, settings_of(app), NOW)
    # Nothing would tell the app's answer apart from the file's, so mark the file.
    target = static_dir / "feeds/posts.atom"
    target.write_bytes(target.read_bytes().replace(b"</feed>", b"<!-- from disk --></feed>"))

    with httpx.Client(base_url=nginx.https, verify=False) as web:
        plain = web.get("/feeds/posts.atom", headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200
        assert plain.content.endswith(b"<!-- from disk --></feed>")
        assert plain.headers["content-type"] == "application/atom+xml; charset=utf-8"
        # The same caching rules as the app's own answer, with the defaults.
        from_app = client.get("/feeds/posts.atom")
        assert plain.headers["cache-control"] == from_app.headers["Cache-Control"]
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
        # Not one of those polls reached the app.
        assert not [path for path in app_server.seen if path.startswith("/feeds/")]

        # Query strings and every other address reach the app.
        paged = web.get("/feeds/posts.atom?limit=2")
        assert paged.status_code == 200 and b"from disk" not in paged.content
        assert paged.content == client.get("/feeds/posts.atom?limit=2").data
        assert (
            web.get("/feeds/tags/python.rss").content == client.get("/feeds/tags/python.rss").data
        )
        assert app_server.seen == ["/feeds/posts.atom?limit=2", "/feeds/tags/python.rss"]
        # HTML is compressed by nginx.
        page = web.get("/", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
        assert b"<html" in page.content


def test_nginx_answers_as_the_default_site_and_sends_http_to_https(nginx: Nginx) -> None:
    for host in ("feeds.example.org", "anything.test"):
        moved = httpx.get(nginx.http + "/feeds/posts.atom?limit=2", headers={"Host": host})
        assert moved.status_code == 301
        assert moved.headers["location"] == f"https://{host}/feeds/posts.atom?limit=2"
        site = httpx.get(nginx.https + "/", headers={"Host": host}, verify=False)
        assert site.status_code == 200 and b"<html" in site.content
    # The other site still answers its own name.
    assert httpx.get(nginx.http + "/", headers={"Host": "other.test"}).status_code == 418


def test_nginx_falls_back_to_the_app_when_a_static_file_is_unreadable(
    app: Flask, db: Database, static_dir: Path, nginx: Nginx, app_server: AppServer
) -> None:
    add_tricky_posts(db)
    publish_static(db, settings_of(app), NOW)
    for name in ("feeds/posts.atom", "feeds/posts.atom.gz"):
        (static_dir / name).chmod(0)
    for name in ("feeds/summary.rss", "feeds/summary.rss.gz"):
        (static_dir / name).unlink()
    with httpx.Client(base_url=nginx.https, verify=False) as web:
        for path in ("/feeds/posts.atom", "/feeds/summary.rss"):
            answer = web.get(path)
            assert answer.status_code == 200, path
            assert b"Ends with" in answer.content
    assert app_server.seen == ["/feeds/posts.atom", "/feeds/summary.rss"]


@pytest.mark.parametrize("nginx_site", [{"allow 127.0.0.1;": "allow 127.0.0.2;"}])
def test_nginx_keeps_metrics_to_the_allowed_addresses(nginx: Nginx) -> None:
    # Only 127.0.0.2 is allowed here: this machine's usual address is refused.
    refused = httpx.get(nginx.https + "/metrics", verify=False)
    assert refused.status_code == 403
    allowed = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2", verify=False))
    with allowed:
        answer = allowed.get(nginx.https + "/metrics")
    assert answer.status_code == 200 and b"feedsvc_sources_due" in answer.content


def test_publish_command_writes_the_static_feeds(
    app: Flask, db: Database, static_dir: Path
) -> None:
    add_tricky_posts(db)
    result = app.test_cli_runner().invoke(args=["publish"])
    assert result.exit_code == 0, result.output
    assert f"static feeds written to {static_dir}" in result.output
    assert all((static_dir / name).exists() for name in CANONICAL)
