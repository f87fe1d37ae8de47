"""The popular sidebar and /popular in Chromium, served by two gunicorn
processes sharing one database: whichever answers, the sidebar shows the top
of the list beside it (the shared ranking, popularity.shared_ranking).

Two gunicorn servers of one worker each, so the test knows which process
answers each request; each keeps its own caches, as two workers of one
server do. Views come from "visitors" told apart by X-Forwarded-For
(FEEDSVC_PROXY_HOPS=1): the header names loopback addresses only."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from feedsvc.db import Database
from feedsvc.posts import create_local_post
from tests.test_browser import CHROMIUM, browser  # noqa: F401
from tests.test_popularity import BROWSER

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no browser: apt-get install chromium (Debian's package)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout} s")


@pytest.fixture
def two_servers(database_url: str, db: Database, tmp_path: Path) -> Iterator[list[str]]:
    env = {**os.environ, "FEEDSVC_ENV": "testing", "FEEDSVC_DATABASE_URL": database_url,
           "FEEDSVC_POPULAR_CACHE_SECONDS": "2", "FEEDSVC_PROXY_HOPS": "1",
           "FEEDSVC_IMAGE_PROXY_DIR": str(tmp_path / "images")}  # fmt: skip
    servers: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for _ in range(2):
            port = free_port()
            process = subprocess.Popen(
                [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}",
                 "wsgi:app"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            servers.append((process, f"http://127.0.0.1:{port}"))
        for process, base in servers:
            wait_for(base + "/", process)
        yield [base for _, base in servers]
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=15)


def add_posts(db: Database, count: int) -> dict[str, int]:
    """Posts titled "Post 0", "Post 1" …: their ids by title."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with db.session() as session:
        return {
            post.title: post.id
            for post in (
                create_local_post(session, title=f"Post {n}", body_html=f"<p>Post {n}.</p>",
                                  now=start + dt.timedelta(hours=n), summary_length=300)
                for n in range(count)
            )
        }  # fmt: skip


def popular_lists(page: Any) -> tuple[list[str], list[str]]:
    """The titles listed in the main column and in the sidebar's popular posts."""
    main = page.locator("main article h2 a").all_inner_texts()
    side = page.locator("aside section.popular li a").all_inner_texts()
    return main, side


def test_sidebar_and_popular_agree_through_two_gunicorn_processes(
    browser: Any,  # noqa: F811
    two_servers: list[str],
    db: Database,
) -> None:
    ids = add_posts(db, 3)
    first, second = two_servers
    reader = browser.new_context(user_agent=BROWSER)  # headless Chrome's own UA is a bot's
    page = reader.new_page()
    for base in (first, second):  # each process renders a sidebar before any view
        page.goto(base + "/")
        assert (
            page.locator("aside section.popular")
            .inner_text()
            .endswith("Nothing read yet this week.")
        )
    # Post 1: three visitors, Post 2: two, Post 0: one; through both processes.
    views = {"Post 1": (first, second, first), "Post 2": (second, first), "Post 0": (second,)}
    for title, bases in views.items():
        for n, base in enumerate(bases):
            visitor = browser.new_context(
                user_agent=BROWSER, extra_http_headers={"X-Forwarded-For": f"127.0.0.{n + 2}"}
            )
            visitor.new_page().goto(f"{base}/posts/{ids[title]}")
            visitor.close()
    expected = ["Post 1", "Post 2", "Post 0"]
    deadline = time.monotonic() + 15
    seen: list[str] = []
    while seen != expected:
        assert time.monotonic() < deadline, f"/popular still shows {seen}"
        for base in (second, first):
            page.goto(base + "/popular")
            main, side = popular_lists(page)
            assert side == main[:5], f"{base}: sidebar {side} beside {main}"
            seen = main
        time.sleep(0.3)
    for base in (first, second):
        page.goto(base + "/popular")
        assert popular_lists(page) == (expected, expected)
        page.goto(base + "/")
        assert popular_lists(page)[1] == expected
    reader.close()
