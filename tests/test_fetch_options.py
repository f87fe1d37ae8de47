"""Per-source fetch options: what is refused, what each host is sent, the
403 retry as a browser, the proxy, and secrets that never come back out."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.fetch_options import (
    FetchOptionError,
    FetchOptionsWanted,
    check_credentials,
    check_headers,
    check_user_agent,
)
from feedsvc.fetched import FetchOptions
from feedsvc.fetcher import BROWSER_USER_AGENT, USER_AGENT, Fetcher, FetchSettings
from feedsvc.ingest import IngestSettings, refresh_source
from feedsvc.models import Source
from feedsvc.sealing import SOURCE_SECRETS, WEBHOOK_SECRETS, CannotOpen, Sealer
from feedsvc.sources import add_source, set_fetch_options
from feedsvc.vocabulary import FetchErrorKind
from tests.admin_helpers import bearer, make_admin, make_token, post_form, sign_in
from tests.feedserver import RSS_TYPE, FeedServer, Reply, Seen, rss

KEY = "a-secret-key-for-these-tests-only-0123456789"
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
FEED = rss("Feed", [{"guid": "1", "title": "One", "link": "http://example.org/1"}])
COOKIE = "session=c00k1e-Value"
PASSWORD = "pa55-w0rd-é"
BASIC = "Basic " + base64.b64encode(f"reader:{PASSWORD}".encode()).decode()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(timeout=5, allow_private=True, secret_key=KEY)) as instance:
        yield instance


@pytest.fixture
def other_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()


def sealed(value: str) -> str:
    return Sealer(KEY, SOURCE_SECRETS).seal(value)


SECRET_OPTIONS = FetchOptions(
    headers=(("X-Api-Key", "k3y"),), cookie=sealed(COOKIE), credentials=sealed(f"reader:{PASSWORD}")
)


# The checks, tried with what an attacker would send.


@pytest.mark.parametrize(
    "line",
    [
        "Host: evil.example",
        "Connection: close",
        "Transfer-Encoding: chunked",
        "TE: trailers",
        "Upgrade: websocket",
        "Proxy-Authorization: Basic eA==",
        "Keep-Alive: 5",
        "Content-Length: 10",
        "Cookie: a=b",
        "Authorization: Bearer x",
        "User-Agent: x",
        "If-None-Match: x",
        "Accept-Encoding: br",
        "X-Ok: fine\r\nX-Smuggled: 1",
        "X-Ok: fine\nGET / HTTP/1.1",
        "X-Nul: a\x00b",
        "X-Tab: a\tb",
        "X-Unicode: café",
        "Bad Name: x",
        "Name(): x",
        ": no name",
        "no colon at all",
        "X-Long: " + "a" * 3000,
    ],
)
def test_hostile_headers_are_refused(line: str) -> None:
    with pytest.raises(FetchOptionError) as caught:
        check_headers([line])
    assert caught.value.field == "headers" and str(caught.value)


def test_good_headers_are_kept_and_blank_lines_skipped() -> None:
    assert check_headers(["X-Api-Key: abc", "", "  Accept-Language :  fr  "]) == [
        ("X-Api-Key", "abc"),
        ("Accept-Language", "fr"),
    ]


def test_too_many_or_repeated_headers_are_refused() -> None:
    with pytest.raises(FetchOptionError, match="at most"):
        check_headers([f"X-{n}: v" for n in range(21)])
    with pytest.raises(FetchOptionError, match="twice"):
        check_headers(["X-A: 1", "x-a: 2"])


@pytest.mark.parametrize("agent", ["bot\r\nX-Evil: 1", "bot\x00", "bot\x7f", "b" * 501, "bötchen"])
def test_hostile_user_agents_are_refused(agent: str) -> None:
    with pytest.raises(FetchOptionError) as caught:
        check_user_agent(agent)
    assert caught.value.field == "user_agent"


def test_credentials_are_checked() -> None:
    assert check_credentials("  ", "x") is None
    assert check_credentials("me", "pässword") == "me:pässword"
    with pytest.raises(FetchOptionError, match=":"):
        check_credentials("me:you", "x")
    with pytest.raises(FetchOptionError, match="control"):
        check_credentials("me", "pass\r\nword")
    with pytest.raises(FetchOptionError):
        check_credentials("m\ne", "x")


def test_sealing_opens_only_with_its_key_and_purpose() -> None:
    box = Sealer(KEY, SOURCE_SECRETS).seal("secret")
    assert "secret" not in box
    assert Sealer(KEY, SOURCE_SECRETS).open(box) == "secret"
    for other in (Sealer(KEY + "x", SOURCE_SECRETS), Sealer(KEY, WEBHOOK_SECRETS)):
        with pytest.raises(CannotOpen):
            other.open(box)
    with pytest.raises(CannotOpen):
        Sealer(KEY, SOURCE_SECRETS).open(box[:-4] + "AAAA")


# What each host is sent.


def test_user_agent_of_the_settings_and_of_the_source(feed_server: FeedServer) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    with Fetcher(FetchSettings(allow_private=True, user_agent="Site-wide/1.0")) as fetcher:
        assert fetcher.fetch(feed_server.url("/f")).ok
        assert fetcher.fetch(feed_server.url("/f"), options=FetchOptions(user_agent="Own/2")).ok
    agents = [seen.headers["user-agent"] for seen in feed_server.hits("/f")]
    assert agents == ["Site-wide/1.0", "Own/2"]


def test_secrets_go_to_the_source_host_and_not_across_a_redirect(
    fetcher: Fetcher, feed_server: FeedServer, other_server: FeedServer
) -> None:
    # 127.0.0.1 and localhost are two hosts to the fetcher, as two sites would be.
    elsewhere = f"http://localhost:{other_server.port}/moved"
    feed_server.routes["/f"] = Reply(302, b"", {"Location": "/same-host"})
    feed_server.routes["/same-host"] = Reply(302, b"", {"Location": elsewhere})
    other_server.routes["/moved"] = Reply(200, FEED, RSS_TYPE)
    result = fetcher.fetch(feed_server.url("/f"), options=SECRET_OPTIONS)
    assert result.ok and result.final_url == elsewhere
    for seen in feed_server.hits("/f") + feed_server.hits("/same-host"):
        assert seen.headers["cookie"] == COOKIE
        assert seen.headers["authorization"] == BASIC
        assert seen.headers["x-api-key"] == "k3y"
    (moved,) = other_server.hits("/moved")
    assert not {"cookie", "authorization", "x-api-key"} & set(moved.headers)


def test_secrets_not_sent_to_another_port_of_the_same_host(
    fetcher: Fetcher, feed_server: FeedServer, other_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(301, b"", {"Location": other_server.url("/moved")})
    other_server.routes["/moved"] = Reply(200, FEED, RSS_TYPE)
    assert fetcher.fetch(feed_server.url("/f"), options=SECRET_OPTIONS).ok
    (moved,) = other_server.hits("/moved")
    assert "cookie" not in moved.headers and "authorization" not in moved.headers


def test_a_server_cookie_does_not_override_the_sources(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, {**RSS_TYPE, "Set-Cookie": "other=1; Path=/"})
    fetcher.fetch(feed_server.url("/f"), options=SECRET_OPTIONS)
    fetcher.fetch(feed_server.url("/f"), options=SECRET_OPTIONS)
    assert [seen.headers["cookie"] for seen in feed_server.hits("/f")] == [COOKIE, COOKIE]


def test_secrets_sealed_under_another_key_fail_the_fetch_in_words(
    feed_server: FeedServer,
) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    settings = FetchSettings(allow_private=True, secret_key="another key entirely, rotated")
    with Fetcher(settings) as fetcher:
        result = fetcher.fetch(feed_server.url("/f"), options=SECRET_OPTIONS)
    assert result.error_kind == FetchErrorKind.INTERNAL and "set it again" in (result.error or "")
    assert feed_server.hits("/f") == []


# A 403 to ours, a 200 to a browser.


def browser_only(seen: Seen) -> Reply:
    if seen.headers.get("user-agent") != BROWSER_USER_AGENT:
        return Reply(403, b"no bots", {"Content-Type": "text/plain"})
    return Reply(200, FEED, RSS_TYPE)


def test_a_403_is_asked_again_as_a_browser(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.routes["/f"] = browser_only
    result = fetcher.fetch(feed_server.url("/f"))
    assert result.ok and result.browser_agent
    agents = [seen.headers["user-agent"] for seen in feed_server.hits("/f")]
    assert agents == [USER_AGENT, BROWSER_USER_AGENT]


def test_a_403_to_both_stays_a_403_and_an_own_agent_is_not_replaced(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(403, b"no", {"Content-Type": "text/plain"})
    result = fetcher.fetch(feed_server.url("/f"))
    assert result.status == 403 and not result.browser_agent
    assert len(feed_server.hits("/f")) == 2
    own = fetcher.fetch(feed_server.url("/f"), options=FetchOptions(user_agent="Mine/1"))
    assert own.status == 403 and len(feed_server.hits("/f")) == 3


def test_the_browser_agent_is_remembered_on_the_source(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = browser_only
    with db.session() as session:
        source_id = add_source(session, feed_server.url("/f"), NOW).id
    report = refresh_source(db, source_id, fetcher=fetcher, now=NOW, settings=IngestSettings())
    assert report.new == 1
    with db.session() as session:
        assert session.get(Source, source_id).fetch_as_browser  # type: ignore[union-attr]
    later = NOW + dt.timedelta(hours=2)
    refresh_source(db, source_id, fetcher=fetcher, now=later, settings=IngestSettings())
    # Three requests: ours and the browser's, then the browser's alone.
    assert [s.headers["user-agent"] for s in feed_server.hits("/f")][2:] == [BROWSER_USER_AGENT]


def test_ignoring_validators_sends_none(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, {**RSS_TYPE, "ETag": '"v1"'})
    with db.session() as session:
        source_id = add_source(session, feed_server.url("/f"), NOW).id
    refresh_source(db, source_id, fetcher=fetcher, now=NOW, settings=IngestSettings())
    later = NOW + dt.timedelta(hours=2)
    refresh_source(db, source_id, fetcher=fetcher, now=later, settings=IngestSettings())
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        set_fetch_options(source, FetchOptionsWanted(ignore_validators=True), KEY)
    refresh_source(db, source_id, fetcher=fetcher, now=later + dt.timedelta(hours=2),
                   settings=IngestSettings())  # fmt: skip
    sent = [seen.headers.get("if-none-match") for seen in feed_server.hits("/f")]
    assert sent == [None, '"v1"', None]


# Through a proxy, the guard still vets the target.


class ForwardProxy:
    """An HTTP forward proxy on 127.0.0.1: GET with an absolute URL, passed on."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy.seen.append(self.path)
                target = urlsplit(self.path)
                # A test proxy: it passes requests to 127.0.0.1 only, and follows nothing.
                assert target.hostname == "127.0.0.1"
                upstream = http.client.HTTPConnection("127.0.0.1", target.port, timeout=5)
                upstream.request(
                    "GET",
                    target.path or "/",
                    headers={"User-Agent": self.headers.get("User-Agent", "")},
                )
                answer = upstream.getresponse()
                body = answer.read()
                upstream.close()
                self.send_response(answer.status)
                for name in ("Content-Type", "Location"):
                    if answer.getheader(name):
                        self.send_header(name, answer.getheader(name) or "")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy()
    yield server
    server.stop()


