"""Typed settings: every setting of config.py has a home in them, read once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import config
from feedsvc import create_app
from feedsvc.settings import EXTENSION, Settings, from_config

# Read by the factory itself (the database) or by Flask alone.
FACTORY_ONLY = {"DATABASE_URL", "DEBUG", "TESTING"}


class Recording(Mapping[str, Any]):
    """The configuration's values, noting which ones are read."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values, self.read = values, set[str]()

    def __getitem__(self, name: str) -> Any:
        self.read.add(name)
        return self.values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def test_every_setting_has_a_typed_home(tmp_path: Path) -> None:
    values = Recording(config.load("testing"))
    from_config(values, tmp_path)
    declared = {name for name in dir(config.Config) if name.isupper()}
    assert declared - FACTORY_ONLY - values.read == set()


def test_the_app_reads_the_environment_once_into_its_settings(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FEEDSVC_FEED_MAX_AGE", "120")
    monkeypatch.setenv("FEEDSVC_WEBSUB_HUBS", "https://hub.example/a, https://hub.example/b")
    app: Flask = create_app({**app_config, "BASE_URL": "https://feeds.example/"}, env="testing")
    try:
        settings: Settings = app.extensions[EXTENSION]
        assert settings.feeds.max_age == 120
        assert settings.feeds.cache_control == "public, max-age=120, stale-while-revalidate=60"
        assert settings.feeds.websub_hubs == ("https://hub.example/a", "https://hub.example/b")
        assert settings.site.base_url == "https://feeds.example"
        monkeypatch.setenv("FEEDSVC_FEED_MAX_AGE", "5")
        answer = app.test_client().get("/feeds/posts.atom")
        assert answer.headers["Cache-Control"].startswith("public, max-age=120,")
    finally:
        app.extensions["feedsvc.db"].dispose()


def test_the_image_proxy_fetches_as_the_feeds_do_with_its_own_limits(tmp_path: Path) -> None:
    values = {**config.load("testing"), "FETCH_ALLOW_HOSTS": ["cdn.example:443"],
              "FETCH_USER_AGENT": "reader/1", "FETCH_PROXY": "http://proxy.example:3128",
              "SECRET_KEY": "s" * 32, "IMAGE_PROXY_TIMEOUT": 3.0,
              "IMAGE_PROXY_MAX_BYTES": 1000}  # fmt: skip
    settings = from_config(values, tmp_path)
    feeds, images = settings.fetch, settings.images.fetch
    assert (images.allow_hosts, images.user_agent, images.proxy) == (
        ("cdn.example:443",),
        "reader/1",
        "http://proxy.example:3128",
    )
    assert images.allow_private == feeds.allow_private
    assert images.max_redirects == feeds.max_redirects
    assert (images.timeout, images.max_bytes) == (3.0, 1000)
    assert feeds.secret_key == "s" * 32 and images.secret_key == ""
