"""WebSub push latency: from a hub's POST of a changed feed to the new post in
/feeds/posts.atom — the static file nginx serves and gunicorn's render alike —
through the production path, beside the worker's poll of the same kind of change.

Set-up, on a fresh database (SQLite, or PostgreSQL with --postgres):
`feedsvc db upgrade`; an upstream feed naming a hub, both served by this script
on 127.0.0.1 (the hub verifies subscriptions as a real one does: a GET to the
callback, after answering 202); `feedsvc sources add` (fetched at once);
then gunicorn (`wsgi:app`, 2 workers), `feedsvc worker` and, when Debian's
nginx is there, nginx with docs/nginx.conf serving FEEDSVC_STATIC_DIR. All run
with FEEDSVC_ENV=production and its defaults but FEEDSVC_BASE_URL (the
gunicorn or nginx address), FEEDSVC_WEBSUB_SUBSCRIBE=true,
FEEDSVC_FETCH_ALLOW_PRIVATE=1, FEEDSVC_STATIC_DIR and FEEDSVC_DISPATCH_SECONDS=1.

Once the worker has subscribed and the hub verified, each round the hub
POSTs the feed with one more entry (25 entries, signed sha256) to the
callback (through nginx when present), and the clock runs until both
/feeds/posts.atom from nginx (the static file) and from gunicorn (a fresh
render: the cache keyed by the content version) show it, polled every 5 ms.
The poll rounds change the upstream feed instead and make the source due
with one UPDATE, timed the same way to the same two addresses.

    .venv/bin/python bench/push.py [--rounds 100] [--polls 10] [--postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import reset_postgres  # noqa: E402
from bench.serve import free_port, start_nginx, wait_for  # noqa: E402

PG_URL = os.environ.get(
    "FEEDSVC_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_push"
)
ENTRIES = 25
TARGET_P95 = 1.0
OPEN_FILE_CACHE = "open_file_cache max=64 inactive=60s;"


class Upstream:
    """The upstream feed and its hub, on one loopback server in this process."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, str]] = [(n, f"Old entry {n}") for n in range(ENTRIES)]
        self.subscription: dict[str, str] = {}
        self.verified = threading.Event()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = upstream.feed()
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if form.get("hub.mode") == "subscribe":
                    threading.Thread(target=upstream.verify, args=(form,), daemon=True).start()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def feed_url(self) -> str:
        return self.base + "/feed.atom"

    def feed(self) -> bytes:
        entries = "".join(
            f"<entry><id>urn:bench:{n}</id><title>{title}</title>"
            f"<link href='http://upstream.example/{n}'/><updated>2026-11-25T10:00:00Z</updated>"
            f"<content type='html'>&lt;p&gt;{title}: a paragraph of pushed text.&lt;/p&gt;"
            "</content></entry>"
            for n, title in self.entries[-ENTRIES:]
        )
        return (
            "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            "<title>Pushed upstream</title><id>urn:bench:feed</id>"
            "<updated>2026-11-25T10:00:00Z</updated>"
            f"<link rel='hub' href='{self.base}/hub'/><link rel='self' href='{self.feed_url}'/>"
            f"{entries}</feed>"
        ).encode()

    def verify(self, form: dict[str, str]) -> None:
        challenge = os.urandom(8).hex()
        answer = httpx.get(form["hub.callback"], timeout=10, params={
            "hub.mode": "subscribe", "hub.topic": form["hub.topic"],
            "hub.challenge": challenge, "hub.lease_seconds": "86400",
        })  # fmt: skip
        if answer.status_code == 200 and answer.text == challenge:
            self.subscription = form
            self.verified.set()

    def add_entry(self, title: str) -> None:
        self.entries.append((len(self.entries), title))

    def deliver(self, callback: str) -> httpx.Response:
        body = self.feed()
        secret = self.subscription["hub.secret"].encode()
        signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
        return httpx.post(callback, content=body, timeout=10, headers={
            "Content-Type": "application/atom+xml", "X-Hub-Signature": f"sha256={signature}",
            "Link": f'<{self.base}/hub>; rel="hub", <{self.feed_url}>; rel="self"',
        })  # fmt: skip


def until_seen(
    checks: dict[str, Callable[[bytes], bool]], marker: bytes, started: float, limit: float
) -> dict[str, float]:
    """Seconds from `started` until each check finds `marker`, polled every 5 ms."""
    seen: dict[str, float] = {}
    while len(seen) < len(checks) and time.perf_counter() < started + limit:
        for name, check in checks.items():
            if name not in seen and check(marker):
                seen[name] = time.perf_counter() - started
        time.sleep(0.005)
    if len(seen) < len(checks):
        raise RuntimeError(f"{marker!r} never appeared in {set(checks) - set(seen)}")
    return seen


def p95(values: list[float]) -> float:
    return (
        statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]
    )