def test_fetches_go_through_the_proxy_and_the_guard_still_vets_targets(
    feed_server: FeedServer, proxy: ForwardProxy
) -> None:
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    allowed = (f"127.0.0.1:{feed_server.port}",)
    # Production's guard (no private addresses) with one internal host let in.
    settings = FetchSettings(timeout=5, allow_hosts=allowed, proxy=proxy.url)
    with Fetcher(settings) as fetcher:
        result = fetcher.fetch(feed_server.url("/f"))
        assert result.ok and result.content == FEED
        assert proxy.seen == [feed_server.url("/f")]
        # The proxy itself would reach these; the guard refuses them first.
        for url in (f"http://localhost:{feed_server.port}/f", "http://127.0.0.1:9/",
                    "http://[::1]:80/", "http://169.254.169.254/latest/meta-data/"):  # fmt: skip
            refused = fetcher.fetch(url)
            assert refused.error_kind == FetchErrorKind.REFUSED, (url, refused)
        feed_server.routes["/hop"] = Reply(302, b"", {"Location": "http://127.0.0.2:9/x"})
        hop = fetcher.fetch(feed_server.url("/hop"))
        assert hop.error_kind == FetchErrorKind.REFUSED
    assert proxy.seen == [feed_server.url("/f"), feed_server.url("/hop")]


