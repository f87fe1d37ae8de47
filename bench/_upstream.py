"""Upstream feeds for the ingest benchmark: generated RSS served on loopback.

nginx (Debian's nginx-light) serves the feeds as static files with ETag/304,
optionally on several loopback addresses (127.0.0.1, 127.0.0.2, …) so that a
per-host fetch limit need not be the ceiling; a Python server on 127.0.0.1 is
the fallback (and then the bottleneck). Either logs when each request began,
so the first fetch of a pass is seen from outside the program that made it.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import quoteattr

WORDS = [
    "feed", "service", "entry", "publish", "atom", "rss", "parse", "store", "fetch",
    "schedule", "reader", "post", "summary", "content", "title", "link", "author",
    "update", "change", "server", "client", "cache",
]  # fmt: skip

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    # When each request began: logged at its end ($msec) less its duration.
    log_format began '$msec $request_time $status $request_uri';
    access_log {root}/access.log began;
    default_type application/rss+xml;
    server {{
{listen}
        root {root}/www;
        keepalive_requests 100000;
    }}
}}
"""


def make_feed(n: int, rng: random.Random) -> bytes:
    """An RSS feed of 20–50 entries, each 2–5 paragraphs of escaped HTML."""
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


def generate_feeds(count: int, seed: int = 42) -> dict[str, bytes]:
    """Path → body for `count` feeds; the same seed gives the same bytes."""
    rng = random.Random(seed)
    return {f"/feed/{n}.xml": make_feed(n, rng) for n in range(count)}


def count_entries(feeds: dict[str, bytes]) -> int:
    return sum(body.count(b"<item>") for body in feeds.values())


def opml(urls: list[str]) -> bytes:
    """An OPML 2.0 subscription list of the given feed URLs, as a reader exports one."""
    outlines = "".join(
        f'<outline type="rss" text="Bench feed {n}" xmlUrl={quoteattr(url)}/>'
        for n, url in enumerate(urls)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><opml version="2.0">'
        f"<head><title>bench</title></head><body>{outlines}</body></opml>"
    ).encode()


@dataclass(frozen=True)
class Upstream:
    urls: list[str]
    server: str
    log: Path  # lines of "<end, time.time() scale> <seconds taken> <status> <path>"

    def first_request(self, after: float) -> float | None:
        """When the first request that began at or after `after` began."""
        began = []
        with self.log.open() as lines:
            for line in lines:
                end, took = line.split()[:2]
                began.append(float(end) - float(took))
        return min((time for time in began if time >= after), default=None)


@contextmanager
def serve_feeds(feeds: dict[str, bytes], hosts: int = 1) -> Iterator[Upstream]:
    """Serve the feeds until the block ends; nginx if installed, else Python."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is not None:
        with _nginx(binary, feeds, hosts) as (port, log):
            urls = [f"http://127.0.0.{n % hosts + 1}:{port}{path}" for n, path in enumerate(feeds)]
            where = f"{hosts} loopback addresses" if hosts > 1 else "127.0.0.1"
            yield Upstream(urls, f"nginx on {where}", log)
        return
    with _python_server(feeds) as (port, log):
        yield Upstream(
            [f"http://127.0.0.1:{port}{path}" for path in feeds],
            "a Python server on 127.0.0.1 (nginx not found: apt-get install nginx-light)",
            log,
        )


@contextmanager
def _nginx(binary: str, feeds: dict[str, bytes], hosts: int) -> Iterator[tuple[int, Path]]:
    root = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    process = None
    try:
        # nginx's workers run as an unprivileged user: they must read the files.
        root.chmod(0o755)
        for path, body in feeds.items():
            target = root / "www" / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
        for item in [root / "www", *(root / "www").rglob("*")]:
            item.chmod(0o755 if item.is_dir() else 0o644)
        port = _free_port()
        listen = "\n".join(f"        listen 127.0.0.{h}:{port};" for h in range(1, hosts + 1))
        conf = root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=root, listen=listen))
        process = subprocess.Popen([binary, "-p", str(root), "-c", str(conf)])
        _wait_for_port(port, process, root / "error.log")
        yield port, root / "access.log"
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _python_server(feeds: dict[str, bytes]) -> Iterator[tuple[int, Path]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-upstream-"))
    log = folder / "access.log"
    log.touch()
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(feeds, ports, log), daemon=True)
    server.start()
    try:
        yield ports.get(timeout=10), log
    finally:
        server.terminate()
        server.join(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _serve(feeds: dict[str, bytes], port_queue: multiprocessing.Queue[int], log: Path) -> None:
    etags = {path: '"' + hashlib.sha1(body).hexdigest() + '"' for path, body in feeds.items()}
    # O_APPEND: each line is one write, whole, whichever thread writes it.
    log_fd = os.open(log, os.O_WRONLY | os.O_APPEND)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            os.write(log_fd, f"{time.time():.3f} 0 - {self.path}\n".encode())
            body = feeds.get(self.path)
            if body is None:
                self._answer(404, {})
                return
            etag = etags[self.path]
            if self.headers.get("If-None-Match") == etag:
                self._answer(304, {"ETag": etag})
                return
            self._answer(200, {"ETag": etag, "Content-Type": "application/rss+xml"}, body)

        def _answer(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(100):
        if process.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    error = log.read_text()[-2000:] if log.exists() else ""
    raise RuntimeError(f"nginx did not start on 127.0.0.1:{port}: {error or 'no error log'}")
