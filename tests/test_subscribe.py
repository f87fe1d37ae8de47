"""One way to add a source: the admin, the API and the CLI give the same result
and the same errors for the same address, since all three call `subscribe()`."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import delete, func, select

from feedsvc.db import Database
from feedsvc.models import Post, Source
from feedsvc.sources import add_source
from tests.admin_helpers import bearer, make_admin, make_token, post_form, sign_in
from tests.configured import reconfigure
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss

HTML = {"Content-Type": "text/html; charset=utf-8"}
ITEMS = [{"guid": f"g{i}", "title": f"Entry {i}", "link": f"http://example.org/{i}",
          "description": f"<p>Body {i}</p>", "pubDate": f"Mon, 0{i} Nov 2026 10:00:00 GMT"}
         for i in range(1, 4)]  # fmt: skip


def link(href: str, kind: str = "application/rss+xml") -> bytes:
    return f'<link rel="alternate" type="{kind}" href="{href}">'.encode()


def serve_everything(server: FeedServer) -> None:
    server.routes["/feed.xml"] = Reply(200, rss("Upstream", ITEMS), RSS_TYPE)
    server.routes["/one/"] = Reply(200, b"<html><head>" + link("/feed.xml") + b"</head></html>",
                                   HTML)  # fmt: skip
    server.routes["/two/"] = Reply(200, b"<html><head>" + link("/feed.xml")
                                   + link("/atom.xml", "application/atom+xml") + b"</head></html>",
                                   HTML)  # fmt: skip
    server.routes["/plain/"] = Reply(200, b"<html><head><title>Plain</title></head></html>", HTML)


# What each entry point answered, in the same words: ("added", feed URL, title,
# site URL, posts stored), ("choose", candidate URLs) or ("error", status, message).
Outcome = tuple[Any, ...]


def stored(db: Database) -> Outcome:
    with db.session() as session:
        source = session.scalars(select(Source)).one()
        posts = session.scalar(select(func.count()).select_from(Post))
        return ("added", source.feed_url, source.title, source.site_url, posts)


def through_the_admin(admin: FlaskClient, db: Database, url: str) -> Outcome:
    page = post_form(admin, "/admin/sources/new", "/admin/sources/new", {"url": url})
    body = page.get_data(as_text=True)
    if "Pick one" in body:
        return ("choose", tuple(re.findall(r'type="radio" name="url" value="([^"]+)"', body)))
    if page.status_code != 200:
        found = re.search(r'<p class="field-error" role="alert" id="url-error">(.*?)</p>', body)
        assert found, body
        return ("error", page.status_code, html.unescape(found.group(1)))
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', body))
    title = re.search(r'<input id="title" name="title" value="([^"]*)"', body)
    assert title, body
    created = post_form(admin, "/admin/sources/new", "/admin/sources", {
        "feed_url": html.unescape(form["feed_url"]), "site_url": html.unescape(form["site_url"]),
        "title": html.unescape(title.group(1)), "mode": "full"})  # fmt: skip
    assert created.status_code == 302, created.get_data(as_text=True)
    return stored(db)


def through_the_api(client: FlaskClient, db: Database, url: str, token: str) -> Outcome:
    response = client.post("/api/v1/sources", json={"url": url}, headers=bearer(token))
    body = response.get_json(force=True)
    if response.status_code == 201:
        assert body["post_count"] == stored(db)[-1]
        return stored(db)
    if "candidates" in body:
        return ("choose", tuple(candidate["url"] for candidate in body["candidates"]))
    assert body["field"] == "url", body
    return ("error", response.status_code, body["detail"])


def through_the_cli(runner: FlaskCliRunner, db: Database, url: str) -> Outcome:
    result = runner.invoke(args=["sources", "add", url])
    if result.exit_code == 0:
        return stored(db)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    message = lines[0].removeprefix("Error: ")
    if "add one of those: " in message:
        return ("choose", tuple(message.split("add one of those: ")[1].split(", ")))
    return ("error", None, message)


CASES = {
    # address, whether the feed is a source already, what all three answer
    "a feed": ("/feed.xml", False, "added"),
    "a site with one feed": ("/one/", False, "added"),
    "a site with two feeds": ("/two/", False, "choose"),
    "a page without a feed": ("/plain/", False, "error"),
    "a refused address": ("/feed.xml", False, "error"),
    "a duplicate": ("/feed.xml", True, "error"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_admin_api_and_cli_add_a_source_alike(
    case: str, app: Flask, db: Database, client: FlaskClient, runner: FlaskCliRunner,
    feed_server: FeedServer,
) -> None:  # fmt: skip
    path, duplicate, expected = CASES[case]
    serve_everything(feed_server)
    if case == "a page without a feed":
        # Discovery tries the usual paths at the site's root: none may have one.
        del feed_server.routes["/feed.xml"]
    url = feed_server.url(path)
    make_admin(db)
    token = make_token(db)
    sign_in(client)
    if case == "a refused address":
        reconfigure(app, FETCH_ALLOW_PRIVATE=False)

    def fresh() -> None:
        with db.session() as session:
            session.execute(delete(Post))
            session.execute(delete(Source))
            if duplicate:
                add_source(session, url, dt.datetime.now(dt.UTC), title="Mine")

    entry_points: dict[str, Callable[[], Outcome]] = {
        "admin": lambda: through_the_admin(client, db, url),
        "api": lambda: through_the_api(client, db, url, token),
        "cli": lambda: through_the_cli(runner, db, url),
    }
    outcomes = {}
    for name, add in entry_points.items():
        fresh()
        outcome = add()
        # A source's id in a message differs from run to run (PostgreSQL's sequences).
        outcomes[name] = tuple(re.sub(r"\(id \d+\)", "(id N)", part) if isinstance(part, str)
                               else part for part in outcome)  # fmt: skip
    assert {name: outcome[0] for name, outcome in outcomes.items()} == dict.fromkeys(
        entry_points, expected
    )
    # The same result, or the same error in the same words (the CLI has no status).
    admin, api, cli = outcomes["admin"], outcomes["api"], outcomes["cli"]
    assert admin == api
    assert cli == (api if expected != "error" else ("error", None, api[2]))
    if expected == "added":
        assert api == ("added", feed_server.url("/feed.xml"), "Upstream", "http://example.org/", 3)
    elif expected == "choose":
        assert api[1] == (feed_server.url("/feed.xml"), feed_server.url("/atom.xml"))
    else:
        status, message = api[1], api[2]
        assert (status, case) in {(422, "a page without a feed"), (400, "a refused address"),
                                  (409, "a duplicate")}, (status, message)  # fmt: skip