def test_a_proxy_that_is_not_http_is_refused_at_start(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from config import ConfigError, load

    monkeypatch.setenv("FEEDSVC_FETCH_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(ConfigError, match="FETCH_PROXY"):
        load("testing")
    monkeypatch.setenv("FEEDSVC_FETCH_PROXY", "")
    monkeypatch.setenv("FEEDSVC_FETCH_USER_AGENT", "bot\r\nX: 1")
    with pytest.raises(ConfigError, match="FETCH_USER_AGENT"):
        load("testing")


# The doors: API, admin, CLI. The secrets never come back out.


@pytest.fixture
def api_headers(db: Database) -> dict[str, str]:
    make_admin(db)
    return bearer(make_token(db))


def stored(db: Database) -> Source:
    with db.session() as session:
        return session.scalars(select(Source)).one()


def test_api_sets_options_and_never_answers_with_the_secrets(
    app: Flask, client: FlaskClient, db: Database, api_headers: dict[str, str],
    feed_server: FeedServer,
) -> None:  # fmt: skip
    feed_server.routes["/f"] = Reply(200, FEED, RSS_TYPE)
    created = client.post("/api/v1/sources", headers=api_headers, json={
        "url": feed_server.url("/f"), "user_agent": "Own/1", "headers": ["X-Api-Key: k3y"],
        "cookie": COOKIE, "username": "reader", "password": PASSWORD,
    })  # fmt: skip
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["cookie_set"] and body["credentials_set"] and body["user_agent"] == "Own/1"
    assert body["headers"] == ["X-Api-Key: k3y"]
    # The first fetch (discovery and the refresh) went with them.
    assert all(seen.headers["authorization"] == BASIC for seen in feed_server.hits("/f"))
    source_id = body["id"]
    answers = [
        created,
        client.get(f"/api/v1/sources/{source_id}", headers=api_headers),
        client.get("/api/v1/sources", headers=api_headers),
        client.patch(f"/api/v1/sources/{source_id}", headers=api_headers,
                     json={"title": "T", "password": PASSWORD, "username": "reader"}),
        client.post(f"/api/v1/sources/{source_id}/refresh", headers=api_headers),
        client.get(f"/api/v1/sources/{source_id}/fetches", headers=api_headers),
        client.get("/api/v1/openapi.json", headers=api_headers),
    ]  # fmt: skip
    for answer in answers:
        text = answer.get_data(as_text=True)
        assert answer.status_code < 400, text
        for secret in (COOKIE, "c00k1e", PASSWORD, BASIC, "reader:"):
            assert secret not in text
    row = stored(db)
    assert COOKIE not in (row.fetch_cookie or "") and PASSWORD not in (row.fetch_credentials or "")
    assert Sealer(app.config["SECRET_KEY"], SOURCE_SECRETS).open(row.fetch_cookie or "") == COOKIE


def test_api_refuses_hostile_options_and_changes_nothing(
    client: FlaskClient, db: Database, api_headers: dict[str, str]
) -> None:
    with db.session() as session:
        source_id = add_source(session, "http://example.org/feed", NOW).id
    for body, field in [
        ({"headers": ["Host: evil"]}, "headers"),
        ({"headers": ["X-A: 1\r\nX-B: 2"]}, "headers"),
        ({"user_agent": "a\nb"}, "user_agent"),
        ({"cookie": "a=b\r\nX: y"}, "cookie"),
        ({"password": "alone"}, "username"),
        ({"username": "a:b", "password": "x"}, "username"),
        ({"title": "changed", "headers": ["Transfer-Encoding: chunked"]}, "headers"),
    ]:
        answer = client.patch(f"/api/v1/sources/{source_id}", headers=api_headers, json=body)
        assert answer.status_code == 422, (body, answer.get_data(as_text=True))
        assert answer.get_json()["field"] == field
    row = stored(db)
    assert row.title == "" and row.fetch_headers == [] and row.fetch_user_agent is None


def test_api_clears_the_secrets(
    client: FlaskClient, db: Database, api_headers: dict[str, str]
) -> None:
    with db.session() as session:
        source_id = add_source(session, "http://example.org/feed", NOW).id
    path = f"/api/v1/sources/{source_id}"
    client.patch(path, headers=api_headers, json={"cookie": COOKIE, "username": "u",
                                                  "password": "p"})  # fmt: skip
    assert stored(db).fetch_cookie and stored(db).fetch_credentials
    cleared = client.patch(path, headers=api_headers, json={"cookie": "", "username": ""})
    assert not cleared.get_json()["cookie_set"] and not cleared.get_json()["credentials_set"]
    assert stored(db).fetch_cookie is None and stored(db).fetch_credentials is None


def test_admin_form_sets_options_and_never_shows_the_secrets(
    client: FlaskClient, db: Database
) -> None:
    make_admin(db)
    sign_in(client)
    with db.session() as session:
        source_id = add_source(session, "http://example.org/feed", NOW).id
    page = f"/admin/sources/{source_id}"
    form = {"title": "", "site_url": "", "tags": "", "interval": "", "mode": "full",
            "user_agent": "Own/1", "headers": "X-Api-Key: k3y\n", "cookie": COOKIE,
            "username": "reader", "password": PASSWORD, "ignore_validators": "1"}  # fmt: skip
    saved = post_form(client, page, page, form)
    assert saved.status_code == 302
    row = stored(db)
    assert row.fetch_user_agent == "Own/1" and row.fetch_headers == [["X-Api-Key", "k3y"]]
    assert row.ignore_validators and row.fetch_cookie and row.fetch_credentials
    shown = client.get(page).get_data(as_text=True)
    assert "one is set, never shown" in shown and "credentials are set" in shown
    for secret in (COOKIE, "c00k1e", PASSWORD, "reader"):
        assert secret not in shown
    # Saving again with the secret fields empty keeps them.
    kept = {**form, "cookie": "", "username": "", "password": ""}
    post_form(client, page, page, kept)
    assert stored(db).fetch_cookie == row.fetch_cookie
    # A bad header: the form again, the reason beside the field, nothing saved.
    bad = post_form(client, page, page, {**kept, "headers": "Connection: close", "title": "New"})
    assert bad.status_code == 422 and "about the connection" in bad.get_data(as_text=True)
    assert stored(db).title == ""
    post_form(client, page, page, {**kept, "clear_cookie": "1", "clear_credentials": "1"})
    assert stored(db).fetch_cookie is None and stored(db).fetch_credentials is None


def cli(runner: FlaskCliRunner, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(args=list(args), input=stdin)


def test_cli_add_and_set_fetch_options(runner: FlaskCliRunner, db: Database) -> None:
    added = cli(runner, "sources", "add", "http://example.org/feed", "--no-check", "--user-agent",
                "Own/1", "--header", "X-Api-Key: k3y", "--cookie", COOKIE)  # fmt: skip
    assert added.exit_code == 0, added.output
    row = stored(db)
    assert row.fetch_user_agent == "Own/1" and row.fetch_headers == [["X-Api-Key", "k3y"]]
    assert row.fetch_cookie and COOKIE not in row.fetch_cookie
    changed = cli(runner, "sources", "set", str(row.id), "--username", "reader",
                  "--password-stdin", "--ignore-validators", stdin=PASSWORD + "\n")  # fmt: skip
    assert changed.exit_code == 0, changed.output
    assert "credentials set" in changed.output and PASSWORD not in changed.output
    assert "validators ignored" in changed.output
    refused = cli(runner, "sources", "set", str(row.id), "--header", "Host: evil.example")
    assert refused.exit_code == 1 and "Host cannot be set" in refused.output
    assert stored(db).fetch_headers == [["X-Api-Key", "k3y"]]
    cleared = cli(runner, "sources", "set", str(row.id), "--clear-headers", "--cookie", "")
    assert cleared.exit_code == 0 and stored(db).fetch_headers == []
    assert stored(db).fetch_cookie is None


def test_a_cookie_one_source_is_set_goes_with_no_other_fetch(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    """One client fetches every source: a session one source's server hands out
    (after its own cookie signed in) must not reach another source's fetch."""
    session_cookie = {**RSS_TYPE, "Set-Cookie": "sid=alice; Path=/"}
    feed_server.routes["/private"] = Reply(200, FEED, session_cookie)
    feed_server.routes["/other"] = Reply(200, FEED, RSS_TYPE)
    assert fetcher.fetch(feed_server.url("/private"), options=SECRET_OPTIONS).ok
    assert fetcher.fetch(feed_server.url("/other")).ok
    (other,) = feed_server.hits("/other")
    assert "cookie" not in other.headers
    assert fetcher.fetch(feed_server.url("/private"), options=SECRET_OPTIONS).ok
    assert [seen.headers["cookie"] for seen in feed_server.hits("/private")] == [COOKIE, COOKIE]
