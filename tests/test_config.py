"""Configuration: classes per environment, every setting overridable by FEEDSVC_*."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient

import config
from feedsvc import create_app

ROOT = Path(__file__).resolve().parent.parent


def test_environment_overrides_convert_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDSVC_FEED_PAGE_SIZE", "40")
    monkeypatch.setenv("FEEDSVC_FETCH_ALLOW_PRIVATE", "yes")
    monkeypatch.setenv("FEEDSVC_FETCH_ALLOW_HOSTS", "a.test:80, b.test:8080")
    monkeypatch.setenv("FEEDSVC_FETCH_TIMEOUT", "2.5")
    monkeypatch.setenv("FEEDSVC_SITE_TITLE", "Mine")
    values = config.load("development")
    assert values["FEED_PAGE_SIZE"] == 40
    assert values["FETCH_ALLOW_PRIVATE"] is True
    assert values["FETCH_ALLOW_HOSTS"] == ("a.test:80", "b.test:8080")
    assert values["FETCH_TIMEOUT"] == 2.5
    assert values["SITE_TITLE"] == "Mine"


def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDSVC_FEED_PAGE_SIZE", "many")
    with pytest.raises(config.ConfigError, match="FEEDSVC_FEED_PAGE_SIZE='many'"):
        config.load("development")
    monkeypatch.setenv("FEEDSVC_FEED_PAGE_SIZE", "10")
    monkeypatch.setenv("FEEDSVC_FETCH_ALLOW_PRIVATE", "perhaps")
    with pytest.raises(config.ConfigError, match="FETCH_ALLOW_PRIVATE"):
        config.load("development")


def test_production_needs_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEEDSVC_SECRET_KEY", raising=False)
    with pytest.raises(config.ConfigError, match="FEEDSVC_SECRET_KEY"):
        config.load("production")
    monkeypatch.setenv("FEEDSVC_SECRET_KEY", "x" * 40)
    assert config.load("production")["SECRET_KEY"] == "x" * 40


def test_without_feedsvc_env_and_secret_the_app_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FEEDSVC_ENV", raising=False)
    monkeypatch.delenv("FEEDSVC_SECRET_KEY", raising=False)
    with pytest.raises(config.ConfigError, match="production needs FEEDSVC_SECRET_KEY") as error:
        create_app()
    assert "FEEDSVC_ENV=development" in str(error.value)


def test_without_feedsvc_env_the_app_runs_as_production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FEEDSVC_ENV", raising=False)
    monkeypatch.setenv("FEEDSVC_SECRET_KEY", "s" * 48)
    monkeypatch.setenv("FEEDSVC_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    for name in ("DEBUG", "TESTING", "FETCH_ALLOW_PRIVATE", "EMBEDDED_SCHEDULER"):
        monkeypatch.delenv(f"FEEDSVC_{name}", raising=False)
    app = create_app()
    try:
        assert app.config["SECRET_KEY"] == "s" * 48
        assert not app.debug and not app.testing
        assert app.config["FETCH_ALLOW_PRIVATE"] is False
        assert app.config["EMBEDDED_SCHEDULER"] is False
    finally:
        app.extensions["feedsvc.db"].dispose()


def test_importing_wsgi_starts_no_scheduler(tmp_path: Path) -> None:
    """Not even with the scheduler asked for: gunicorn's workers must never run one."""
    env = {**os.environ, "FEEDSVC_ENV": "development", "FEEDSVC_EMBEDDED_SCHEDULER": "1",
           "FEEDSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "FEEDSVC_SCHEDULER_LOCK_FILE": str(tmp_path / "scheduler.lock")}  # fmt: skip
    # The sign-in limiter's in-memory store ticks on a short-lived Timer; that is no scheduler.
    script = ("import threading, wsgi; print(sorted(t.name for t in threading.enumerate()"
              " if not isinstance(t, threading.Timer)))")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['MainThread']"
    assert not (tmp_path / "scheduler.lock").exists()


def test_unknown_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDSVC_ENV", "staging")
    with pytest.raises(config.ConfigError, match="unknown FEEDSVC_ENV"):
        config.load()


def test_default_database_is_sqlite_in_the_instance_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FEEDSVC_DATABASE_URL", raising=False)
    app = create_app(env="testing")
    expected = Path(app.instance_path) / "feedsvc.db"
    assert app.config["DATABASE_URL"] == f"sqlite:///{expected}"
    app.extensions["feedsvc.db"].dispose()


def test_base_url_makes_absolute_feed_links(client: FlaskClient) -> None:
    body = client.get("/feeds/posts.atom").get_data(as_text=True)
    assert 'href="http://feeds.test/"' in body


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("x", "has 1 characters; production needs at least 32"),
        ("k" * 31, "has 31 characters"),
        ("dev-only-not-secret", "a development key"),
        ("testing", "a development key"),
    ],
)
def test_production_refuses_a_weak_secret_key(
    monkeypatch: pytest.MonkeyPatch, key: str, why: str
) -> None:
    monkeypatch.setenv("FEEDSVC_SECRET_KEY", key)
    with pytest.raises(config.ConfigError, match=why) as error:
        config.load("production")
    assert "secrets.token_urlsafe" in str(error.value)
    # Development and tests take what they are given.
    assert config.load("development")["SECRET_KEY"] == key


