"""HTTP entry points: thin blueprints over the services, registered on an app here.

What the views share about a request lives in `web/context.py`, below them;
what every response shares (error pages, headers, template globals) in `web/pages.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from markupsafe import Markup

from feedsvc import comment_text
from feedsvc.content import demote_headings
from feedsvc.urls import web_url
from feedsvc.web import (
    admin,
    api,
    auth,
    feeds,
    health,
    images,
    moderation,
    pages,
    sidebar,
    site,
    times,
    webhooks_admin,
    websub,
)
from feedsvc.web.context import close_session, finish_request
from feedsvc.web.converters import CONVERTERS

BLUEPRINTS = (site.bp, feeds.bp, health.bp, images.bp, admin.bp, moderation.bp,
              webhooks_admin.bp, api.bp, websub.bp)  # fmt: skip
TEMPLATE_FILTERS: dict[str, Callable[..., Any]] = {
    "web_url": web_url,
    "duration": times.duration,
    "comment_html": lambda text: Markup(comment_text.to_html(text)),
    "image_src": images.image_src,
    "proxy_images": images.proxy_images,
    "demote_headings": demote_headings,
    "thumbnail_size": images.thumbnail_size,
}


def register(app: Flask) -> None:
    """The blueprints, their hooks and the site-wide error pages."""
    # Before the blueprints: their rules take the converters in place when added.
    app.url_map.converters.update(CONVERTERS)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    images.init(app)
    site.init(app)
    auth.init(app)
    feeds.init_cache(app)
    sidebar.init(app)
    app.after_request(pages.security_headers)
    app.after_request(finish_request)
    app.teardown_appcontext(close_session)
    app.register_error_handler(404, pages.not_found)
    app.register_error_handler(405, pages.api_or_default)
    app.register_error_handler(500, pages.api_or_default)
    app.context_processor(pages.site_globals)
    app.add_template_global(times.time_tag, "time_tag")
    for name, template_filter in TEMPLATE_FILTERS.items():
        app.add_template_filter(template_filter, name)