def run_sql(database_url: str, statement: str) -> None:
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement)
        return
    import psycopg

    with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute(statement)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100, help="hub deliveries timed")
    parser.add_argument("--polls", type=int, default=10, help="worker polls timed beside")
    parser.add_argument("--postgres", action="store_true", help=f"on {PG_URL}")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-push-"))
    if args.postgres:
        problem = reset_postgres(PG_URL)
        if problem:
            sys.exit(f"PostgreSQL: {problem}")
        database_url = PG_URL
    else:
        database_url = f"sqlite:///{root / 'feedsvc.db'}"
    static_dir = root / "static"
    upstream = Upstream()
    app_port = free_port()
    use_nginx = bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists())
    front_port = app_port
    env = {
        **os.environ, "FEEDSVC_ENV": "production", "FEEDSVC_SECRET_KEY": "bench-" + "x" * 40,
        "FEEDSVC_DATABASE_URL": database_url, "FEEDSVC_FETCH_ALLOW_PRIVATE": "1",
        "FEEDSVC_DISPATCH_SECONDS": "1", "FEEDSVC_STATIC_DIR": str(static_dir),
        "FEEDSVC_WEBSUB_SUBSCRIBE": "true", "PYTHONPATH": str(ROOT),
        "FEEDSVC_BASE_URL": f"http://127.0.0.1:{front_port}",
    }  # fmt: skip
    feedsvc = [str(Path(sys.executable).parent / "feedsvc")]
    processes: list[subprocess.Popen[bytes]] = []
    quiet: dict[str, Any] = {"env": env, "cwd": ROOT, "stdout": subprocess.DEVNULL,
                             "stderr": subprocess.DEVNULL}  # fmt: skip
    try:
        subprocess.run([*feedsvc, "db", "upgrade"], check=True, **quiet)
        subprocess.run([*feedsvc, "sources", "add", upstream.feed_url], check=True, **quiet)
        subprocess.run([*feedsvc, "publish"], check=True, **quiet)  # the first static files
        processes.append(subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-w", "2", "-b",
             f"127.0.0.1:{app_port}", "--log-level", "warning", "wsgi:app"], **quiet,
        ))  # fmt: skip
        wait_for(f"http://127.0.0.1:{app_port}/healthz")
        if use_nginx:
            (root / "nginx").mkdir()
            (root / "nginx-uncached").mkdir()
            nginx, front_port, _ = start_nginx(root / "nginx", static_dir, app_port)
            processes.append(nginx)
            # The same site with nginx's open-file cache off, beside it.
            off = {OPEN_FILE_CACHE: "open_file_cache off;"}
            uncached, uncached_port, _ = start_nginx(
                root / "nginx-uncached", static_dir, app_port, off
            )
            processes.append(uncached)
            # Callbacks (the worker makes them) reach gunicorn through nginx.
            env["FEEDSVC_BASE_URL"] = f"http://127.0.0.1:{front_port}"
        processes.append(subprocess.Popen([*feedsvc, "worker"], **quiet))
        if not upstream.verified.wait(60):
            raise RuntimeError("the hub never verified a subscription")
        callback = upstream.subscription["hub.callback"]
        client = httpx.Client(timeout=10)
        static_file = static_dir / "feeds" / "posts.atom"
        checks: dict[str, Callable[[bytes], bool]] = {
            # gunicorn itself: a render, from its cache once the content version moved.
            "gunicorn": lambda marker: marker in client.get(
                f"http://127.0.0.1:{app_port}/feeds/posts.atom").content,
            "static file": lambda marker: marker in static_file.read_bytes(),
        }  # fmt: skip
        if use_nginx:
            checks["nginx"] = lambda marker: marker in client.get(
                f"http://127.0.0.1:{front_port}/feeds/posts.atom").content  # fmt: skip
            checks["nginx, open_file_cache off"] = lambda marker: marker in client.get(
                f"http://127.0.0.1:{uncached_port}/feeds/posts.atom").content  # fmt: skip

        def timed(change: Callable[[str], None], count: int, label: str) -> dict[str, list[float]]:
            times: dict[str, list[float]] = {}
            for n in range(count):
                title = f"{label} {n} {os.urandom(4).hex()}"
                upstream.add_entry(title)
                started = time.perf_counter()
                change(title)
                answered = time.perf_counter() - started
                seen = until_seen(checks, title.encode(), started, 30)
                for name, seconds in {"answered": answered, **seen,
                                      "all": max(seen.values())}.items():  # fmt: skip
                    times.setdefault(name, []).append(seconds)
                # A pause of random length: nginx's 1 s open-file cache is met at every phase.
                time.sleep(random.uniform(0.05, 1.05))
            return times

        def push(title: str) -> None:
            answer = upstream.deliver(callback)
            if answer.status_code != 200:
                raise RuntimeError(f"delivery refused: {answer.status_code} {answer.text}")

        def poll(title: str) -> None:
            run_sql(database_url, "UPDATE sources SET next_check_at = '2000-01-01 00:00:00'")

        pushed = timed(push, args.rounds, "Pushed")
        polled = timed(poll, args.polls, "Polled")
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)

    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\n{database}; seconds from the change (the hub's POST, or the UPDATE making the"
          " source due) to the new post in /feeds/posts.atom")  # fmt: skip
    print("| path | seen by | rounds | median | p95 | max |")
    print("|---|---|---:|---:|---:|---:|")
    for path, times in (("hub POST", pushed), ("poll", polled)):
        for name, values in times.items():
            print(f"| {path} | {name} | {len(values)} | {statistics.median(values):.3f} | "
                  f"{p95(values):.3f} | {max(values):.3f} |")  # fmt: skip
    feedsvc_seen = [max(pair) for pair in zip(pushed["gunicorn"], pushed["static file"],
                                              strict=True)]  # fmt: skip
    ratio = statistics.median(polled["all"]) / statistics.median(pushed["all"])
    worst = p95(feedsvc_seen)
    print(f"\npush vs. an immediate poll, medians, seen everywhere: {ratio:.1f}x sooner")
    print(
        f"target: hub POST -> post in gunicorn's feed and the static file, p95 <= "
        f"{TARGET_P95} s: {'met' if worst <= TARGET_P95 else 'NOT met'} ({worst:.3f} s)"
    )


if __name__ == "__main__":
    main()
