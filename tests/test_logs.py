"""Logging: a line per refresh with every field, quiet libraries, one line for
a database the worker cannot reach."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import config
from feedsvc import logs
from feedsvc.fetcher import Fetcher, FetchSettings
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss
from tests.test_refresh import ITEMS, make_source, refresh

ROOT = Path(__file__).resolve().parent.parent
REFRESH_FIELDS = {"source_id", "url", "status", "result", "new", "updated",
                  "duration_seconds", "error"}  # fmt: skip


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as instance:
        yield instance


@pytest.fixture
def log_output() -> Iterator[Any]:
    """Configure logging as a process does, into a buffer; undo it afterwards."""
    root = logging.getLogger()
    level = root.level
    chatty = {name: logging.getLogger(name).level for name in logs.CHATTY}
    buffer = io.StringIO()

    def configure(level: str = "INFO", fmt: str = "json") -> io.StringIO:
        buffer.seek(0)
        buffer.truncate()
        logs.configure(level, fmt, stream=buffer)
        return buffer

    yield configure
    for handler in [h for h in root.handlers if getattr(h, "feedsvc", False)]:
        root.removeHandler(handler)
    root.setLevel(level)
    for name, old in chatty.items():
        logging.getLogger(name).setLevel(old)


def json_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_refresh_is_one_json_line_with_every_field(
    db: Any, fetcher: Any, feed_server: FeedServer, log_output: Any
) -> None:
    feed_server.routes["/ok.xml"] = Reply(200, rss("Feed", ITEMS), RSS_TYPE)
    feed_server.routes["/broken.xml"] = Reply(500, b"oops")
    ok, broken = (
        make_source(db, feed_server.url("/ok.xml")),
        make_source(db, feed_server.url("/broken.xml")),
    )
    buffer = log_output("INFO", "json")
    refresh(db, ok, fetcher)
    refresh(db, broken, fetcher)

    lines = [line for line in json_lines(buffer) if line["logger"] == "feedsvc.refresh"]
    assert len(lines) == 2
    good, bad = lines
    assert good.keys() >= REFRESH_FIELDS and bad.keys() >= REFRESH_FIELDS
    assert good["level"] == "INFO" and good["time"]
    assert (good["source_id"], good["url"], good["status"], good["result"]) == (
        ok, feed_server.url("/ok.xml"), 200, "ok",
    )  # fmt: skip
    assert (good["new"], good["updated"], good["error"]) == (2, 0, None)
    assert isinstance(good["duration_seconds"], float)
    assert f"source {ok} <{feed_server.url('/ok.xml')}>: ok, 2 new" in good["message"]
    # A failure is a warning, with its reason.
    assert bad["level"] == "WARNING"
    assert (bad["source_id"], bad["status"], bad["result"]) == (broken, 500, "error")
    assert "500" in bad["error"] and bad["new"] == 0


def test_text_lines_say_the_same_in_words(
    db: Any, fetcher: Any, feed_server: FeedServer, log_output: Any
) -> None:
    feed_server.routes["/ok.xml"] = Reply(200, rss("Feed", ITEMS), RSS_TYPE)
    source = make_source(db, feed_server.url("/ok.xml"))
    buffer = log_output("INFO", "text")
    refresh(db, source, fetcher)
    (line,) = [line for line in buffer.getvalue().splitlines() if "feedsvc.refresh" in line]
    assert f"INFO feedsvc.refresh: source {source} <{feed_server.url('/ok.xml')}>" in line
    assert "ok, 2 new, 0 updated (HTTP 200," in line


def test_scheduler_chatter_and_http_requests_only_at_debug(log_output: Any) -> None:
    def talk() -> None:
        logging.getLogger("apscheduler.executors.default").info('Running job "dispatch"')
        logging.getLogger("apscheduler.scheduler").warning(
            'Execution of job "dispatch" skipped: maximum number of running instances reached (1)'
        )
        logging.getLogger("apscheduler.executors.default").warning("Run time of job was missed")
        logging.getLogger("httpx").info("HTTP Request: GET http://example.org/ 200 OK")

    buffer = log_output("INFO", "json")
    talk()
    assert [line["message"] for line in json_lines(buffer)] == ["Run time of job was missed"]

    buffer = log_output("DEBUG", "json")
    talk()
    levels = [(line["logger"], line["level"]) for line in json_lines(buffer)]
    assert levels == [
        ("apscheduler.executors.default", "DEBUG"),
        ("apscheduler.scheduler", "DEBUG"),
        ("apscheduler.executors.default", "WARNING"),
        ("httpx", "INFO"),
    ]


def test_log_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDSVC_LOG_FORMAT", "xml")
    with pytest.raises(config.ConfigError, match="FEEDSVC_LOG_FORMAT='xml': use one of text, json"):
        config.load("development")
    monkeypatch.setenv("FEEDSVC_LOG_FORMAT", "json")
    monkeypatch.setenv("FEEDSVC_LOG_LEVEL", "debug")
    assert config.load("development")["LOG_LEVEL"] == "DEBUG"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_worker_that_cannot_reach_its_database_says_so_once_and_exits(
    tmp_path: Path, fmt: str
) -> None:
    env = {**os.environ, "FEEDSVC_ENV": "development", "FEEDSVC_LOG_FORMAT": fmt,
           # Nothing listens on port 9 of this machine.
           "FEEDSVC_DATABASE_URL": "postgresql+psycopg://feedsvc@127.0.0.1:9/feedsvc"}  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "feedsvc", "worker"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "worker not started" in lines[0] and "127.0.0.1" in lines[0]
    if fmt == "json":
        assert json.loads(lines[0])["level"] == "ERROR"


def test_a_command_meeting_no_database_says_so_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "FEEDSVC_ENV": "development",
           "FEEDSVC_DATABASE_URL": "postgresql+psycopg://feedsvc@127.0.0.1:9/feedsvc"}  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "feedsvc", "sources", "list"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("Error: the database is unavailable: ")
    assert len(result.stderr.splitlines()) == 1
