"""HTTP entry points: thin blueprints over the services, registered on an app here.

What the views share about a request lives in `web/context.py`, below them;
what every response shares (error pages, headers, template globals) in `web/pages.py`.
"""

from __future__ import annotations

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


def register(app: Flask) -> None:
    """The blueprints, their hooks and the site-wide error pages."""
    # Before the blueprints: their rules take the converters in place when added.
    app.url_map.converters.update(CONVERTERS)
    app.register_blueprint(site.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(images.bp)
    images.init(app)
    site.init(app)
    auth.init(app)
    app.register_blueprint(admin.bp)
    app.register_blueprint(moderation.bp)
    app.register_blueprint(webhooks_admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(websub.bp)
    feeds.init_cache(app)
    sidebar.init(app)
    app.after_request(pages.security_headers)
    app.after_request(finish_request)
    app.teardown_appcontext(close_session)
    app.register_error_handler(404, pages.not_found)
    app.register_error_handler(405, pages.api_or_default)
    app.register_error_handler(500, pages.api_or_default)
    app.context_processor(pages.site_globals)
    app.add_template_filter(web_url, "web_url")
    app.add_template_global(times.time_tag, "time_tag")
    app.add_template_filter(times.duration, "duration")
    app.add_template_filter(lambda text: Markup(comment_text.to_html(text)), "comment_html")
    app.add_template_filter(images.image_src, "image_src")
    app.add_template_filter(images.proxy_images, "proxy_images")
    app.add_template_filter(demote_headings, "demote_headings")
    app.add_template_filter(images.thumbnail_size, "thumbnail_size")
