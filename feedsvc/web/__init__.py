"""HTTP entry points: thin blueprints over the services."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, render_template
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
    from feedsvc.web import feeds, health, sidebar, site

    app.register_blueprint(site.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(health.bp)
    feeds.init_cache(app)
    sidebar.init(app)
    app.after_request(_security_headers)
    app.teardown_appcontext(_close_session)
    app.register_error_handler(404, _not_found)
    app.context_processor(_site_globals)
    cli.register(app)


def _not_found(_error: Exception) -> tuple[str, int]:
    return render_template("404.html"), 404


def _site_globals() -> dict[str, Any]:
    from feedsvc.web.sidebar import sidebar

    return {
        "site_title": current_app.config["SITE_TITLE"],
        "site_description": current_app.config["SITE_DESCRIPTION"],
        "site_language": current_app.config["SITE_LANGUAGE"],
        # Called by the layout, so only pages that show it pay for it.
        "sidebar": sidebar,
    }


# No script at all, from anywhere: upstream HTML is sanitized, and this makes
# sure anything that slipped through still cannot run. Images may come from
# upstream sites; styles only from our own stylesheet.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; object-src 'none'; style-src 'self'; "
    "img-src 'self' https: http: data:; media-src 'self' https: http:; "
    "frame-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response
