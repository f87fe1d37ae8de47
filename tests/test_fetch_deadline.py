"""One deadline for the whole exchange: connect, headers, every redirect and the body.

Each server here answers each step in good time for a per-read timeout, and too
slowly in sum; the fetch must end at its deadline all the same. The servers stop
by themselves, so a fetcher that ignores its deadline fails the test, not hangs it.
The wall-time bounds are several times the deadline: correctness, not speed.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from feedsvc.fetched import FetchResult
from feedsvc.fetcher import Fetcher, FetchSettings
from feedsvc.vocabulary import FetchErrorKind
from tests.feedserver import RSS_TYPE, DripServer, drip, drip_forever, response, rss

FEED = rss("Feed", [{"guid": "1", "title": "One"}])
# Long enough that a fetcher cut only per read would still be waiting at its end.
LIFETIME = 10.0


@pytest.fixture
def drip_server() -> Iterator[DripServer]:
    server = DripServer(lifetime=LIFETIME).start()
    yield server
    server.stop()


def timed_fetch(
    fetcher: Fetcher, url: str, deadline: float | None = None
) -> tuple[FetchResult, float]:
    started = time.monotonic()
    result = fetcher.fetch(url, deadline=deadline)
    return result, time.monotonic() - started


def assert_cut_at_the_deadline(result: FetchResult, elapsed: float, limit: float) -> None:
    assert result.error_kind == FetchErrorKind.TIMEOUT, result
    assert f"timed out after {limit:g} s" in (result.error or "")
    assert "the whole exchange" in (result.error or "")
    assert elapsed < 5 * limit


def test_headers_dripped_forever_are_cut_at_the_deadline(drip_server: DripServer) -> None:
    drip_server.routes["/drip"] = lambda: drip_forever(b"HTTP/1.1 200 OK\r\nX-Slow: ", 0.2)
    with Fetcher(FetchSettings(timeout=1, allow_private=True)) as fetcher:
        result, elapsed = timed_fetch(fetcher, drip_server.url("/drip"))
    assert_cut_at_the_deadline(result, elapsed, 1)


def test_a_dripped_status_line_is_cut_through_an_allowed_host(drip_server: DripServer) -> None:
    drip_server.routes["/drip"] = lambda: drip_forever(b"HTTP/1.1 2", 0.2)
    allowed = (f"127.0.0.1:{drip_server.port}",)
    with Fetcher(FetchSettings(timeout=1, allow_hosts=allowed)) as fetcher:
        result, elapsed = timed_fetch(fetcher, drip_server.url("/drip"))
    assert_cut_at_the_deadline(result, elapsed, 1)


def test_a_slow_redirect_chain_is_cut_at_the_deadline(drip_server: DripServer) -> None:
    # Six hops of 0.4 s each: every hop well inside a 1 s read timeout, 2.4 s in all.
    for hop in range(5):
        redirect = response(302, headers={"Location": f"/hop{hop + 1}"})
        drip_server.routes[f"/hop{hop}"] = lambda r=redirect: [0.4, r]  # type: ignore[misc]
    drip_server.routes["/hop5"] = lambda: [0.4, response(200, FEED, RSS_TYPE)]
    with Fetcher(FetchSettings(timeout=1, allow_private=True)) as fetcher:
        result, elapsed = timed_fetch(fetcher, drip_server.url("/hop0"))
    assert_cut_at_the_deadline(result, elapsed, 1)
    assert drip_server.hits("/hop5") == 0
    assert result.final_url != drip_server.url("/hop0")  # it got some way down the chain


def test_a_body_dripped_slowly_is_cut_at_the_deadline(drip_server: DripServer) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n\r\n"
    drip_server.routes["/body"] = lambda: drip_forever(head + b"<rss>", 0.2)
    with Fetcher(FetchSettings(timeout=1, allow_private=True)) as fetcher:
        result, elapsed = timed_fetch(fetcher, drip_server.url("/body"))
    assert_cut_at_the_deadline(result, elapsed, 1)


def test_a_slow_answer_inside_the_deadline_is_kept(drip_server: DripServer) -> None:
    whole = response(200, FEED, RSS_TYPE)
    drip_server.routes["/slow"] = lambda: [whole[:20], *drip(whole[20:30], 0.05), whole[30:]]
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as fetcher:
        result = fetcher.fetch(drip_server.url("/slow"))
    assert result.ok and result.content == FEED


def test_a_callers_deadline_cuts_a_fetch_shorter(drip_server: DripServer) -> None:
    drip_server.routes["/drip"] = lambda: drip_forever(b"HTTP/1.1 200 OK\r\nX-Slow: ", 0.2)
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as fetcher:
        result, elapsed = timed_fetch(
            fetcher, drip_server.url("/drip"), deadline=time.monotonic() + 0.5
        )
        assert_cut_at_the_deadline(result, elapsed, 0.5)
        spent = fetcher.fetch(drip_server.url("/drip"), deadline=time.monotonic() - 1)
    assert spent.error_kind == FetchErrorKind.TIMEOUT
    assert drip_server.hits("/drip") == 1  # no time left: not even a connection


def test_each_thread_keeps_its_own_deadline(drip_server: DripServer) -> None:
    drip_server.routes["/drip"] = lambda: drip_forever(b"HTTP/1.1 200 OK\r\nX-Slow: ", 0.1)
    whole = response(200, FEED, RSS_TYPE)
    drip_server.routes["/slow"] = lambda: [*drip(whole[:12], 0.1), whole[12:]]
    results: dict[str, FetchResult] = {}
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as fetcher:

        def fetch(name: str, deadline: float | None = None) -> None:
            results[name] = fetcher.fetch(drip_server.url(f"/{name}"), deadline=deadline)

        short = threading.Thread(target=fetch, args=("drip",),
                                 kwargs={"deadline": time.monotonic() + 0.5})  # fmt: skip
        short.start()
        fetch("slow")  # 1.2 s: past the other thread's deadline, inside its own
        short.join(timeout=LIFETIME)
    assert results["slow"].ok and results["slow"].content == FEED
    assert results["drip"].error_kind == FetchErrorKind.TIMEOUT
    assert "after 0.5 s" in (results["drip"].error or "")


@pytest.fixture
def tls_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context with a certificate made here, which the fetcher is made to trust."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed: no certificate for a TLS server")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    # The fetcher builds its client context with httpx.create_ssl_context.
    monkeypatch.setattr(httpx, "create_ssl_context",
                        lambda **_: ssl.create_default_context(cafile=str(cert)))  # fmt: skip
    return server


def test_headers_dripped_over_tls_are_cut_at_the_deadline(tls_context: ssl.SSLContext) -> None:
    server = DripServer(lifetime=LIFETIME, tls=tls_context).start()
    try:
        server.routes["/ok"] = lambda: [response(200, FEED, RSS_TYPE)]
        server.routes["/drip"] = lambda: drip_forever(b"HTTP/1.1 200 OK\r\nX-Slow: ", 0.2)
        with Fetcher(FetchSettings(timeout=1, allow_private=True)) as fetcher:
            assert fetcher.fetch(server.url("/ok")).content == FEED  # TLS itself works
            result, elapsed = timed_fetch(fetcher, server.url("/drip"))
        assert_cut_at_the_deadline(result, elapsed, 1)
    finally:
        server.stop()
