"""Configuration: classes per environment, every setting overridable by FEEDSVC_*."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

import config
from feedsvc import create_app


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
