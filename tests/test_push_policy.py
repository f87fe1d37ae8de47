"""The subscriber's pure rules (feedsvc/push/policy.py), discovery in parse, the
plan while a hub pushes, and FEEDSVC_WEBSUB_SUBSCRIBE's default."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
from pathlib import Path

import pytest

import config
from feedsvc.fetched import FetchResult
from feedsvc.ingest import policy as schedule
from feedsvc.ingest.parse import link_header_pairs, parse_feed, with_link_header
from feedsvc.ingest.plan import Existing, Parsed, SourceRow, plan_refresh
from feedsvc.ingest.prepare import PreparedFeed
from feedsvc.ingest.types import FeedMeta
from feedsvc.push import policy
from feedsvc.settings import from_config, public_https

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
BODY = b"<feed>...</feed>"
SECRET = "s3cret"


def signed(method: str, body: bytes = BODY, secret: str = SECRET) -> str:
    return f"{method}=" + hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()


@pytest.mark.parametrize("method", ["sha256", "sha1", "sha384", "sha512"])
def test_each_method_the_spec_names_is_checked(method: str) -> None:
    assert policy.signature_problem(signed(method), BODY, SECRET) is None


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (None, "no X-Hub-Signature"),
        ("", "no X-Hub-Signature"),
        (signed("sha256", secret="guess"), "does not match"),
        (signed("sha256", body=b"other"), "does not match"),
        (signed("md5"), "none of"),
        ("sha256", "does not match"),
        ("sha256=" + "é" * 64, "does not match"),
        ("=abc", "none of"),
        ("sha256=" + signed("sha256")[7:][:-1], "does not match"),
        ("sha256=", "does not match"),
        ("sha256=" + signed("sha1")[5:], "does not match"),
        ("sha1=" + signed("sha256")[7:], "does not match"),
        ("sha256=" + signed("sha256"), "does not match"),
        (signed("sha256") + ", " + signed("sha256"), "does not match"),  # two, joined by a proxy
        (signed("sha256") + "\x00", "does not match"),
        ("sha-256=" + signed("sha256")[7:], "none of"),
        ("hmac-sha256=" + signed("sha256")[7:], "none of"),
    ],
)
def test_bad_signatures_say_why(header: str | None, words: str) -> None:
    problem = policy.signature_problem(header, BODY, SECRET)
    assert problem is not None and words in problem


@pytest.mark.parametrize(
    "header",
    [signed("sha256").upper(), " " + signed("sha256") + " ", "sha256 = " + signed("sha256")[7:],
     "SHA1=" + signed("sha1")[5:]],
)  # fmt: skip
def test_a_signature_is_read_as_hex_whatever_its_case_and_spacing(header: str) -> None:
    assert policy.signature_problem(header, BODY, SECRET) is None


def test_callbacks_and_secrets_are_unguessable_and_fit() -> None:
    tokens = {policy.new_callback_token() for _ in range(100)}
    assert len(tokens) == 100 and all(43 <= len(t) <= 64 and "/" not in t for t in tokens)
    assert all(len(policy.new_secret().encode()) < 200 for _ in range(10))
    assert policy.callback_url("https://f.example/", "abc") == "https://f.example/websub/abc"


@pytest.mark.parametrize(
    ("given", "lease"),
    [("3600", 3600), (None, 777), ("", 777), ("-5", 777), ("12.5", 777), ("x", 777),
     ("1", policy.MIN_LEASE), ("99999999999", policy.MAX_LEASE), ("9" * 5000, 777),
     ("٣٦٠٠", 777)],
)  # fmt: skip
def test_the_lease_a_hub_grants_is_believed_within_bounds(given: str | None, lease: int) -> None:
    assert policy.granted_lease(given, asked=777) == lease


def test_renewal_comes_four_fifths_into_the_lease_and_retries_back_off() -> None:
    assert policy.renew_at(NOW, 100) == NOW + dt.timedelta(seconds=80)
    assert policy.renew_at(NOW, 10 * 86400) == NOW + dt.timedelta(days=8)
    delays = [policy.retry_delay(n).total_seconds() for n in (1, 2, 3, 20, 10**6)]
    assert delays == [60, 120, 240, 86400, 86400]


@pytest.mark.parametrize(
    ("enabled", "active", "named", "wanted"),
    [(True, True, ("h", "t"), True), (False, True, ("h", "t"), False),
     (True, False, ("h", "t"), False), (True, True, ("h2", "t"), False),
     (True, True, ("h", None), False), (True, True, (None, None), False)],
)  # fmt: skip
def test_which_subscriptions_stand(
    enabled: bool, active: bool, named: tuple[str | None, str | None], wanted: bool
) -> None:
    assert policy.wanted(enabled, "h", "t", active, *named) is wanted


# Discovery: the document's links, a JSON Feed's hubs, and the Link header first.

ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<link rel="hub" href="https://hub.example/"/><link rel="hub" href="javascript:alert(1)"/>
<link rel="self" href="/feed.atom"/><entry><id>1</id><title>a</title></entry></feed>"""
RSS = b"""<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>
<atom:link rel="hub" href="https://pubsubhubbub.appspot.com/"/>
<atom:link rel="self" href="https://ex.org/rss" type="application/rss+xml"/>
<item><guid>1</guid></item></channel></rss>"""
JSON = (
    b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [],'
    b' "feed_url": "https://ex.org/j.json",'
    b' "hubs": [{"type": "WebSub", "url": "https://hub.example/j"}, 3, {"url": 4}]}'
)


