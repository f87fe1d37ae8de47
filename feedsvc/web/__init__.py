"""HTTP entry points: thin blueprints over the services, registered on an app here.

What the views share about a request lives in `web/context.py`, below them.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from feedsvc.urls import web_url
from feedsvc.web import admin, api, auth, feeds, health, sidebar, site
from feedsvc.web.context import close_session


def register(app: Flask) -> None:
    """The blueprints, their hooks and the site-wide error pages."""
    app.register_blueprint(site.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(health.bp)
    auth.init(app)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    feeds.init_cache(app)
    sidebar.init(app)
    app.after_request(_security_headers)
    app.teardown_appcontext(close_session)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _api_or_default)
    app.register_error_handler(500, _api_or_default)
    app.context_processor(_site_globals)
    app.add_template_filter(web_url, "web_url")


def _not_found(error: HTTPException) -> Any:
    if request.path.startswith("/api/"):
        return _api_or_default(error)
    return render_template("404.html"), 404


def _api_or_default(error: HTTPException) -> Any:
    """API clients get problem+json for routing and server errors too."""
    if not request.path.startswith("/api/"):
        return error
    response = api.problem(error.code or 500, error.name, error.description or error.name)
    allow = error.get_response().headers.get("Allow")
    if allow:
        response.headers["Allow"] = allow
    return response


def _site_globals() -> dict[str, Any]:
    return {
        "site_title": current_app.config["SITE_TITLE"],
        "site_description": current_app.config["SITE_DESCRIPTION"],
        "site_language": current_app.config["SITE_LANGUAGE"],
        # Called by the layout, so only pages that show it pay for it.
        "sidebar": sidebar.sidebar,
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
