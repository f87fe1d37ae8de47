"""The WebSub subscriber against a hub written here, on 127.0.0.1: subscribe →
verify → deliveries through the pipeline; forged signatures and unsolicited
verifications refused; leases renewed; unsubscribed on pause and delete."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from feedsvc import changes
from feedsvc.clock import EXTENSION as CLOCK
from feedsvc.clock import FixedClock
from feedsvc.db import Database
from feedsvc.fetcher import Fetcher, FetchSettings
from feedsvc.ingest.pipeline import refresh_source
from feedsvc.models import HubSubscription, Post, Source
from feedsvc.push import hub as push_hub
from feedsvc.push import store as push_store
from feedsvc.scheduler import Worker
from feedsvc.sources import add_source, delete_source, pause_source, resume_source
from feedsvc.vocabulary import PushState
from tests.admin_helpers import make_admin, sign_in
from tests.configured import reconfigure, settings_of
from tests.feedserver import ATOM_TYPE, FeedServer, Reply
from tests.websubhub import Hub, atom

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
FIRST = [("1", "First post")]


@pytest.fixture
def clock(app: Flask) -> FixedClock:
    pinned = FixedClock(NOW)
    app.extensions[CLOCK] = pinned  # the callback's views tell this time too
    return pinned


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def hub(feed_server: FeedServer) -> Hub:
    return Hub(feed_server)


@pytest.fixture
def worker(app: Flask, db: Database, served: str, clock: FixedClock) -> Iterator[Worker]:
    settings = settings_of(app, BASE_URL=served, WEBSUB_SUBSCRIBE="true")
    running = Worker(db, settings, name="push-test", clock=clock)
    yield running
    running.shutdown(wait=True)


def serve_feed(feed_server: FeedServer, hub: Hub, entries: list[tuple[str, str]]) -> str:
    url = feed_server.url("/feed.atom")
    feed_server.routes["/feed.atom"] = Reply(
        200, atom(hub.url, url, entries), {**ATOM_TYPE, "ETag": '"v1"'}
    )
    return url


def fetched_source(app: Flask, db: Database, url: str, now: dt.datetime) -> int:
    with db.session() as session:
        source_id = add_source(session, url, now).id
    settings = settings_of(app)
    with Fetcher(settings.fetch) as fetcher:
        report = refresh_source(db, source_id, fetcher=fetcher, now=now, settings=settings.ingest)
    assert report.result == "ok", report
    return source_id


@contextmanager
def source_of(db: Database, source_id: int) -> Iterator[tuple[Session, Source]]:
    """The source in a transaction of its own, committed at the end of the block."""
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        yield session, source


def subscription(db: Database, source_id: int | None = None) -> HubSubscription | None:
    with db.session(write=False) as session:
        query = select(HubSubscription).order_by(HubSubscription.id.desc())
        if source_id is not None:
            query = query.where(HubSubscription.source_id == source_id)
        return session.scalars(query).first()


def post_titles(db: Database) -> list[str]:
    with db.session(write=False) as session:
        return sorted(session.scalars(select(Post.title)))


def subscribed(
    app: Flask, db: Database, worker: Worker, hub: Hub, feed_server: FeedServer, clock: FixedClock
) -> tuple[int, dict[str, str]]:
    """A source whose feed names the hub, fetched, subscribed to and verified."""
    source_id = fetched_source(app, db, serve_feed(feed_server, hub, FIRST), clock.now())
    assert worker.push() == 1
    form = hub.last()
    answer = hub.verify(form)
    assert answer.status_code == 200 and answer.text == "a-challenge-0123"
    return source_id, form


@pytest.fixture
def live(
    app: Flask, db: Database, worker: Worker, hub: Hub, feed_server: FeedServer, clock: FixedClock
) -> tuple[int, dict[str, str]]:
    """A source whose feed names the hub, fetched, subscribed to and verified."""
    return subscribed(app, db, worker, hub, feed_server, clock)


def test_subscribe_verify_deliver_the_post_appears_and_its_feeds_change(
    app: Flask, db: Database, client: FlaskClient, worker: Worker, hub: Hub,
    feed_server: FeedServer, clock: FixedClock, served: str,
) -> None:  # fmt: skip
    url = serve_feed(feed_server, hub, FIRST)
    source_id = fetched_source(app, db, url, clock.now())
    with source_of(db, source_id) as (_, source):
        assert (source.websub_hub, source.websub_topic) == (hub.url, url)

    assert worker.push() == 1
    form = hub.last()
    assert form["hub.mode"] == "subscribe" and form["hub.topic"] == url
    assert form["hub.callback"].startswith(served + "/websub/")
    assert len(form["hub.callback"].rsplit("/", 1)[1]) >= 40  # unguessable
    assert len(form["hub.secret"]) >= 32 and form["hub.lease_seconds"] == str(10 * 86400)
    sub = subscription(db, source_id)
    assert sub is not None and sub.state == PushState.SUBSCRIBING

    answer = hub.verify(form, lease=3600)
    assert answer.status_code == 200 and answer.text == "a-challenge-0123"
    sub = subscription(db, source_id)
    assert sub is not None and sub.state == PushState.LIVE
    assert sub.expires_at == NOW + dt.timedelta(seconds=3600)
    assert worker.push() == 0  # nothing due until the renewal

    with db.session() as session:
        changes.take_dirty_scopes(session)
        before = changes.content_version(session.connection())
    assert b"Pushed news" not in client.get("/feeds/posts.atom").data
    pushed = atom(hub.url, url, [*FIRST, ("2", "Pushed news")])
    answer = hub.deliver(form, pushed)
    assert answer.status_code == 200, answer.text
    assert "1 new" in answer.text
    assert post_titles(db) == ["First post", "Pushed news"]
    assert b"Pushed news" in client.get("/feeds/posts.atom").data
    assert b"Pushed news" in client.get(f"/feeds/sources/{source_id}.atom").data
    with source_of(db, source_id) as (session, source):
        assert changes.content_version(session.connection()) > before
        assert {"posts", f"source:{source_id}"} <= set(changes.take_dirty_scopes(session))
        # A delivery keeps the fetch's validators; polling falls back to the longest interval.
        assert source.etag == '"v1"'
        assert source.next_check_at == NOW + dt.timedelta(seconds=86400)
    assert subscription(db, source_id).delivered_at == NOW  # type: ignore[union-attr]


def test_a_fetch_while_live_polls_at_the_longest_interval(
    app: Flask, db: Database, clock: FixedClock, live: tuple[int, dict[str, str]]
) -> None:
    source_id, _ = live
    settings = settings_of(app)
    clock.advance(dt.timedelta(minutes=5))
    with Fetcher(settings.fetch) as fetcher:
        refresh_source(db, source_id, fetcher=fetcher, now=clock.now(), settings=settings.ingest)
    with source_of(db, source_id) as (_, source):
        assert source.next_check_at == clock.now() + dt.timedelta(seconds=86400)


@pytest.mark.parametrize(
    "forge",
    [
        {"secret": "not-the-secret"},
        {"secret": "", "method": "sha256"},
        {"method": "md5"},
    ],
)
def test_a_forged_signature_stores_nothing_and_is_logged(
    db: Database,
    hub: Hub,
    caplog: pytest.LogCaptureFixture,
    forge: dict[str, str],
    live: tuple[int, dict[str, str]],
) -> None:
    _, form = live
    body = atom(hub.url, form["hub.topic"], [*FIRST, ("evil", "Forged post")])
    with caplog.at_level(logging.WARNING, logger="feedsvc.push.receive"):
        answer = hub.deliver(form, body, **forge)  # type: ignore[arg-type]
    assert answer.status_code == 403
    assert "refused" in answer.text
    assert post_titles(db) == ["First post"]
    assert any("nothing stored" in record.getMessage() for record in caplog.records)


def test_a_delivery_without_a_signature_or_too_large_is_refused(
    app: Flask, db: Database, hub: Hub, live: tuple[int, dict[str, str]]
) -> None:
    _, form = live
    body = atom(hub.url, form["hub.topic"], [*FIRST, ("2", "Unsigned")])
    unsigned = httpx.post(form["hub.callback"], content=body, timeout=10)
    assert unsigned.status_code == 403 and "no X-Hub-Signature" in unsigned.text
    reconfigure(app, FETCH_MAX_BYTES=len(body) - 1)
    assert hub.deliver(form, body).status_code == 413
    # Sent in chunks, without a Content-Length: cut at the cap all the same.
    chunked = httpx.post(form["hub.callback"], content=iter([body[:100], body[100:]]),
                         headers={"X-Hub-Signature": "sha256=00"}, timeout=10)  # fmt: skip
    assert chunked.status_code == 413
    assert post_titles(db) == ["First post"]


def test_a_paused_sources_deliveries_are_refused_before_the_hub_is_told(
    db: Database, hub: Hub, live: tuple[int, dict[str, str]]
) -> None:
    source_id, form = live
    with source_of(db, source_id) as (_, source):
        pause_source(source)
    body = atom(hub.url, form["hub.topic"], [*FIRST, ("2", "While paused")])
    assert hub.deliver(form, body).status_code == 410
    assert post_titles(db) == ["First post"]


def test_sha1_signatures_are_accepted_as_the_spec_allows(
    db: Database, hub: Hub, live: tuple[int, dict[str, str]]
) -> None:
    _, form = live
    body = atom(hub.url, form["hub.topic"], [*FIRST, ("2", "Signed with sha1")])
    assert hub.deliver(form, body, method="sha1").status_code == 200
    assert post_titles(db) == ["First post", "Signed with sha1"]


def test_unsolicited_verifications_are_refused(
    app: Flask, db: Database, worker: Worker, hub: Hub, feed_server: FeedServer,
    clock: FixedClock, served: str,
) -> None:  # fmt: skip
    source_id = fetched_source(app, db, serve_feed(feed_server, hub, FIRST), clock.now())
    worker.push()
    form = hub.last()
    # No subscription at that address.
    stranger = {**form, "hub.callback": served + "/websub/" + "x" * 43}
    assert hub.verify(stranger).status_code == 404
    # The pending subscription, another topic; an unsubscription nobody asked for.
    assert hub.verify(form, topic="http://127.0.0.1:9/other.atom").status_code == 404
    assert hub.verify(form, mode="unsubscribe").status_code == 404
    assert hub.verify(form, challenge="").status_code == 404
    assert subscription(db, source_id).state == PushState.SUBSCRIBING  # type: ignore[union-attr]
    # A delivery before any verification is not taken.
    body = atom(hub.url, form["hub.topic"], [*FIRST, ("2", "Too early")])
    assert hub.deliver(form, body).status_code == 410
    # Once live, a second subscribe verification is unsolicited: the lease stays.
    assert hub.verify(form, lease=3600).status_code == 200
    answer = hub.verify(form, lease=999999)
    assert answer.status_code == 404 and "a-challenge" not in answer.text
    sub = subscription(db, source_id)
    assert sub is not None and sub.expires_at == NOW + dt.timedelta(seconds=3600)
    assert post_titles(db) == ["First post"]


def test_the_lease_is_renewed_before_it_ends(
    db: Database, worker: Worker, hub: Hub, clock: FixedClock, live: tuple[int, dict[str, str]]
) -> None:
    source_id, form = live  # lease 100 s
    clock.advance(dt.timedelta(seconds=79))
    assert worker.push() == 0
    clock.advance(dt.timedelta(seconds=2))
    assert worker.push() == 1
    renewal = hub.last()
    assert len(hub.requests) == 2
    assert renewal["hub.callback"] == form["hub.callback"]
    assert renewal["hub.secret"] == form["hub.secret"]
    sub = subscription(db, source_id)
    # Still live while the hub verifies the renewal: deliveries are taken.
    assert sub is not None and sub.state == PushState.SUBSCRIBING
    body = atom(hub.url, form["hub.topic"], [*FIRST, ("2", "During renewal")])
    assert hub.deliver(form, body).status_code == 200
    assert hub.verify(renewal, lease=1000).status_code == 200
    sub = subscription(db, source_id)
    assert sub is not None and sub.state == PushState.LIVE
    assert sub.expires_at == clock.now() + dt.timedelta(seconds=1000)


def test_a_lapsed_lease_is_no_longer_live(
    db: Database, worker: Worker, hub: Hub, clock: FixedClock, live: tuple[int, dict[str, str]]
) -> None:
    _, form = live
    hub.answer = Reply(503)  # the renewal fails
    clock.advance(dt.timedelta(seconds=81))
    worker.push()
    clock.advance(dt.timedelta(seconds=20))
    body = atom(hub.url, form["hub.topic"], [*FIRST, ("2", "Too late")])
    assert hub.deliver(form, body).status_code == 410
    assert "HTTP 503" in (subscription(db).last_error or "")  # type: ignore[union-attr]


def test_unsubscribed_when_the_source_is_deleted(
    db: Database, worker: Worker, hub: Hub, clock: FixedClock, live: tuple[int, dict[str, str]]
) -> None:
    source_id, form = live
    with source_of(db, source_id) as (session, source):
        delete_source(session, source, clock.now(), keep_posts=False)
    assert worker.push() == 1
    request = hub.last("unsubscribe")
    assert (request["hub.topic"], request["hub.callback"]) == (form["hub.topic"],
                                                               form["hub.callback"])  # fmt: skip
    sub = subscription(db)
    assert sub is not None and sub.source_id is None and sub.state == PushState.UNSUBSCRIBING
    body = atom(hub.url, form["hub.topic"], [("3", "After delete")])
    assert hub.deliver(form, body).status_code == 410
    # A subscribe verification now is unsolicited; the unsubscribe one is agreed to.
    assert hub.verify(form).status_code == 404
    answer = hub.verify(request)
    assert answer.status_code == 200 and answer.text == "a-challenge-0123"
    assert subscription(db) is None
    assert post_titles(db) == []


def test_pausing_unsubscribes_and_resuming_subscribes_again(
    db: Database, worker: Worker, hub: Hub, clock: FixedClock, live: tuple[int, dict[str, str]]
) -> None:
    source_id, form = live
    with source_of(db, source_id) as (_, source):
        pause_source(source)
    worker.push()
    assert hub.verify(hub.last("unsubscribe")).status_code == 200
    sub = subscription(db, source_id)
    assert sub is not None and sub.state == PushState.UNSUBSCRIBED and sub.expires_at is None
    with source_of(db, source_id) as (_, source):
        resume_source(source, clock.now())
    assert worker.push() == 1
    again = hub.last()
    assert again["hub.callback"] == form["hub.callback"]
    assert hub.verify(again).status_code == 200
    assert subscription(db, source_id).state == PushState.LIVE  # type: ignore[union-attr]


def test_turned_off_it_subscribes_to_nothing_and_ends_what_stands(
    app: Flask,
    db: Database,
    hub: Hub,
    clock: FixedClock,
    served: str,
    live: tuple[int, dict[str, str]],
) -> None:
    source_id, form = live
    off = Worker(db, settings_of(app, BASE_URL=served, WEBSUB_SUBSCRIBE="false"), clock=clock)
    try:
        assert off.push() == 1
        assert hub.last("unsubscribe")["hub.callback"] == form["hub.callback"]
        assert hub.verify(hub.last("unsubscribe")).status_code == 200
        assert off.push() == 0
    finally:
        off.shutdown(wait=True)
    assert subscription(db, source_id).state == PushState.UNSUBSCRIBED  # type: ignore[union-attr]


def test_a_hub_that_refuses_is_retried_with_backoff_and_says_why(
    app: Flask, db: Database, worker: Worker, hub: Hub, feed_server: FeedServer,
    clock: FixedClock,
) -> None:  # fmt: skip
    hub.answer = Reply(400, b"topic not allowed", {"Content-Type": "text/plain"})
    source_id = fetched_source(app, db, serve_feed(feed_server, hub, FIRST), clock.now())
    assert worker.push() == 1
    sub = subscription(db, source_id)
    assert sub is not None and sub.last_error == "the hub answered HTTP 400: topic not allowed"
    assert sub.next_action_at == NOW + dt.timedelta(seconds=60)
    clock.advance(dt.timedelta(seconds=61))
    assert worker.push() == 1
    assert subscription(db, source_id).next_action_at == clock.now() + dt.timedelta(seconds=120)  # type: ignore[union-attr]


def test_a_denial_is_recorded(
    app: Flask, db: Database, worker: Worker, hub: Hub, feed_server: FeedServer,
    clock: FixedClock,
) -> None:  # fmt: skip
    source_id = fetched_source(app, db, serve_feed(feed_server, hub, FIRST), clock.now())
    worker.push()
    form = hub.last()
    params = {"hub.mode": "denied", "hub.topic": form["hub.topic"], "hub.reason": "no thanks"}
    assert httpx.get(form["hub.callback"], params=params, timeout=10).status_code == 200
    sub = subscription(db, source_id)
    assert sub is not None and sub.state == PushState.DENIED
    assert sub.last_error == "the hub refused the subscription: no thanks"


def test_hub_requests_go_through_the_fetch_guard(
    app: Flask, db: Database, hub: Hub, feed_server: FeedServer, clock: FixedClock
) -> None:
    """In production settings a hub on a loopback address is refused, like a feed."""
    fetched_source(app, db, serve_feed(feed_server, hub, FIRST), clock.now())
    settings = settings_of(app, BASE_URL="https://feeds.example.org")
    assert settings.push.subscribe
    with Fetcher(FetchSettings()) as guarded:
        assert push_hub.sync(db, guarded, settings.push, clock.now()) == 1
    assert hub.requests == []
    assert "refused" in (subscription(db).last_error or "")  # type: ignore[union-attr]


def test_a_feed_without_a_hub_is_not_subscribed(
    app: Flask, db: Database, worker: Worker, feed_server: FeedServer, clock: FixedClock
) -> None:
    feed_server.routes["/plain.atom"] = Reply(
        200, atom("", "", FIRST).replace(b"<link rel='hub' href=''/>", b""), ATOM_TYPE
    )
    fetched_source(app, db, feed_server.url("/plain.atom"), clock.now())
    assert worker.push() == 0
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(HubSubscription)) == 0


def test_the_admin_shows_each_sources_subscription(
    db: Database, client: FlaskClient, hub: Hub, live: tuple[int, dict[str, str]]
) -> None:
    source_id, _ = live
    make_admin(db)
    sign_in(client)
    page = client.get(f"/admin/sources/{source_id}").get_data(as_text=True)
    assert "live until 2026-11-24 12:01" in page and hub.url in page
    listing = client.get("/admin/sources").get_data(as_text=True)
    assert "live until 2026-11-24 12:01" in listing


def test_two_workers_deciding_at_once_subscribe_a_source_once(
    app: Flask, db: Database, hub: Hub, feed_server: FeedServer, clock: FixedClock
) -> None:
    fetched_source(app, db, serve_feed(feed_server, hub, FIRST), clock.now())
    with db.session() as first:
        push_store.reconcile(first, clock.now(), True)
        other = threading.Thread(target=lambda: _reconcile_alone(db, clock.now()))
        other.start()
        other.join(0.5)
        assert other.is_alive()  # waits for the first to commit
    other.join(10)
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(HubSubscription)) == 1


def _reconcile_alone(db: Database, now: dt.datetime) -> None:
    with db.session() as session:
        push_store.reconcile(session, now, True)


def _signed(form: dict[str, str], body: bytes, headers: dict[str, str]) -> httpx.Response:
    signature = hmac.new(form["hub.secret"].encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(form["hub.callback"], content=body, timeout=10,
                      headers={"X-Hub-Signature": f"sha256={signature}", **headers})  # fmt: skip


def test_a_delivery_naming_another_hub_and_self_does_not_move_the_subscription(
    db: Database, worker: Worker, hub: Hub, live: tuple[int, dict[str, str]]
) -> None:
    """What a hub pushes never re-points the subscription: our own fetch of
    the feed names its hub and topic."""
    source_id, form = live
    evil_hub, other = "http://127.0.0.1:9/evil-hub", "http://127.0.0.1:9/other.atom"
    body = atom(evil_hub, other, [*FIRST, ("2", "Pushed")])
    links = f'<{evil_hub}>; rel="hub", <{other}>; rel="self"'
    answer = _signed(form, body, {"Content-Type": "application/atom+xml", "Link": links})
    assert answer.status_code == 200, answer.text
    with source_of(db, source_id) as (_, source):
        assert (source.websub_hub, source.websub_topic) == (hub.url, form["hub.topic"])
    assert worker.push() == 0  # no unsubscription, no subscription at the other hub
    assert [request["hub.mode"] for request in hub.requests] == ["subscribe"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"<html><body>a page</body></html>", "text/html"),
     (b"\x00\xff not xml", "application/atom+xml"), (b"", "application/atom+xml"),
     (b'{"version": 1}', "application/feed+json")],
)  # fmt: skip
def test_a_signed_delivery_that_is_no_feed_is_refused_and_held_against_nothing(
    db: Database, live: tuple[int, dict[str, str]], body: bytes, content_type: str
) -> None:
    source_id, form = live
    health = (Source.error_count, Source.last_error, Source.next_check_at, Source.status)
    with source_of(db, source_id) as (session, _):
        before = session.execute(select(*health).where(Source.id == source_id)).one()
    for _ in range(12):  # past the failing threshold, had they counted
        answer = _signed(form, body, {"Content-Type": content_type})
        assert answer.status_code == 422 and "not stored" in answer.text
    with source_of(db, source_id) as (session, _):
        assert session.execute(select(*health).where(Source.id == source_id)).one() == before
    assert post_titles(db) == ["First post"]


def test_an_encoded_delivery_is_refused_never_inflated(
    db: Database, hub: Hub, live: tuple[int, dict[str, str]]
) -> None:
    """A gzip bomb signed by the hub: 50 MB of feed in 50 kB, refused as it came."""
    _, form = live
    feed = atom(hub.url, form["hub.topic"], [*FIRST, ("2", "x" * 50_000_000)])
    for encoding in ("gzip", "GZIP", "deflate", "br"):
        answer = _signed(form, gzip.compress(feed), {"Content-Type": "application/atom+xml",
                                                     "Content-Encoding": encoding})  # fmt: skip
        assert answer.status_code == 415 and "Content-Encoding" in answer.text
    plain = atom(hub.url, form["hub.topic"], [*FIRST, ("2", "Plain")])
    answer = _signed(form, plain, {"Content-Type": "application/atom+xml",
                                   "Content-Encoding": "identity"})  # fmt: skip
    assert answer.status_code == 200
    assert post_titles(db) == ["First post", "Plain"]


def test_two_signature_headers_are_read_as_the_first(
    db: Database, hub: Hub, live: tuple[int, dict[str, str]]
) -> None:
    """A forged header before the hub's does not slip through beside it."""
    _, form = live
    body = atom(hub.url, form["hub.topic"], [*FIRST, ("2", "Twice signed")])
    good = "sha256=" + hmac.new(form["hub.secret"].encode(), body, hashlib.sha256).hexdigest()
    headers = [("Content-Type", "application/atom+xml"), ("X-Hub-Signature", "sha256=00"),
               ("X-Hub-Signature", good)]  # fmt: skip
    assert httpx.post(form["hub.callback"], content=body, headers=headers).status_code == 403
    assert post_titles(db) == ["First post"]


