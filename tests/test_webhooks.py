"""Webhooks out: a receiving server on 127.0.0.1 checks each signature with
the Standard Webhooks library; retries, disabling, the guard, the doors."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from feedsvc import comments, webhooks
from feedsvc.db import Database
from feedsvc.fetcher import Fetcher, FetchSettings
from feedsvc.ingest import IngestSettings, refresh_source
from feedsvc.models import Post, Source, WebhookDelivery, WebhookEndpoint
from feedsvc.sources import add_source
from feedsvc.webhook_sender import deliver_due
from tests.admin_helpers import bearer, make_admin, make_token, post_form, sign_in
from tests.configured import reconfigure
from tests.feedserver import RSS_TYPE, FeedServer, Reply, Seen, rss

BASE = "http://feeds.test"
ITEMS = [{"guid": f"g{n}", "title": f"Entry {n}", "link": f"http://example.org/{n}",
          "description": f"Body {n}", "pubDate": f"Mon, 0{n} Nov 2026 10:00:00 GMT"}
         for n in range(1, 3)]  # fmt: skip


class Receiver:
    """The endpoint: answers with the statuses queued (204 when none), keeps what came."""

    def __init__(self, server: FeedServer, path: str = "/hook") -> None:
        self.server, self.path = server, path
        self.statuses: list[int] = []
        server.routes[path] = self._answer

    def _answer(self, seen: Seen) -> Reply:
        return Reply(self.statuses.pop(0) if self.statuses else 204, b"")

    @property
    def url(self) -> str:
        return self.server.url(self.path)

    @property
    def seen(self) -> list[Seen]:
        return self.server.hits(self.path)


@pytest.fixture
def api_headers(db: Database) -> dict[str, str]:
    make_admin(db)
    return bearer(make_token(db))


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as instance:
        yield instance


@pytest.fixture
def receiver(feed_server: FeedServer) -> Receiver:
    return Receiver(feed_server)


def real_now() -> dt.datetime:
    # The receiver's check of the timestamp uses the wall clock (5 minutes either way).
    return dt.datetime.now(dt.UTC)


def deliver(app: Flask, fetcher: Fetcher, now: dt.datetime) -> tuple[int, int]:
    db: Database = app.extensions["feedsvc.db"]
    return deliver_due(db, fetcher, now, secret_key=app.config["SECRET_KEY"], base_url=BASE)


def add_endpoint(
    client: FlaskClient, headers: dict[str, str], url: str, events: list[str] | None = None
) -> dict[str, Any]:
    answer = client.post("/api/v1/webhooks", headers=headers,
                         json={"url": url, "events": events or []})  # fmt: skip
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    return body


def write_post(client: FlaskClient, headers: dict[str, str], title: str = "Hello") -> int:
    answer = client.post("/api/v1/posts", headers=headers,
                         json={"title": title, "content": "<p>Body</p>"})  # fmt: skip
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return int(answer.get_json()["id"])


def verified(secret: str, seen: Seen) -> dict[str, Any]:
    """The message, once the library has checked its signature and timestamp."""
    message: dict[str, Any] = Webhook(secret).verify(seen.body, seen.headers)
    return message


def test_a_new_post_is_posted_signed_and_logged(
    app: Flask, client: FlaskClient, api_headers: dict[str, str], fetcher: Fetcher,
    receiver: Receiver,
) -> None:  # fmt: skip
    endpoint = add_endpoint(client, api_headers, receiver.url)
    assert endpoint["secret"].startswith("whsec_") and endpoint["events"] == ["post.created"]
    post_id = write_post(client, api_headers)
    assert deliver(app, fetcher, real_now()) == (1, 0)
    (seen,) = receiver.seen
    assert seen.method == "POST" and seen.headers["content-type"] == "application/json"
    message = verified(endpoint["secret"], seen)
    assert message["type"] == "post.created"
    assert message["data"]["id"] == post_id and message["data"]["title"] == "Hello"
    assert message["data"]["url"] == f"{BASE}/posts/{post_id}-hello"
    # The receiver's check is real: a changed body, another secret or a stale time fail it.
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(seen.body.replace(b"Hello", b"Hullo"), seen.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(seen.body, seen.headers)
    stale = {**seen.headers, "webhook-timestamp": str(int(real_now().timestamp()) - 3600)}
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(seen.body, stale)
    # Sent once: nothing is due any more.
    assert deliver(app, fetcher, real_now()) == (0, 0)
    log = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=api_headers)
    (attempt,) = log.get_json()
    assert attempt["status_code"] == 204 and attempt["state"] == "delivered"
    assert attempt["event"] == "post.created" and attempt["duration_ms"] >= 0
    assert attempt["message_id"] == seen.headers["webhook-id"]


def test_the_secret_is_shown_once_and_stored_sealed(
    client: FlaskClient, db: Database, api_headers: dict[str, str], receiver: Receiver
) -> None:
    endpoint = add_endpoint(client, api_headers, receiver.url)
    for answer in (client.get("/api/v1/webhooks", headers=api_headers),
                   client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=api_headers),
                   client.patch(f"/api/v1/webhooks/{endpoint['id']}", headers=api_headers,
                                json={"description": "mine"})):  # fmt: skip
        assert answer.status_code == 200
        assert endpoint["secret"] not in answer.get_data(as_text=True)
        assert "secret" not in json.dumps(answer.get_json())
    with db.session() as session:
        stored = session.scalars(select(WebhookEndpoint)).one()
        assert endpoint["secret"] not in stored.secret


def test_ingested_posts_and_their_changes_are_told(
    app: Flask, client: FlaskClient, db: Database, api_headers: dict[str, str],
    fetcher: Fetcher, receiver: Receiver, feed_server: FeedServer,
) -> None:  # fmt: skip
    endpoint = add_endpoint(client, api_headers, receiver.url, ["post.updated"])
    feed_server.routes["/feed"] = Reply(200, rss("Upstream", ITEMS), RSS_TYPE)
    now = real_now()
    with db.session() as session:
        source_id = add_source(session, feed_server.url("/feed"), now).id
    refresh_source(db, source_id, fetcher=fetcher, now=now, settings=IngestSettings())
    changed = [{**ITEMS[0], "title": "Entry 1, corrected"}, ITEMS[1]]
    feed_server.routes["/feed"] = Reply(200, rss("Upstream", changed), RSS_TYPE)
    refresh_source(db, source_id, fetcher=fetcher, now=now + dt.timedelta(seconds=1),
                   settings=IngestSettings())  # fmt: skip
    assert deliver(app, fetcher, now + dt.timedelta(seconds=2)) == (3, 0)
    messages = [verified(endpoint["secret"], seen) for seen in receiver.seen]
    kinds = sorted((m["type"], m["data"]["title"]) for m in messages)
    assert kinds == [("post.created", "Entry 1"), ("post.created", "Entry 2"),
                     ("post.updated", "Entry 1, corrected")]  # fmt: skip
    assert all(m["data"]["source"]["id"] == source_id for m in messages)


def test_deleted_posts_and_comments_when_asked_and_not_otherwise(
    app: Flask, client: FlaskClient, db: Database, api_headers: dict[str, str],
    fetcher: Fetcher, feed_server: FeedServer,
) -> None:  # fmt: skip
    asking = Receiver(feed_server, "/asking")
    plain = Receiver(feed_server, "/plain")
    wants_all = add_endpoint(client, api_headers, asking.url,
                             ["post.deleted", "comment.created"])  # fmt: skip
    add_endpoint(client, api_headers, plain.url)
    post_id = write_post(client, api_headers, "Short-lived")
    with db.session() as session:
        comments.admin_reply(session, post_id, "First!", secret="s", now=real_now())
    assert client.delete(f"/api/v1/posts/{post_id}", headers=api_headers).status_code == 204
    deliver(app, fetcher, real_now())
    told = [verified(wants_all["secret"], seen)["type"] for seen in asking.seen]
    assert sorted(told) == ["comment.created", "post.created", "post.deleted"]
    assert [json.loads(seen.body)["type"] for seen in plain.seen] == ["post.created"]


def test_a_500_is_tried_again_with_backoff_until_it_is_taken(
    app: Flask, client: FlaskClient, db: Database, api_headers: dict[str, str],
    fetcher: Fetcher, receiver: Receiver,
) -> None:  # fmt: skip
    endpoint = add_endpoint(client, api_headers, receiver.url)
    write_post(client, api_headers)
    receiver.statuses = [500, 503]
    start = real_now()
    assert deliver(app, fetcher, start) == (0, 1)
    # Not due again before its backoff: 30 s, then 2 minutes.
    assert deliver(app, fetcher, start + dt.timedelta(seconds=20)) == (0, 0)
    assert deliver(app, fetcher, start + dt.timedelta(seconds=31)) == (0, 1)
    assert deliver(app, fetcher, start + dt.timedelta(seconds=31 + 100)) == (0, 0)
    assert deliver(app, fetcher, start + dt.timedelta(seconds=31 + 121)) == (1, 0)
    ids = {seen.headers["webhook-id"] for seen in receiver.seen}
    assert len(receiver.seen) == 3 and len(ids) == 1  # one message, three attempts
    log = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=api_headers)
    assert [a["status_code"] for a in log.get_json()] == [204, 503, 500]
    assert client.get(f"/api/v1/webhooks/{endpoint['id']}",
                      headers=api_headers).get_json()["failures"] == 0  # fmt: skip


def test_a_message_is_given_up_after_its_last_attempt(
    app: Flask, client: FlaskClient, db: Database, api_headers: dict[str, str],
    fetcher: Fetcher, receiver: Receiver,
) -> None:  # fmt: skip
    add_endpoint(client, api_headers, receiver.url)
    write_post(client, api_headers)
    receiver.statuses = [500] * 20
    when = real_now()
    for _ in range(webhooks.MAX_ATTEMPTS + 2):
        deliver(app, fetcher, when)
        when += dt.timedelta(seconds=webhooks.MAX_RETRY + 1)
    assert len(receiver.seen) == webhooks.MAX_ATTEMPTS
    with db.session() as session:
        assert session.scalars(select(WebhookDelivery.state)).one() == "failed"


def test_an_endpoint_failing_again_and_again_is_disabled(
    app: Flask, client: FlaskClient, db: Database, api_headers: dict[str, str],
    fetcher: Fetcher, receiver: Receiver,
) -> None:  # fmt: skip
    endpoint = add_endpoint(client, api_headers, receiver.url)
    for n in range(webhooks.DISABLE_AFTER + 2):
        write_post(client, api_headers, f"Post {n}")
    receiver.statuses = [500] * 100
    deliver(app, fetcher, real_now())
    assert len(receiver.seen) == webhooks.DISABLE_AFTER
    shown = client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=api_headers).get_json()
    assert not shown["enabled"] and "failed attempts in a row" in shown["disabled_reason"]
    assert "HTTP 500" in shown["disabled_reason"]
    # Disabled: nothing more is sent, nor queued.
    write_post(client, api_headers, "While disabled")
    deliver(app, fetcher, real_now() + dt.timedelta(hours=7))
    assert len(receiver.seen) == webhooks.DISABLE_AFTER
    assert shown["pending"] == webhooks.DISABLE_AFTER + 2
    # Enabled again: its failures are forgotten and what waits goes out.
    again = client.patch(f"/api/v1/webhooks/{endpoint['id']}", headers=api_headers,
                         json={"enabled": True})  # fmt: skip
    assert again.get_json()["enabled"] and again.get_json()["failures"] == 0
    receiver.statuses = []
    delivered, _ = deliver(app, fetcher, real_now() + dt.timedelta(hours=7))
    assert delivered == webhooks.DISABLE_AFTER + 2


HOSTILE_TARGETS = [
    "http://127.0.0.1:{port}/hook",
    "http://localhost:{port}/hook",
    "http://[::1]:{port}/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hook",
    "http://0.0.0.0:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_a_loopback_or_private_target_is_refused_in_production_settings(
    app: Flask, client: FlaskClient, db: Database, api_headers: dict[str, str],
    receiver: Receiver, target: str,
) -> None:  # fmt: skip
    reconfigure(app, FETCH_ALLOW_PRIVATE=False)
    url = target.format(port=receiver.server.port)
    answer = client.post("/api/v1/webhooks", headers=api_headers, json={"url": url})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["field"] == "url" and "FEEDSVC_FETCH_ALLOW_HOSTS" in body["detail"]
    with db.session() as session:
        assert session.scalars(select(WebhookEndpoint)).all() == []


@pytest.mark.parametrize("url", ["ftp://example.org/hook", "javascript:alert(1)", "/hook", ""])
def test_a_target_that_is_no_web_url_is_refused(
    client: FlaskClient, api_headers: dict[str, str], url: str
) -> None:
    answer = client.post("/api/v1/webhooks", headers=api_headers, json={"url": url})
    assert answer.status_code in (400, 422) and answer.get_json()["field"] in ("url", None)


def test_an_allowed_internal_host_is_taken_and_the_guard_still_holds_when_sending(
    app: Flask, client: FlaskClient, db: Database, api_headers: dict[str, str],
    receiver: Receiver,
) -> None:  # fmt: skip
    allowed = f"127.0.0.1:{receiver.server.port}"
    reconfigure(app, FETCH_ALLOW_PRIVATE=False, FETCH_ALLOW_HOSTS=(allowed,))
    add_endpoint(client, api_headers, receiver.url)
    write_post(client, api_headers)
    # A worker whose guard does not allow it (production, no FETCH_ALLOW_HOSTS) sends nothing.
    with Fetcher(FetchSettings(timeout=5)) as guarded:
        assert deliver(app, guarded, real_now()) == (0, 1)
    assert receiver.seen == []
    log = client.get("/api/v1/webhooks/1/deliveries", headers=api_headers).get_json()
    assert "refused" in log[0]["error"] and log[0]["status_code"] is None
    with Fetcher(FetchSettings(timeout=5, allow_hosts=(allowed,))) as allowing:
        assert deliver(app, allowing, real_now() + dt.timedelta(minutes=1)) == (1, 0)


def test_unknown_events_and_a_bad_body_are_refused(
    client: FlaskClient, api_headers: dict[str, str], receiver: Receiver
) -> None:
    bad = client.post("/api/v1/webhooks", headers=api_headers,
                      json={"url": receiver.url, "events": ["post.exploded"]})  # fmt: skip
    assert bad.status_code == 422
    extra = client.post("/api/v1/webhooks", headers=api_headers,
                        json={"url": receiver.url, "secret": "mine"})  # fmt: skip
    assert extra.status_code == 422
    missing = client.get("/api/v1/webhooks/999", headers=api_headers)
    assert missing.status_code == 404


def test_admin_adds_shows_the_secret_once_logs_and_disables(
    app: Flask, client: FlaskClient, db: Database, fetcher: Fetcher, receiver: Receiver
) -> None:
    make_admin(db)
    sign_in(client)
    created = post_form(client, "/admin/webhooks", "/admin/webhooks",
                        {"url": receiver.url, "description": "Chat room",
                         "events": ["post.updated"]})  # fmt: skip
    page = created.get_data(as_text=True)
    assert created.status_code == 201 and "shown this once only" in page
    with db.session() as session:
        endpoint = session.scalars(select(WebhookEndpoint)).one()
        secret = webhooks.open_secret(endpoint.secret, app.config["SECRET_KEY"])
        assert endpoint.events == ["post.created", "post.updated"]
        session.add(Post(entry_key="local:x", title="T", published_at=real_now(),
                         updated_at=real_now(), created_at=real_now(),
                         modified_at=real_now()))  # fmt: skip
    assert secret in page
    listing = client.get("/admin/webhooks").get_data(as_text=True)
    assert receiver.url in listing and secret not in listing
    with db.session() as session:
        post_id = session.scalars(select(Post.id)).one()
        webhooks.note_posts(session, webhooks.WebhookEvent.POST_CREATED, [post_id], real_now())
    deliver(app, fetcher, real_now())
    detail = client.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "Delivery log" in detail and "204" in detail and "post.created" in detail
    assert secret not in detail
    disabled = post_form(client, f"/admin/webhooks/{endpoint.id}",
                         f"/admin/webhooks/{endpoint.id}", {"action": "disable"})  # fmt: skip
    assert disabled.status_code == 302
    assert "disabled by an admin" in client.get(f"/admin/webhooks/{endpoint.id}").get_data(
        as_text=True
    )
    # A refused address: the form again, the reason beside the field.
    reconfigure(app, FETCH_ALLOW_PRIVATE=False)
    refused = post_form(client, "/admin/webhooks", "/admin/webhooks",
                        {"url": "http://127.0.0.1:9/x"})  # fmt: skip
    assert refused.status_code == 400 and "loopback" in refused.get_data(as_text=True)
    deleted = post_form(client, f"/admin/webhooks/{endpoint.id}",
                        f"/admin/webhooks/{endpoint.id}", {"action": "delete"})  # fmt: skip
    assert deleted.status_code == 302
    assert client.get(f"/admin/webhooks/{endpoint.id}").status_code == 404
    with db.session() as session:
        assert session.scalars(select(WebhookDelivery)).all() == []


def test_posts_deleted_by_retention_or_with_their_source_are_told(
    app: Flask, client: FlaskClient, db: Database, api_headers: dict[str, str],
    fetcher: Fetcher, receiver: Receiver, feed_server: FeedServer,
) -> None:  # fmt: skip
    """Every way a shown post goes announces it, not only deleting it by hand."""
    from feedsvc.retention import delete_posts
    from feedsvc.sources import delete_source

    endpoint = add_endpoint(client, api_headers, receiver.url, ["post.deleted"])
    now = real_now()
    for name in ("one", "two"):
        items = [{**item, "guid": f"{name}-{item['guid']}", "title": f"{name} {item['title']}",
                  "link": f"{item['link']}/{name}"} for item in ITEMS]  # fmt: skip
        feed_server.routes[f"/{name}"] = Reply(200, rss(name, items), RSS_TYPE)
        with db.session() as session:
            source_id = add_source(session, feed_server.url(f"/{name}"), now).id
        refresh_source(db, source_id, fetcher=fetcher, now=now, settings=IngestSettings())
    with db.session() as session:
        first, second = session.scalars(select(Post.source_id).distinct().order_by(Post.source_id))
        pruned = session.scalars(select(Post.id).where(Post.source_id == first)).first()
        session.get_one(Post, pruned).title = "Pruned"
    with db.session() as session:
        assert delete_posts(session, [pruned], now) == 1
        source = session.get_one(Source, second)
        assert delete_source(session, source, now, keep_posts=False) == 2
    deliver(app, fetcher, now + dt.timedelta(seconds=1))
    deleted = sorted(m["data"]["title"] for m in (verified(endpoint["secret"], seen)
                                                  for seen in receiver.seen)
                     if m["type"] == "post.deleted")  # fmt: skip
    assert deleted == ["Pruned", "two Entry 1", "two Entry 2"]
