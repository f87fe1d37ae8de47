"""What every view shares about its request: the database, the session, the
client, the app's clock, the popular rankings it shows, and an HTML page as the answer."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from flask import Response, abort, current_app, g, render_template, request
from sqlalchemy.orm import Session

from feedsvc import clock, popularity
from feedsvc.db import Database
from feedsvc.params import BadParameter, page_number
from feedsvc.settings import EXTENSION as SETTINGS
from feedsvc.settings import Settings

T = TypeVar("T")


def get_db() -> Database:
    db: Database = current_app.extensions["feedsvc.db"]
    return db


def current_time() -> dt.datetime:
    """The time by the app's clock (pinned in tests)."""
    app_clock: clock.Clock = current_app.extensions[clock.EXTENSION]
    return app_clock.now()


def settings() -> Settings:
    """The app's typed settings, read once by the factory."""
    app_settings: Settings = current_app.extensions[SETTINGS]
    return app_settings


def get_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = get_db().sessions()
    session: Session = g.db_session
    return session


def html_page(template: str, status: int = 200, **context: Any) -> Response:
    return Response(render_template(template, **context), status=status,
                    content_type="text/html; charset=utf-8")  # fmt: skip


def found_or_404(found: T | None) -> T:
    """What a lookup found; nothing found is the page not found."""
    if found is None:
        abort(404)
    return found


def get_or_404(model: type[T], ident: int) -> T:
    """The row of `model` with this primary key, or the page not found."""
    return found_or_404(get_session().get(model, ident))


def popular_ranking(window: str) -> popularity.Ranking:
    """The window's shared ranking, read once per request: the sidebar, the
    page and the feed rendered for this request all show the same one."""
    rankings: dict[str, popularity.Ranking] = g.setdefault("popular_rankings", {})
    if window not in rankings:
        rankings[window] = popularity.shared_ranking(
            get_session(), window, current_time(), settings().popular
        )
    return rankings[window]


def end_session(*, commit: bool) -> None:
    """Commit or roll back the request's session, if it opened one, and close it.

    The one place a request's work is committed: when its response is ready
    (`finish_request`), or before a fetch that records in sessions of its own.
    Views never commit: a view that fails answers 4xx, and its work is undone.
    """
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


def undo_changes() -> None:
    """Undo the request's work so far, keeping its session open: a form refused
    is shown again around the rows as stored, not as the refused change left them."""
    get_session().rollback()


def page_arg() -> int:
    """The page a listing asks for, by the rule the feeds and the API share
    (params.py); else 400 with the reason."""
    try:
        return page_number(request.args)
    except BadParameter as exc:
        abort(400, description=str(exc))


def finish_request(response: Response) -> Response:
    """After every request: keep its work if it succeeded (below 400), else undo it."""
    end_session(commit=response.status_code < 400)
    return response


def close_session(_exc: BaseException | None) -> None:
    """Teardown: a request that raised (or never reached `finish_request`) is undone."""
    end_session(commit=False)


def client_address() -> str:
    """The client's address, believing X-Forwarded-For only as far as PROXY_HOPS says."""
    from feedsvc.popularity import client_address as believed_address

    return believed_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                            settings().site.proxy_hops)  # fmt: skip
