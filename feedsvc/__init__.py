"""feedsvc: stores posts, ingests upstream feeds, publishes Atom, RSS and JSON feeds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from feedsvc.version import __version__

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["TEMPLATES", "__version__", "create_app"]

# templates/ sits beside the package, at the project's top level.
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_app(test_config: dict[str, Any] | None = None, env: str | None = None) -> Flask:
    """Build the web app: configuration, database, blueprints and CLI.

    `env` names the configuration (default: $FEEDSVC_ENV, else production).
    The scheduler is never started here: see `feedsvc worker` and `feedsvc serve`.
    """
    from flask import Flask

    import config
    from feedsvc import web
    from feedsvc.db import Database

    app = Flask(__name__, template_folder=str(TEMPLATES), instance_relative_config=True)
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
    return app
