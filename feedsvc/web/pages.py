"""What every response shares: the site-wide error pages, security headers and
the globals every template sees."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request
from werkzeug.exceptions import HTTPException

from feedsvc.web import sidebar
from feedsvc.web.context import settings
from feedsvc.web.problems import problem


def not_found(error: HTTPException) -> Any:
    if request.path.startswith("/api/"):
        return api_or_default(error)
    return render_template("404.html"), 404


def api_or_default(error: HTTPException) -> Any:
    """API clients get problem+json for routing and server errors too."""
    if not request.path.startswith("/api/"):
        return error
    response = problem(error.code or 500, error.name, error.description or error.name)
    allow = error.get_response().headers.get("Allow")
    if allow:
        response.headers["Allow"] = allow
    return response


def site_globals() -> dict[str, Any]:
    return {
        "site_title": settings().site.title,
        "site_description": settings().site.description,
        "site_language": settings().site.language,
        # Called by the layout, so only pages that show it pay for it.
        "sidebar": sidebar.sidebar,
    }


# No script at all, from anywhere: upstream HTML is sanitized, and this makes
# sure anything that slipped through still cannot run. Styles only from our own
# stylesheet; images only through our image proxy when it is on (else from
# upstream sites); audio and video from upstream (enclosures are not proxied).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; object-src 'none'; style-src 'self'; "
    "img-src {images}; media-src 'self' https: http:; "
    "frame-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
PROXIED_IMAGES = "'self'"
UPSTREAM_IMAGES = "'self' https: http: data:"


def content_security_policy() -> str:
    proxied = settings().images.enabled
    return CONTENT_SECURITY_POLICY.format(images=PROXIED_IMAGES if proxied else UPSTREAM_IMAGES)


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", content_security_policy())
    return response