@pytest.mark.parametrize(
    "topic",
    [lambda t: t + "/", lambda t: t.upper(), lambda t: t.replace("http:", "https:"),
     lambda t: t + "?", lambda t: t + "#x", lambda t: " " + t, lambda t: t + "\x00"],
)  # fmt: skip
def test_a_verification_for_a_topic_almost_the_same_is_refused(
    db: Database, worker: Worker, hub: Hub, app: Flask, feed_server: FeedServer,
    clock: FixedClock, topic: Callable[[str], str],
) -> None:  # fmt: skip
    source_id = fetched_source(app, db, serve_feed(feed_server, hub, FIRST), clock.now())
    worker.push()
    form = hub.last()
    answer = hub.verify(form, topic=topic(form["hub.topic"]))
    assert answer.status_code == 404 and "a-challenge" not in answer.text
    assert subscription(db, source_id).state == PushState.SUBSCRIBING  # type: ignore[union-attr]


def test_verifications_replayed_after_unsubscribing_are_refused(
    db: Database, worker: Worker, hub: Hub, live: tuple[int, dict[str, str]]
) -> None:
    source_id, form = live
    with source_of(db, source_id) as (_, source):
        pause_source(source)
    worker.push()
    ended = hub.last("unsubscribe")
    assert hub.verify(ended).status_code == 200
    for replay in (form, ended):
        answer = hub.verify(replay, challenge="replayed")
        assert answer.status_code == 404 and "replayed" not in answer.text
    sub = subscription(db, source_id)
    assert sub is not None and sub.state == PushState.UNSUBSCRIBED and sub.expires_at is None