@pytest.mark.parametrize(
    ("body", "hubs", "self_url"),
    [(ATOM, ("https://hub.example/",), "https://ex.org/feed.atom"),
     (RSS, ("https://pubsubhubbub.appspot.com/",), "https://ex.org/rss"),
     (JSON, ("https://hub.example/j",), "https://ex.org/j.json"),
     (b"<rss version='2.0'><channel><title>t</title></channel></rss>", (), None)],
)  # fmt: skip
def test_the_hubs_and_self_a_feed_names(body: bytes, hubs: tuple[str, ...], self_url: str) -> None:
    found = parse_feed(body, "https://ex.org/feed")
    assert (found.meta.hubs, found.meta.self_url) == (hubs, self_url)


def test_the_link_header_comes_before_the_document() -> None:
    header = '<https://h2.example/>; rel="hub", <https://ex.org/t>; rel=self; type="x", <z>'
    assert link_header_pairs(header) == [
        ("hub", "https://h2.example/"),
        ("self", "https://ex.org/t"),
    ]
    feed = with_link_header(parse_feed(ATOM, "https://ex.org/feed"), header, "https://ex.org/feed")
    assert (feed.meta.hubs, feed.meta.self_url) == (("https://h2.example/",), "https://ex.org/t")
    only_hub = with_link_header(
        parse_feed(ATOM, "https://ex.org/f"), "<https://h3/>; rel=hub", "https://ex.org/f"
    )
    assert (only_hub.meta.hubs, only_hub.meta.self_url) == (
        ("https://h3/",),
        "https://ex.org/feed.atom",
    )
    hostile = with_link_header(
        parse_feed(ATOM, "https://ex.org/f"), "<" * 100000, "https://ex.org/f"
    )
    assert hostile.meta.hubs == ("https://hub.example/",)


# The plan: a live subscription polls at the longest interval; a push keeps the validators.

SETTINGS = schedule.ScheduleSettings(min_interval=300, max_interval=86400, default_interval=3600)
ROW = SourceRow(feed_url="https://ex.org/feed", etag='"e1"', last_success_at=NOW, hint_interval=600)
META = FeedMeta(title="t", hubs=("https://hub.example/",), self_url="https://ex.org/feed")


def planned(row: SourceRow, *, pushed: bool = False, meta: FeedMeta = META) -> object:
    fetched = FetchResult(row.feed_url, row.feed_url, 200, {}, b"<feed/>", pushed=pushed)
    parsed = Parsed(feed=PreparedFeed(meta=meta))
    return plan_refresh(1, row, fetched, parsed, Existing(entry_times=()), NOW, SETTINGS, 0.5)


def test_while_a_hub_pushes_polling_is_at_the_longest_interval() -> None:
    live = planned(dataclasses.replace(ROW, push_until=NOW + dt.timedelta(hours=1)))
    lapsed = planned(dataclasses.replace(ROW, push_until=NOW))
    assert live.source.next_check_at == NOW + dt.timedelta(seconds=86400)  # type: ignore[attr-defined]
    assert lapsed.source.next_check_at == NOW + dt.timedelta(seconds=3600)  # type: ignore[attr-defined]


def test_the_hub_and_topic_are_stored_from_a_fetch_and_kept_by_any_push() -> None:
    assert planned(ROW).source.websub == ("https://hub.example/", "https://ex.org/feed")  # type: ignore[attr-defined]
    bare = FeedMeta(title="t")
    assert planned(ROW, meta=bare).source.websub == (None, None)  # type: ignore[attr-defined]
    pushed = planned(ROW, meta=bare, pushed=True)
    assert pushed.source.websub is None  # type: ignore[attr-defined]
    assert planned(ROW, pushed=True).source.websub is None  # type: ignore[attr-defined]
    assert pushed.source.etag == '"e1"'  # type: ignore[attr-defined]
    assert planned(ROW).source.etag is None  # type: ignore[attr-defined]
    too_long = FeedMeta(hubs=("https://h/" + "x" * 3000,), self_url="https://ex.org/feed")
    assert planned(ROW, meta=too_long).source.websub == (None, None)  # type: ignore[attr-defined]


# FEEDSVC_WEBSUB_SUBSCRIBE: auto is on only for https on a public name.


@pytest.mark.parametrize(
    ("base", "public"),
    [("https://feeds.example.org", True), ("https://8.8.8.8", True),
     ("http://feeds.example.org", False), ("https://127.0.0.1:5000", False),
     ("https://10.1.2.3", False), ("https://[::1]", False), ("https://localhost", False),
     ("https://box.local", False), ("https://intranet", False), ("https://x.internal", False),
     ("https://feeds.test", False), ("https://", False)],
)  # fmt: skip
def test_public_https(base: str, public: bool) -> None:
    assert public_https(base) is public


@pytest.mark.parametrize(
    ("value", "base", "on"),
    [("auto", "https://feeds.example.org", True), ("auto", "http://127.0.0.1:5000", False),
     ("true", "http://127.0.0.1:5000", True), ("false", "https://feeds.example.org", False)],
)  # fmt: skip
def test_subscribing_by_default_only_where_a_hub_can_reach_us(
    value: str, base: str, on: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDSVC_WEBSUB_SUBSCRIBE", value)
    monkeypatch.setenv("FEEDSVC_BASE_URL", base)
    assert from_config(config.load("testing"), tmp_path).push.subscribe is on


@pytest.mark.parametrize(("name", "value"), [("WEBSUB_SUBSCRIBE", "maybe"),
                                             ("WEBSUB_LEASE_SECONDS", "10")])  # fmt: skip
def test_bad_subscriber_settings_are_named(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"FEEDSVC_{name}", value)
    with pytest.raises(config.ConfigError, match=name):
        config.load("testing")
