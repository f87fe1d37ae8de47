"""Scheduling throughput: 10,000 sources due at once, mostly answering 304,
worked off by `feedsvc worker` processes — one on SQLite, one and two on
PostgreSQL. Reports sustained refreshes/s and the schedule lag (how late the
last due source was refreshed).

The upstream feeds are static files served by nginx (Debian's nginx-light) on
50 loopback addresses (127.0.0.1–127.0.0.50), so the per-host fetch limit is
not the ceiling; each source already holds nginx's ETag, so the answer is 304
unless the source is one of the "changed" few.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOSTS = 50
NGINX_CONF = """
worker_processes 2;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type application/rss+xml;
    keepalive_requests 100000;
    server {{
{listen}
        root {root}/www;
    }}
}}
"""


def feed(n: int) -> bytes:
    items = "".join(
        f"<item><guid>{n}-{i}</guid><title>Post {i} of feed {n}</title>"
        f"<link>http://example.org/{n}/{i}</link><description>Body {i}</description></item>"
        for i in range(5)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
        f"<link>http://example.org/{n}</link><description>d</description>{items}</channel></rss>"
    ).encode()


def start_nginx(count: int) -> tuple[subprocess.Popen[bytes], int, Path]:
    root = Path(tempfile.mkdtemp(prefix="bench-schedule-"))
    root.chmod(0o755)
    www = root / "www"
    www.mkdir()
    www.chmod(0o755)
    for n in range(count):
        (www / f"{n}.xml").write_bytes(feed(n))
        (www / f"{n}.xml").chmod(0o644)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listen = "\n".join(f"        listen 127.0.0.{h}:{port};" for h in range(1, HOSTS + 1))
    (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, listen=listen))
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    user = "" if os.geteuid() else "user root;\n"
    conf = root / "nginx.conf"
    conf.write_text(user + conf.read_text())
    process = subprocess.Popen([binary, "-p", str(root), "-c", str(conf)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, port, www


def prepare(database_url: str, count: int, port: int, www: Path, changed: float) -> None:
    """Fresh schema; every source due now, holding nginx's validators except the changed few."""
    from feedsvc.migrate import upgrade

    engine = create_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    every_changed = int(1 / changed) if changed else 0
    rows = []
    for n in range(count):
        stat = (www / f"{n}.xml").stat()
        fresh = every_changed and n % every_changed == 0
        rows.append({
            "feed_url": f"http://127.0.0.{n % HOSTS + 1}:{port}/{n}.xml",
            "etag": None if fresh else f'"{int(stat.st_mtime):x}-{stat.st_size:x}"',
            "last_modified": None if fresh else time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(stat.st_mtime)),
            "next_check_at": now, "created_at": now,
        })  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sources (feed_url, title, description, status, mode, error_count,"
                " etag, last_modified, next_check_at, created_at, interval_override)"
                " VALUES (:feed_url, '', '', 'active', 'full', 0, :etag, :last_modified,"
                " :next_check_at, :created_at, 3600)"
            ),
            rows,
        )
    engine.dispose()


def run_workers(database_url: str, workers: int, count: int, timeout: float) -> tuple[float, float]:
    """Start the workers, wait until every source was refreshed; (refreshes/s, lag s)."""
    env = {**os.environ, "FEEDSVC_ENV": "production", "FEEDSVC_SECRET_KEY": "bench-" + "x" * 40,
           "FEEDSVC_DATABASE_URL": database_url, "FEEDSVC_FETCH_ALLOW_PRIVATE": "1",
           "FEEDSVC_DISPATCH_SECONDS": "1", "PYTHONPATH": str(ROOT)}  # fmt: skip
    engine = create_engine(database_url)
    from feedsvc.models import Source

    started = time.monotonic()
    processes = [
        subprocess.Popen([str(Path(sys.executable).parent / "feedsvc"), "worker"], env=env,
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(workers)
    ]  # fmt: skip
    first_done = None
    try:
        while time.monotonic() - started < timeout:
            with engine.connect() as conn:
                done = conn.execute(
                    select(func.count()).where(Source.last_checked_at.is_not(None))
                ).scalar_one()
            if done and first_done is None:
                first_done = time.monotonic()
            if done >= count:
                break
            time.sleep(0.2)
        finished = time.monotonic()
        with engine.connect() as conn:
            first, last, errors = conn.execute(
                select(
                    func.min(Source.last_checked_at),
                    func.max(Source.last_checked_at),
                    func.sum(Source.error_count),
                )
            ).one()
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
        engine.dispose()
    if done < count:
        raise RuntimeError(f"only {done} of {count} refreshed in {timeout} s")
    if errors:
        raise RuntimeError(f"{errors} errors: the benchmark's upstreams misbehaved")
    # From the first refresh to the last: start-up time is not throughput.
    span = (last - first).total_seconds()
    lag = finished - started
    return count / span, lag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=0.02, help="share answering 200")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        sys.exit("nginx not found: apt-get install nginx-light")
    _ensure_postgres_database(args.postgres)
    nginx, port, www = start_nginx(args.sources)
    tmp = Path(tempfile.mkdtemp(prefix="bench-schedule-db-"))
    results: dict[str, list[tuple[float, float]]] = {}
    setups = [("SQLite, 1 worker", f"sqlite:///{tmp}/feedsvc.db", 1),
              ("PostgreSQL, 1 worker", args.postgres, 1),
              ("PostgreSQL, 2 workers", args.postgres, 2)]  # fmt: skip
    try:
        for _ in range(args.rounds):
            for name, url, workers in setups:
                prepare(url, args.sources, port, www, args.changed)
                results.setdefault(name, []).append(
                    run_workers(url, workers, args.sources, timeout=600)
                )
                print(f"{name}: {results[name][-1][0]:.0f} refreshes/s", flush=True)
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(www.parent, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{args.sources:,} sources due at once, {args.changed:.0%} changed, "
          f"medians of {args.rounds} round(s)")  # fmt: skip
    one_pg = _median([rate for rate, _ in results["PostgreSQL, 1 worker"]])
    for name, runs in results.items():
        rate = _median([r for r, _ in runs])
        lag = _median([lag for _, lag in runs])
        note = f"  {rate / one_pg:.2f}x one PG worker" if "2 workers" in name else ""
        print(f"{name:<24} {rate:7.0f} refreshes/s   all refreshed after {lag:5.1f} s{note}")
    print("targets: one worker >= 200 refreshes/s; two workers >= 1.5x one (PostgreSQL)")


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _ensure_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.scalar() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


if __name__ == "__main__":
    main()
