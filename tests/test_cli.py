"""The `feedsvc` command's paths, good and bad: errors are one line, exit non-zero."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask.testing import FlaskClient, FlaskCliRunner

from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss


def test_sources_add_rejects_a_non_url(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["sources", "add", "not a url"])
    assert result.exit_code != 0
    assert "not an http(s) URL" in result.output
    assert "Traceback" not in result.output


def test_sources_add_rejects_other_schemes(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["sources", "add", "file:///etc/passwd"])
    assert result.exit_code != 0
    assert "not an http(s) URL" in result.output


def test_sources_add_unreachable(runner: FlaskCliRunner, feed_server: FeedServer) -> None:
    # A port nothing listens on: the feed server's port once it is stopped.
    url = feed_server.url("/feed.xml")
    feed_server.stop()
    result = runner.invoke(args=["sources", "add", url])
    assert result.exit_code != 0
    assert "Could not connect to 127.0.0.1:" in result.output
    assert "(connection refused). Check the address" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_sources_add_html_page_is_not_a_feed(
    runner: FlaskCliRunner, feed_server: FeedServer
) -> None:
    feed_server.routes["/"] = Reply(
        200, b"<!doctype html><html><head><title>x</title></head><body>hi</body></html>",
        {"Content-Type": "text/html; charset=utf-8"},
    )  # fmt: skip
    result = runner.invoke(args=["sources", "add", feed_server.url("/")])
    assert result.exit_code != 0
    # Discovery, as in the admin and the API: a page naming no feed, none at the usual paths.
    assert "is a web page (x) that names no feed" in result.output


def test_sources_add_http_error(runner: FlaskCliRunner, feed_server: FeedServer) -> None:
    result = runner.invoke(args=["sources", "add", feed_server.url("/missing.xml")])
    assert result.exit_code != 0
    assert "HTTP 404" in result.output


def test_sources_add_twice_is_refused(runner: FlaskCliRunner, feed_server: FeedServer) -> None:
    feed_server.routes["/feed.xml"] = Reply(200, rss("Feed", []), RSS_TYPE)
    assert runner.invoke(args=["sources", "add", feed_server.url("/feed.xml")]).exit_code == 0
    again = runner.invoke(args=["sources", "add", feed_server.url("/feed.xml")])
    assert again.exit_code != 0
    assert "exists already (id 1)" in again.output


def test_sources_add_without_check_and_list(runner: FlaskCliRunner) -> None:
    added = runner.invoke(
        args=["sources", "add", "--no-check", "--interval", "900", "https://example.org/feed"]
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(args=["sources", "list"])
    assert listed.exit_code == 0
    assert "https://example.org/feed" in listed.output
    assert "0 posts" in listed.output


def test_sources_add_interval_too_short(runner: FlaskCliRunner) -> None:
    # The one minimum, FEEDSVC_FETCH_MIN_INTERVAL: refused before anything is fetched.
    for seconds in ("5", "299"):
        result = runner.invoke(
            args=["sources", "add", "--no-check", "--interval", seconds, "https://example.org/f"]
        )
        assert result.exit_code == 1
        assert "the interval must be at least 300 seconds" in result.output
    added = runner.invoke(
        args=["sources", "add", "--no-check", "--interval", "300", "https://example.org/f"]
    )
    assert added.exit_code == 0, added.output


def test_fetch_unknown_source(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["fetch", "42"])
    assert result.exit_code != 0
    assert "no source with id 42" in result.output


def test_fetch_needs_ids_or_all(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["fetch"])
    assert result.exit_code != 0
    assert "--all" in result.output


def test_fetch_reports_a_source_that_stopped_being_a_feed(
    runner: FlaskCliRunner, feed_server: FeedServer
) -> None:
    feed_server.routes["/feed.xml"] = Reply(200, rss("Feed", []), RSS_TYPE)
    assert runner.invoke(args=["sources", "add", feed_server.url("/feed.xml")]).exit_code == 0
    feed_server.routes["/feed.xml"] = Reply(
        200, b"<html><body>Moved to a new blog</body></html>", {"Content-Type": "text/html"}
    )
    result = runner.invoke(args=["fetch", "1"])
    assert result.exit_code == 1
    assert "source 1: error: 127.0.0.1:" in result.output
    assert "answered with something that is not a feed" in result.output
    listed = runner.invoke(args=["sources", "list"])
    assert "last error: 127.0.0.1:" in listed.output and "is not a feed" in listed.output


def test_posts_add_needs_a_title(runner: FlaskCliRunner, tmp_path: Path) -> None:
    body = tmp_path / "b.txt"
    body.write_text("Hello", encoding="utf-8")
    result = runner.invoke(args=["posts", "add", "--title", "  ", "--body-file", str(body)])
    assert result.exit_code != 0
    assert "needs a title" in result.output


def test_posts_add_missing_body_file(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        args=["posts", "add", "--title", "T", "--body-file", str(tmp_path / "nope.html")]
    )
    assert result.exit_code != 0
    assert "nope.html" in result.output


def test_posts_add_plain_text_becomes_paragraphs(
    runner: FlaskCliRunner, tmp_path: Path, client: FlaskClient
) -> None:
    body = tmp_path / "b.txt"
    body.write_text("First para & more.\n\nSecond para.", encoding="utf-8")
    result = runner.invoke(args=["posts", "add", "--title", "Plain", "--body-file", str(body)])
    assert result.exit_code == 0, result.output
    page = client.get("/posts/1-plain").get_data(as_text=True)
    assert "<p>First para &amp; more.</p><p>Second para.</p>" in page


def test_console_script_reports_bad_config_without_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "FEEDSVC_ENV": "production", "FEEDSVC_SECRET_KEY": ""}
    env["FEEDSVC_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    result = subprocess.run(
        [sys.executable, "-c", "from feedsvc.app import main; main()", "sources", "list"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "FEEDSVC_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_sources_list_shows_failing_sources(runner: FlaskCliRunner, db: object) -> None:
    from feedsvc.db import Database
    from feedsvc.models import Source

    assert isinstance(db, Database)
    runner.invoke(args=["sources", "add", "--no-check", "https://example.org/feed"])
    with db.session() as session:
        source = session.get(Source, 1)
        assert source is not None
        source.error_count, source.last_error = 12, "could not connect: refused"
    listed = runner.invoke(args=["sources", "list"]).output
    assert "failing, 12 errors" in listed and "last error: could not connect" in listed
    with db.session() as session:
        source = session.get(Source, 1)
        assert source is not None
        source.error_count = 1
    assert "warning, 1 error " in runner.invoke(args=["sources", "list"]).output