@pytest.mark.parametrize(
    ("lease", "granted"),
    [(-1, 10 * 86400), (0, 60), (10**11, 365 * 86400), (10**30, 10 * 86400)],  # nonsense: ours
)
def test_an_absurd_lease_is_held_within_bounds(
    db: Database, worker: Worker, hub: Hub, app: Flask, feed_server: FeedServer,
    clock: FixedClock, lease: int, granted: int,
) -> None:  # fmt: skip
    source_id = fetched_source(app, db, serve_feed(feed_server, hub, FIRST), clock.now())
    worker.push()
    assert hub.verify(hub.last(), lease=lease).status_code == 200
    sub = subscription(db, source_id)
    assert sub is not None and sub.lease_seconds == granted
    assert sub.expires_at == NOW + dt.timedelta(seconds=granted)


@pytest.mark.parametrize(
    "token", ["x" * 43, "x" * 5000, "%2e%2e", "é" * 43, "' OR '1'='1", "", "a" * 64 + "/b"]
)
def test_a_guessed_callback_is_404_whatever_it_looks_like(
    served: str, live: tuple[int, dict[str, str]], token: str
) -> None:
    """Unknown callbacks answer 404, for a verification or a delivery; only
    the holder of a callback can tell its state (410). The lookup is by the
    token's unique index: 256 bits are not found by timing it."""
    url = f"{served}/websub/{token}"
    for answer in (
        httpx.get(url, params={"hub.mode": "subscribe", "hub.challenge": "c"}),
        httpx.post(url, content=b"<feed/>", headers={"X-Hub-Signature": "sha256=0"}),
    ):
        assert answer.status_code == 404


