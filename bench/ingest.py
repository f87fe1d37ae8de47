"""Ingest benchmark: feedsvc against the Python peer `reader`, side by side.

200 generated feeds of 20–50 entries are served on 127.0.0.1 by nginx (Debian's
nginx-light; a Python server is the fallback, and the bottleneck), with
ETag/304. Each round times, on fresh databases:
  - a cold pass (every feed new) and five warm passes (every feed answers 304),
  - for feedsvc on SQLite, feedsvc on PostgreSQL (if reachable), and reader.
Medians over the rounds are printed, with the ratios to reader.

    .venv/bin/python bench/ingest.py [--feeds 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PG_URL = os.environ.get(
    "FEEDSVC_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_ingest"
)
WARM_PASSES = 5
WORDS = [
    "feed",
    "service",
    "entry",
    "publish",
    "atom",
    "rss",
    "parse",
    "store",
    "fetch",
    "schedule",
    "reader",
    "post",
    "summary",
    "content",
    "title",
    "link",
    "author",
    "update",
    "change",
    "server",
    "client",
    "cache",
]


def make_feed(n: int, rng: random.Random) -> bytes:
    entries = []
    for i in range(rng.randint(20, 50)):
        paragraphs = "".join(
            f"&lt;p&gt;{' '.join(rng.choices(WORDS, k=rng.randint(30, 80)))}&lt;/p&gt;"
            for _ in range(rng.randint(2, 5))
        )
        day = 1 + (i % 28)
        entries.append(
            f"<item><guid>urn:bench:{n}:{i}</guid><title>Entry {i} of feed {n}</title>"
            f"<link>http://example.org/{n}/{i}</link>"
            f"<pubDate>Sun, {day:02d} Nov 2026 08:{i % 60:02d}:00 GMT</pubDate>"
            f"<category>topic{i % 7}</category><description>{paragraphs}</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Bench feed {n}</title><link>http://example.org/{n}/</link>"
        f"<description>Feed {n}</description>{''.join(entries)}</channel></rss>"
    ).encode()


def serve(feeds: dict[str, bytes], port_queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    etags = {path: '"' + hashlib.sha1(body).hexdigest() + '"' for path, body in feeds.items()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = feeds.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = etags[self.path]
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type application/rss+xml;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        keepalive_requests 100000;
    }}
}}
"""


def start_nginx(feeds: dict[str, bytes]) -> tuple[subprocess.Popen[bytes], int, Path] | None:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    root.chmod(0o755)
    for path, body in feeds.items():
        target = root / "www" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    for folder in [root / "www", *(root / "www").rglob("*")]:
        folder.chmod(0o755 if folder.is_dir() else 0o644)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port))
    process = subprocess.Popen([binary, "-p", str(root), "-c", str(root / "nginx.conf")])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process, port, root
        except OSError:
            time.sleep(0.05)
    process.terminate()
    return None


def feedsvc_passes(urls: list[str], database_url: str) -> tuple[float, float]:
    from feedsvc.db import Database
    from feedsvc.ingest import IngestSettings
    from feedsvc.ingest.batch import refresh_many
    from feedsvc.ingest.fetch import Fetcher, FetchSettings
    from feedsvc.migrate import upgrade
    from feedsvc.sources import add_source

    db = Database(database_url)
    upgrade(db.engine)
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        ids = [add_source(session, url, now).id for url in urls]
    settings = IngestSettings()
    timings = []
    with Fetcher(FetchSettings(timeout=30, allow_private=True)) as fetcher:
        for _ in range(1 + WARM_PASSES):
            started = time.perf_counter()
            reports = refresh_many(db, ids, fetcher=fetcher, now=lambda: now, settings=settings)
            timings.append(time.perf_counter() - started)
            bad = [r for r in reports if r.result not in ("ok", "not_modified")]
            assert not bad, bad[:3]
    db.dispose()
    return timings[0], statistics.median(timings[1:])


def reader_passes(urls: list[str], path: Path) -> tuple[float, float]:
    from reader import make_reader

    reader = make_reader(str(path))
    for url in urls:
        reader.add_feed(url)
    timings = []
    for _ in range(1 + WARM_PASSES):
        started = time.perf_counter()
        reader.update_feeds(workers=16, scheduled=False)
        timings.append(time.perf_counter() - started)
    reader.close()
    return timings[0], statistics.median(timings[1:])


def reset_postgres() -> bool:
    try:
        import psycopg

        admin = PG_URL.replace("postgresql+psycopg", "postgresql").rsplit("/", 1)[0] + "/postgres"
        name = PG_URL.rsplit("/", 1)[1]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except Exception as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    rng = random.Random(42)
    feeds = {f"/feed/{n}.xml": make_feed(n, rng) for n in range(args.feeds)}
    entries = sum(body.count(b"<item>") for body in feeds.values())
    nginx = start_nginx(feeds)
    if nginx is not None:
        server_name, port = "nginx", nginx[1]
    else:
        print(
            "nginx not found (apt-get install nginx-light): using a Python server", file=sys.stderr
        )
        ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        python_server = multiprocessing.Process(target=serve, args=(feeds, ports), daemon=True)
        python_server.start()
        server_name, port = "python http.server", ports.get(timeout=10)
    urls = [f"http://127.0.0.1:{port}{path}" for path in feeds]
    print(
        f"{args.feeds} feeds, {entries} entries, {args.rounds} rounds, {os.cpu_count()} cores, "
        f"served by {server_name}"
    )

    results: dict[str, list[tuple[float, float]]] = {"reader": [], "feedsvc-sqlite": []}
    use_pg = reset_postgres()
    if use_pg:
        results["feedsvc-postgresql"] = []
    try:
        for _ in range(args.rounds):
            scratch = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
            try:
                results["reader"].append(reader_passes(urls, scratch / "reader.sqlite"))
                results["feedsvc-sqlite"].append(
                    feedsvc_passes(urls, f"sqlite:///{scratch / 'feedsvc.db'}")
                )
                if use_pg and reset_postgres():
                    results["feedsvc-postgresql"].append(feedsvc_passes(urls, PG_URL))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    finally:
        if nginx is not None:
            nginx[0].terminate()
            shutil.rmtree(nginx[2], ignore_errors=True)
        else:
            python_server.terminate()

    def rate(seconds: list[float], n: int) -> float:
        return n / statistics.median(seconds)

    base_cold = rate([c for c, _ in results["reader"]], args.feeds)
    base_warm = rate([w for _, w in results["reader"]], args.feeds)
    print(f"{'':20} {'cold feeds/s':>13} {'entries/s':>10} {'warm feeds/s':>13} "
          f"{'cold ×reader':>13} {'warm ×reader':>13}")  # fmt: skip
    for name, runs in results.items():
        cold = rate([c for c, _ in runs], args.feeds)
        warm = rate([w for _, w in runs], args.feeds)
        print(f"{name:20} {cold:13.1f} {cold * entries / args.feeds:10.0f} {warm:13.1f} "
              f"{cold / base_cold:13.2f} {warm / base_warm:13.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
