"""Serving feeds: how close a cached feed and a 304 come to Flask's floor, how
fast a cold render is on a big database, and nginx on static-published feeds.

All figures come from one run, side by side, with wrk against gunicorn on
127.0.0.1:

(a) a Flask route returning constant bytes — the framework floor
(b) /feeds/posts.atom from the render cache, 200
(c) the same with If-None-Match, 304
(d) a cold render of 25 entries with --posts posts in the database (median ms,
    in-process, the render cache emptied before each request)
(e) nginx serving the static-published feed, (f) nginx serving a plain copy

Needs Debian's wrk and nginx-light.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
BODY = "<p>" + "A paragraph of a fairly ordinary post, with a <a href='/x'>link</a>. " * 12 + "</p>"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fill_sqlite(path: Path, posts: int) -> None:
    """Migrate, then bulk-load posts from 20 sources, a tag on every tenth."""
    from feedsvc.db import make_engine
    from feedsvc.migrate import upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    stamp = NOW.replace(tzinfo=None)
    conn.executemany(
        "INSERT INTO sources (id, feed_url, title, description, status, mode, error_count,"
        " next_check_at, created_at) VALUES (?, ?, ?, '', 'active', 'full', 0, ?, ?)",
        [(n, f"http://upstream{n}.example/feed.xml", f"Upstream {n}", str(stamp), str(stamp))
         for n in range(1, 21)],
    )  # fmt: skip
    conn.execute("INSERT INTO tags (id, slug, name) VALUES (1, 'python', 'Python')")
    batch = []
    for n in range(1, posts + 1):
        when = str(stamp - dt.timedelta(minutes=n))
        batch.append((
            n, uuid.uuid4().hex, n % 20 + 1, f"urn:entry:{n}", f"Post number {n}",
            f"post-number-{n}", f"http://upstream.example/{n}", "An Author",
            "A summary of the post, short and plain.", BODY, f"{n:064x}", "[]",
            when, when, when, when,
        ))  # fmt: skip
        if len(batch) == 20_000 or n == posts:
            conn.executemany(
                "INSERT INTO posts (id, uid, source_id, entry_key, title, slug, link, author,"
                " summary, content, content_hash, enclosures, published_at, updated_at,"
                " created_at, modified_at, hidden, popular_excluded)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,0)",
                batch,
            )
            conn.executemany(
                "INSERT INTO post_tags (post_id, tag_id) VALUES (?, 1)",
                [(row[0],) for row in batch if row[0] % 10 == 0],
            )
            batch.clear()
    conn.execute("INSERT INTO counters (name, value) VALUES ('content_version', 1)")
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def publish(database_url: str, static_dir: Path) -> None:
    import config
    from feedsvc.db import Database
    from feedsvc.publish.static import publish_static

    cfg = config.load("development") | {"DATABASE_URL": database_url, "STATIC_DIR": str(static_dir)}
    db = Database(database_url)
    publish_static(db, cfg, NOW, force=True)
    db.dispose()


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> float:
    """Requests per second, from wrk with 2 threads and 32 connections."""
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match or ("Non-2xx" in output and "304" not in str(headers)):
        raise RuntimeError(output)
    return float(match.group(1))


def cold_render_ms(database_url: str, rounds: int) -> list[float]:
    os.environ["FEEDSVC_ENV"] = "production"
    from feedsvc import create_app

    app = create_app({"DATABASE_URL": database_url}, env="production")
    client = app.test_client()
    cache = app.extensions["feedsvc.render_cache"]
    timings = []
    for _ in range(rounds):
        cache.clear()
        start = time.perf_counter()
        response = client.get("/feeds/posts.atom")
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200 and response.data.count(b"<entry>") == 25
    return timings


NGINX_WRAPPER = """user {user};
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root};
    proxy_temp_path {root};
    {site}
    server {{
        listen 127.0.0.1:{plain_port};
        root {root}/plain;
        location / {{ types {{ application/atom+xml atom; }} }}
    }}
}}
"""


def start_nginx(
    root: Path, static_dir: Path, app_port: int, changes: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int, int]:
    """nginx with docs/nginx.conf (and `changes` to its lines) in `root`."""
    site = (ROOT / "docs" / "nginx.conf").read_text()
    for old, new in (changes or {}).items():
        assert old in site, old
        site = site.replace(old, new)
    port, plain_port, redirect_port = free_port(), free_port(), free_port()
    # The shipped site in plain HTTP on loopback: its HTTPS server without TLS,
    # the redirecting one out of the way.
    for old, new in (
        ("listen 80 default_server;", f"listen 127.0.0.1:{redirect_port} default_server;"),
        ("listen 443 ssl default_server;", f"listen 127.0.0.1:{port} default_server;"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
        ("root /srv/feedsvc/static;", f"root {static_dir};"),
    ):
        site = site.replace(old, new)
    site = re.sub(r"(?m)^\s*(listen \[::\].*|ssl_\w+ .*);$", "", site)
    (root / "plain").mkdir(exist_ok=True)
    shutil.copy(static_dir / "feeds" / "posts.atom", root / "plain" / "posts.atom")
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
    conf = root / "nginx.conf"
    conf.write_text(NGINX_WRAPPER.format(user=user, root=root, site=site, plain_port=plain_port))
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen([binary, "-p", str(root), "-c", str(conf)])
    wait_for(f"http://127.0.0.1:{plain_port}/posts.atom")
    return process, port, plain_port


def wait_for(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} never answered")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ["FEEDSVC_SECRET_KEY"] = "bench-only-" + "x" * 40
    for tool in ("wrk",):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install wrk nginx-light")

    root = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    db_path = root / "feedsvc.db"
    started = time.perf_counter()
    fill_sqlite(db_path, args.posts)
    print(f"loaded {args.posts:,} posts in {time.perf_counter() - started:.0f} s", flush=True)
    database_url = f"sqlite:///{db_path}"
    static_dir = root / "static"

    env = {
        **os.environ,
        "FEEDSVC_ENV": "production",
        "FEEDSVC_DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
    }
    publish(database_url, static_dir)

    app_port = free_port()
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-w", str(args.workers), "-b",
         f"127.0.0.1:{app_port}", "--access-logfile", "-", "--log-level", "warning",
         "bench._serve_app:app"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    nginx = None
    try:
        base = f"http://127.0.0.1:{app_port}"
        wait_for(base + "/_bench/constant")
        feed = httpx.get(base + "/feeds/posts.atom")
        etag = feed.headers["etag"]
        runs: dict[str, list[float]] = {}
        if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
            nginx, port, plain_port = start_nginx(root, static_dir, app_port)
        # Interleaved rounds, medians: the machine is shared and noisy.
        for _ in range(args.rounds):
            runs.setdefault("a", []).append(wrk(base + "/_bench/constant", args.seconds))
            runs.setdefault("b", []).append(wrk(base + "/feeds/posts.atom", args.seconds))
            runs.setdefault("c", []).append(
                wrk(base + "/feeds/posts.atom", args.seconds, {"If-None-Match": etag})
            )
            if nginx is not None:
                static = f"http://127.0.0.1:{port}/feeds/posts.atom"
                runs.setdefault("e", []).append(wrk(static, args.seconds))
                plain = f"http://127.0.0.1:{plain_port}/posts.atom"
                runs.setdefault("f", []).append(wrk(plain, args.seconds))
        results = {name: statistics.median(values) for name, values in runs.items()}
        cold = cold_render_ms(database_url, 30)
    finally:
        gunicorn.terminate()
        gunicorn.wait()
        if nginx is not None:
            nginx.terminate()
            nginx.wait()
        shutil.rmtree(root, ignore_errors=True)

    print(f"feed size: {len(feed.content):,} bytes; gunicorn -w {args.workers}; wrk -t2 -c32 "
          f"-d{args.seconds}s; medians of {args.rounds} interleaved rounds")  # fmt: skip

    def line(name: str, label: str, versus: str | None = None, target: str = "") -> None:
        text = f"({name}) {label:<28} {results[name]:9,.0f} req/s"
        if versus:
            text += f"  {results[name] / results[versus]:.0%} of ({versus})  target {target}"
        print(text)

    line("a", "Flask constant route")
    line("b", "cached feed, 200", "a", ">= 80%")
    line("c", "conditional, 304", "a", ">= 90%")
    print(f"(d) cold render, 25 of {args.posts:,}: median {statistics.median(cold):.1f} ms "
          f"(min {min(cold):.1f}, max {max(cold):.1f})  target <= 20 ms")  # fmt: skip
    if "e" in results:
        line("e", "nginx, static-published", "f", ">= 90%")
        line("f", "nginx, plain copy")


if __name__ == "__main__":
    main()
