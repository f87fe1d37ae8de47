"""Fixtures: a real app from the factory, on SQLite or (when
FEEDSVC_TEST_DATABASE_URL is set) PostgreSQL, each test from a clean schema."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text

from feedsvc import create_app
from feedsvc.db import Database
from feedsvc.migrate import upgrade
from feedsvc.models import Base
from tests.commenting import pinned_app
from tests.feedserver import FeedServer
from tests.pgcluster import pg_cluster  # noqa: F401 - a fixture for every test module

TEST_DATABASE_URL = os.environ.get("FEEDSVC_TEST_DATABASE_URL", "")
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session: a template SQLite file, or the PostgreSQL schema."""
    if TEST_DATABASE_URL:
        engine = create_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade(engine)
        engine.dispose()
        return TEST_DATABASE_URL
    path = tmp_path_factory.mktemp("template") / "feedsvc.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return str(path)


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> str:
    if TEST_DATABASE_URL:
        engine = create_engine(TEST_DATABASE_URL)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return TEST_DATABASE_URL
    path = tmp_path / "feedsvc.db"
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url,
        "BASE_URL": "http://feeds.test",
        "SITE_TITLE": "Test Feeds",
        "IMAGE_PROXY_DIR": str(tmp_path / "images"),
    }


@pytest.fixture
def app(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("FEEDSVC_ENV", "testing")
    application = create_app(app_config, env="testing")
    yield application
    application.extensions["feedsvc.db"].dispose()


@pytest.fixture
def db(app: Flask) -> Database:
    database: Database = app.extensions["feedsvc.db"]
    return database


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()


# Comments: an app on the pinned clock of tests/commenting.py, configured by
# the test module's COMMENT_CONFIG.
@pytest.fixture
def capp(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Flask]:
    monkeypatch.setenv("FEEDSVC_ENV", "testing")
    application = pinned_app(app_config, **getattr(request.module, "COMMENT_CONFIG", {}))
    yield application
    application.extensions["feedsvc.db"].dispose()


@pytest.fixture
def cdb(capp: Flask) -> Database:
    database: Database = capp.extensions["feedsvc.db"]
    return database