def test_unknown_variables_are_warned_about_with_the_nearest_name(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    environ = {"FEEDSVC_FEED_MAXAGE": "600", "FEEDSVC_WOBBLE": "1", "FEEDSVC_SITE_TITLE": "x",
               "FEEDSVC_ENV": "testing", "FEEDSVC_TEST_DATABASE_URL": "", "HOME": "/"}  # fmt: skip
    assert config.unknown_variables(environ) == [
        "FEEDSVC_FEED_MAXAGE is not a feedsvc setting and is ignored; "
        "did you mean FEEDSVC_FEED_MAX_AGE?",
        "FEEDSVC_WOBBLE is not a feedsvc setting and is ignored",
    ]
    # At start, in the log.
    monkeypatch.setenv("FEEDSVC_LOG_LEVLE", "DEBUG")
    app = create_app(env="testing")
    app.extensions["feedsvc.db"].dispose()
    assert [r.getMessage() for r in caplog.records if r.name == "feedsvc.config"] == [
        "FEEDSVC_LOG_LEVLE is not a feedsvc setting and is ignored; did you mean FEEDSVC_LOG_LEVEL?"
    ]


def test_config_command_prints_settings_and_sources_with_secrets_masked(tmp_path: Path) -> None:
    key = "k" * 48
    env = {**os.environ, "FEEDSVC_ENV": "production", "FEEDSVC_SECRET_KEY": key,
           "FEEDSVC_DATABASE_URL": "postgresql+psycopg://feedsvc:hunter2@db.internal/feedsvc",
           "FEEDSVC_RATELIMIT_STORAGE_URI": "redis://:sesame@127.0.0.1:6379",
           "FEEDSVC_FEED_MAX_AGE": "600", "FEEDSVC_FETCH_ALLOW_PRIVATE": "no"}  # fmt: skip
    env.pop("FEEDSVC_SITE_TITLE", None)
    result = subprocess.run([sys.executable, "-m", "feedsvc", "config"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "FEEDSVC_ENV=production  # env"
    assert "FEEDSVC_FEED_MAX_AGE=600  # env" in lines
    assert "FEEDSVC_FETCH_ALLOW_PRIVATE=false  # env" in lines
    assert "FEEDSVC_SITE_TITLE=feedsvc  # default" in lines
    assert "FEEDSVC_SECRET_KEY=(set, 48 characters)  # env" in lines
    assert (
        "FEEDSVC_DATABASE_URL=postgresql+psycopg://feedsvc:***@db.internal/feedsvc  # env" in lines
    )
    assert "FEEDSVC_RATELIMIT_STORAGE_URI=redis://:***@127.0.0.1:6379  # env" in lines
    for secret in (key, "hunter2", "sesame"):
        assert secret not in result.stdout + result.stderr
    # Every setting, once.
    assert len(lines) == 1 + len([n for n in dir(config.Config) if n.isupper()])