def test_concurrent_deliveries_of_one_entry_store_it_once(
    db: Database, hub: Hub, live: tuple[int, dict[str, str]]
) -> None:
    _, form = live
    body = atom(hub.url, form["hub.topic"], [*FIRST, ("2", "Raced")])
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: hub.deliver(form, body), range(6)))
    assert [answer.status_code for answer in answers] == [200] * 6
    assert post_titles(db) == ["First post", "Raced"]


def _slowly() -> Iterator[bytes]:
    time.sleep(3)
    yield b"late"


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(307, headers={"Location": "/private-hub"}), "HTTP 307"),
        (Reply(302, headers={"Location": "http://10.0.0.1/hub"}), "HTTP 302"),
        (Reply(202, b"x" * 100_000), "larger than"),
        (Reply(400, b"y" * 100_000), "larger than"),
        (Reply(202, stream=_slowly), "time"),
    ],
)
def test_a_hostile_hub_is_answered_by_the_fetch_guard(
    app: Flask, db: Database, hub: Hub, feed_server: FeedServer, clock: FixedClock,
    served: str, reply: Reply, words: str,
) -> None:  # fmt: skip
    """A hub that redirects, answers too much or too slowly: nothing followed,
    nothing read past the cap or the deadline, the error kept in few words."""
    source_id = fetched_source(app, db, serve_feed(feed_server, hub, FIRST), clock.now())
    hub.answer = reply
    settings = settings_of(app, BASE_URL=served, WEBSUB_SUBSCRIBE="true", FETCH_TIMEOUT=1.0,
                           FETCH_MAX_BYTES=1000)  # fmt: skip
    with Fetcher(settings.fetch) as fetcher:
        assert push_hub.sync(db, fetcher, settings.push, clock.now()) == 1
    sub = subscription(db, source_id)
    assert sub is not None and sub.state == PushState.SUBSCRIBING
    assert sub.last_error is not None and words in sub.last_error and len(sub.last_error) < 400
    assert sub.next_action_at == NOW + dt.timedelta(seconds=60)  # tried again later
    assert "/private-hub" not in [seen.path for seen in feed_server.requests]
