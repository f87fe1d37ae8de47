"""The factory: `create_app` builds the web app, `main` is the `feedsvc` command.

The top of the layers: it alone knows both doors, the web and the CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup

import config
from feedsvc import cli, web
from feedsvc.db import Database

# templates/ sits beside the package, at the project's top level.
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_app(test_config: dict[str, Any] | None = None, env: str | None = None) -> Flask:
    """Build the web app: configuration, database, blueprints and CLI.

    `env` names the configuration (default: $FEEDSVC_ENV, else production).
    The scheduler is never started here: see `feedsvc worker` and `feedsvc serve`.
    """
    app = Flask("feedsvc", template_folder=str(TEMPLATES), instance_relative_config=True)
    settings = config.load(env)
    if test_config:
        settings.update(test_config)
    app.config.update(settings)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = "sqlite:///" + str(Path(app.instance_path) / "feedsvc.db")
    app.config["BASE_URL"] = app.config["BASE_URL"].rstrip("/")

    app.extensions["feedsvc.db"] = Database(app.config["DATABASE_URL"])
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
