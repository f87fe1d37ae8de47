"""HTTP entry points: thin blueprints over the services."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, render_template
from sqlalchemy.orm import Session

from feedsvc.db import Database


def get_db() -> Database:
    db: Database = current_app.extensions["feedsvc.db"]
    return db


def get_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = get_db().sessions()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def register(app: Flask) -> None:
    from feedsvc import cli
    from feedsvc.web import feeds, health, site

    app.register_blueprint(site.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(health.bp)
    feeds.init_cache(app)
    app.teardown_appcontext(_close_session)
    app.register_error_handler(404, _not_found)
    app.context_processor(_site_globals)
    cli.register(app)


def _not_found(_error: Exception) -> tuple[str, int]:
    return render_template("404.html"), 404


def _site_globals() -> dict[str, Any]:
    return {
        "site_title": current_app.config["SITE_TITLE"],
        "site_description": current_app.config["SITE_DESCRIPTION"],
    }
