"""Servers on 127.0.0.1 for tests: a feed server with canned responses and a log of
requests, and a raw-socket server that answers as slowly as a test wants."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # When set, the body is sent as these chunks (no Content-Length), then closed.
    stream: Callable[[], Iterable[bytes]] | None = None


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    peer: tuple[str, int] | None = None  # the client's address and port
    # The header lines as sent: names in their case, in their order.
    lines: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Seen], Reply]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up mid-body (the fetcher at its size cap) are expected.
        pass


class FeedServer:
    """Serves `routes[path]` (a Reply, or a function of the request)."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply | Handler] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer("GET", b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._answer("POST", self.rfile.read(length))

            def _answer(self, method: str, body: bytes) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                lines = list(self.headers.items())
                seen = Seen(method, self.path, headers, body, self.client_address[:2], lines)
                with server._lock:
                    server.requests.append(seen)
                route = server.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    reply = Reply(404, b"not found", {"Content-Type": "text/plain"})
                else:
                    reply = route(seen) if callable(route) else route
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.stream is not None:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    try:
                        for chunk in reply.stream():
                            self.wfile.write(chunk)
                            self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), RequestHandler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    def start(self) -> FeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def rss(title: str, items: list[dict[str, str]], link: str = "http://example.org/") -> bytes:
    """A small RSS 2.0 document; each item a dict of guid/title/link/description/pubDate."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{title}</title><link>{link}</link><description>{title}</description>",
    ]
    for item in items:
        parts.append("<item>")
        for tag in ("guid", "title", "link", "description", "pubDate", "category"):
            if tag in item:
                parts.append(f"<{tag}>{item[tag]}</{tag}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
ATOM_TYPE = {"Content-Type": "application/atom+xml; charset=utf-8"}


# A DripServer route: bytes are sent as they are, a float is a pause in seconds.
Step = bytes | float
Script = Callable[[], Iterable[Step]]


class DripServer:
    """A raw-socket server on 127.0.0.1 that answers each path with a script of
    writes and pauses: it can drip a status line or headers a byte at a time,
    which http.server cannot. One request per connection.

    Bounded in time: every pause ends at once when the server stops, and it stops
    by itself `lifetime` seconds after it started, so no test can hang on it.
    `tls` (a server-side context) makes it speak HTTPS.
    """

    def __init__(self, lifetime: float = 15.0, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Script] = {}
        self.paths: list[str] = []  # the paths asked for, in order
        self.lifetime = lifetime
        self.tls = tls
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    def url(self, path: str) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> int:
        with self._lock:
            return self.paths.count(path)

    def start(self) -> DripServer:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._timer.cancel()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(1.0)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            path = self._read_path(conn)
            if path is None:
                return
            with self._lock:
                self.paths.append(path)
            script = self.routes.get(path, lambda: [response(404, b"not found")])
            for step in script():
                if isinstance(step, int | float):
                    if self._stopped.wait(step):
                        return
                else:
                    conn.sendall(step)
        except OSError:
            pass  # the client hung up (the fetcher at its deadline) or TLS failed
        finally:
            conn.close()

    def _read_path(self, conn: socket.socket) -> str | None:
        head = b""
        while b"\r\n\r\n" not in head and not self._stopped.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            if not data:
                return None
            head += data
        parts = head.split(b" ", 2)
        return parts[1].decode("latin-1") if len(parts) > 2 else None


def response(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 response that closes its connection."""
    lines = [f"HTTP/1.1 {status} Status", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def drip(data: bytes, every: float) -> Iterator[Step]:
    """`data` one byte at a time, `every` seconds apart."""
    for byte in data:
        yield every
        yield bytes([byte])


def drip_forever(prefix: bytes, every: float) -> Iterator[Step]:
    """`prefix`, then a byte every `every` seconds until the server stops."""
    yield prefix
    while True:
        yield every
        yield b"x"
