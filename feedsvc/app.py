"""The factory: `create_app` builds the web app, `main` is the `feedsvc` command.

The top of the layers: it alone knows both doors, the web and the CLI.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

import config
from feedsvc import cli, logs, web
from feedsvc import settings as typed
from feedsvc.clock import EXTENSION as CLOCK
from feedsvc.clock import Clock, SystemClock
from feedsvc.db import Database
from feedsvc.dbfaults import DatabaseUnavailable, is_database_fault

log = logging.getLogger("feedsvc.config")

# templates/ sits beside the package, at the project's top level.
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_app(
    test_config: dict[str, Any] | None = None, env: str | None = None, clock: Clock | None = None
) -> Flask:
    """Build the web app: configuration, database, clock, blueprints and CLI.

    `env` names the configuration (default: $FEEDSVC_ENV, else production);
    `clock` tells the time to every view and command (default: the system's).
    The scheduler is never started here: see `feedsvc worker` and `feedsvc serve`.
    """
    app = Flask("feedsvc", template_folder=str(TEMPLATES), instance_relative_config=True)
    settings = config.load(env)
    if test_config:
        settings.update(test_config)
    app.config.update(settings)
    # Read once, here: below the factory, services and views get typed settings.
    app.extensions[typed.EXTENSION] = app_settings = typed.from_config(
        app.config, Path(app.instance_path)
    )
    if not app.testing:
        logs.configure(app_settings.logging.level, app_settings.logging.format)
    for warning in config.unknown_variables():
        log.warning(warning)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = "sqlite:///" + str(Path(app.instance_path) / "feedsvc.db")

    try:
        app.extensions["feedsvc.db"] = Database(app.config["DATABASE_URL"])
    except (ArgumentError, ImportError) as exc:
        # A typo in the URL, or a driver that is not installed.
        raise config.ConfigError(f"FEEDSVC_DATABASE_URL: {exc}") from None
    app.extensions[CLOCK] = clock or SystemClock()
    web.register(app)
    cli.register(app)
    return app


def main() -> None:
    """Console script entry point: `feedsvc`."""
    try:
        group = FlaskGroup(create_app=lambda *_args: create_app(), add_default_commands=False,
                           set_debug_flag=False, help="feedsvc: a feed service.")  # fmt: skip
        group.main(prog_name="feedsvc")
    except config.ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except SQLAlchemyError as exc:
        if not is_database_fault(exc):
            raise
        click.echo(f"Error: the database is unavailable: {DatabaseUnavailable.because(exc)}",
                   err=True)  # fmt: skip
        sys.exit(1)
