"""Counting views honestly and ranking posts by window."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc import create_app, images, popularity
from feedsvc.clock import EXTENSION as CLOCK
from feedsvc.clock import FixedClock
from feedsvc.db import Database
from feedsvc.models import Post, PostViewDay, PostViewTotal
from feedsvc.posts import create_local_post
from feedsvc.settings import PopularSettings
from feedsvc.sources import add_source
from tests.conftest import TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parent.parent
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
BOTS = [
    "",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers)",
    "NetNewsWire (RSS Reader; https://netnewswire.com/)",
    "Miniflux/2.1.0 (+https://miniflux.app)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0 Safari/537.36",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
]
DAY = dt.date(2026, 11, 24)


def add_posts(db: Database, count: int, image: bool = False) -> list[int]:
    with db.session() as session:
        return [
            create_local_post(
                session, title=f"Post {n}", summary_length=300,
                body_html=(f'<p><img src="http://img.example/{n}.png" alt="x"></p>' * image)
                + f"<p>{'A long enough sentence for a snippet. ' * 16}Post {n}.</p>",
                now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n),
            ).id
            for n in range(count)
        ]  # fmt: skip


def views(db: Database, post_id: int) -> int:
    with db.session() as session:
        total = session.get(PostViewTotal, post_id)
        return total.count if total else 0


def view(db: Database, post_id: int, visitor: str, day: dt.date = DAY, times: int = 1) -> None:
    with db.session() as session:
        for _ in range(times):
            popularity.record_view(session, post_id, visitor, day)


@pytest.mark.parametrize("user_agent", BOTS)
def test_bots_are_recognised(user_agent: str) -> None:
    assert popularity.is_bot(user_agent)


@pytest.mark.parametrize(
    "user_agent",
    [
        BROWSER,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    ],
)
def test_browsers_are_people(user_agent: str) -> None:
    assert not popularity.is_bot(user_agent)


def test_a_page_view_counts_bots_and_head_do_not(client: FlaskClient, db: Database) -> None:
    (post_id,) = add_posts(db, 1)
    path = client.get(f"/posts/{post_id}").headers["Location"]
    for agent in BOTS:
        assert client.get(path, headers={"User-Agent": agent}).status_code == 200
    assert client.head(path, headers={"User-Agent": BROWSER}).status_code == 200
    assert client.get(f"/posts/{post_id}", headers={"User-Agent": BROWSER}).status_code == 301
    assert views(db, post_id) == 0
    assert client.get(path, headers={"User-Agent": BROWSER}).status_code == 200
    assert views(db, post_id) == 1
    # The same visitor again today: still one.
    assert client.get(path, headers={"User-Agent": BROWSER}).status_code == 200
    assert views(db, post_id) == 1
    # A conditional request answered 304 is not a view either.
    other = {"REMOTE_ADDR": "198.51.100.20"}
    headers = {"User-Agent": BROWSER}
    etag = client.get(path, headers=headers, environ_base=other).headers["ETag"]
    assert views(db, post_id) == 2
    conditional = {**headers, "If-None-Match": etag}
    assert client.get(path, headers=conditional, environ_base=other).status_code == 304
    assert views(db, post_id) == 2


def read(client: FlaskClient, path: str, address: str, user_agent: str = BROWSER) -> None:
    answer = client.get(path, headers={"User-Agent": user_agent},
                        environ_base={"REMOTE_ADDR": address})  # fmt: skip
    assert answer.status_code == 200


def test_a_visitor_is_an_address_whatever_its_user_agent(client: FlaskClient, db: Database) -> None:
    (post_id,) = add_posts(db, 1)
    path = client.get(f"/posts/{post_id}").headers["Location"]
    for n in range(50):
        read(client, path, "203.0.113.9", f"{BROWSER} Variant/{n}")
    assert views(db, post_id) == 1
    read(client, path, "203.0.113.10", BOTS[1])
    assert views(db, post_id) == 1
    read(client, path, "203.0.113.10")
    assert views(db, post_id) == 2


def test_an_ipv6_visitor_is_its_64(client: FlaskClient, db: Database) -> None:
    (post_id,) = add_posts(db, 1)
    path = client.get(f"/posts/{post_id}").headers["Location"]
    read(client, path, "2001:db8:1:2::1")
    read(client, path, "2001:db8:1:2:aaaa:bbbb:cccc:dddd")
    assert views(db, post_id) == 1
    read(client, path, "2001:db8:1:3::1")
    assert views(db, post_id) == 2
    # An IPv4 address seen through an IPv6 socket is that IPv4 address.
    read(client, path, "198.51.100.7")
    read(client, path, "::ffff:198.51.100.7")
    assert views(db, post_id) == 3


def test_the_same_address_counts_again_the_next_utc_day(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    (post_id,) = add_posts(db, 1)
    path = client.get(f"/posts/{post_id}").headers["Location"]
    clock = FixedClock(dt.datetime(2026, 11, 24, 23, 59, tzinfo=dt.UTC))
    app.extensions[CLOCK] = clock
    read(client, path, "203.0.113.9")
    read(client, path, "203.0.113.9", BROWSER + " Other/1")
    assert views(db, post_id) == 1
    clock.advance(dt.timedelta(minutes=2))
    read(client, path, "203.0.113.9")
    assert views(db, post_id) == 2


def test_once_per_visitor_per_day_and_again_the_next_day(db: Database) -> None:
    (post_id,) = add_posts(db, 1)
    view(db, post_id, "v1", times=3)
    view(db, post_id, "v2")
    assert views(db, post_id) == 2
    view(db, post_id, "v1", DAY + dt.timedelta(days=1))
    assert views(db, post_id) == 3


def test_the_visitor_hash_rotates_daily_and_stores_no_address() -> None:
    one = popularity.visitor_id("secret", DAY, "203.0.113.9")
    assert one == popularity.visitor_id("secret", DAY, "203.0.113.9")
    assert one != popularity.visitor_id("secret", DAY + dt.timedelta(days=1), "203.0.113.9")
    assert one != popularity.visitor_id("other", DAY, "203.0.113.9")
    assert one != popularity.visitor_id("secret", DAY, "203.0.113.10")
    assert "203.0.113.9" not in one


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("", ""),
        ("not an address", "not an address"),
    ],
)
def test_visitor_networks(address: str, network: str) -> None:
    assert popularity.visitor_network(address) == network


def test_forwarded_for_is_believed_only_behind_configured_proxies() -> None:
    forwarded = "198.51.100.7, 203.0.113.5"
    assert popularity.client_address("10.0.0.1", forwarded, 0) == "10.0.0.1"
    assert popularity.client_address("10.0.0.1", forwarded, 1) == "203.0.113.5"
    assert popularity.client_address("10.0.0.1", forwarded, 2) == "198.51.100.7"
    assert popularity.client_address("10.0.0.1", None, 1) == "10.0.0.1"


def test_eight_threads_lose_no_count(db: Database) -> None:
    (post_id,) = add_posts(db, 1)
    errors: list[BaseException] = []

    def reader(thread: int) -> None:
        try:
            for n in range(25):
                view(db, post_id, f"t{thread}-{n}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert views(db, post_id) == 200
    with db.session() as session:
        assert session.get(PostViewDay, (post_id, DAY)).count == 200  # type: ignore[union-attr]


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="several processes write at once only on PostgreSQL"
)
def test_four_processes_lose_no_count(db: Database, database_url: str) -> None:
    (post_id,) = add_posts(db, 1)
    script = (
        "import sys, datetime as dt\n"
        "from feedsvc.db import Database\nfrom feedsvc import popularity\n"
        "db = Database(sys.argv[1])\n"
        "for n in range(50):\n"
        "    with db.session() as s:\n"
        "        popularity.record_view(\n"
        "            s, int(sys.argv[2]), f'{sys.argv[3]}-{n}', dt.date(2026, 11, 24))\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, database_url, str(post_id), f"p{n}"], cwd=ROOT
        )
        for n in range(4)
    ]
    assert [process.wait(timeout=60) for process in processes] == [0, 0, 0, 0]
    assert views(db, post_id) == 200


def test_window_boundaries_are_exact_in_utc(db: Database) -> None:
    old, recent, today_post = add_posts(db, 3)
    today = DAY
    view(db, old, "a", today - dt.timedelta(days=7))  # just outside 7d
    view(db, old, "b", today - dt.timedelta(days=7))
    view(db, recent, "a", today - dt.timedelta(days=6))  # just inside 7d
    view(db, today_post, "a", today)
    view(db, old, "c", today - dt.timedelta(days=30))  # just outside 30d
    view(db, old, "d", today - dt.timedelta(days=29))  # just inside 30d
    # Rank "now" at the last and at the first instant of the UTC day.
    for moment in (dt.time(23, 59, 59), dt.time(0, 0)):
        now = dt.datetime.combine(today, moment, tzinfo=dt.UTC)
        with db.session(write=False) as session:
            seven = popularity.rank(session, "7d", 10, now)
            thirty = popularity.rank(session, "30d", 10, now)
            everything = popularity.rank(session, "all", 10, now)
        assert set(seven) == {recent, today_post}
        assert thirty[0] == old and set(thirty) == {old, recent, today_post}
        assert everything[0] == old
    # The next day, yesterday's "just inside" has left the 7d window.
    with db.session(write=False) as session:
        tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0, 0), tzinfo=dt.UTC)
        assert popularity.rank(session, "7d", 10, tomorrow) == [today_post]


def test_ranking_orders_by_views_then_newer_and_skips_excluded(db: Database) -> None:
    a, b, c, d = add_posts(db, 4)
    for n in range(3):
        view(db, a, f"v{n}")
    view(db, b, "v0")
    view(db, c, "v0")  # c is newer than b: it goes first of the two
    view(db, d, "v0")
    view(db, d, "v1")
    now = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
    # Ranking may roll the windows in a writer of its own: read in a reading session.
    with db.session(write=False) as session:
        assert popularity.rank(session, "7d", 10, now) == [a, d, c, b]
        assert popularity.rank(session, "7d", 2, now) == [a, d]
        assert popularity.rank(session, "trending", 10, now) == [a, d, c, b]
        session.get(Post, a).popular_excluded = True  # type: ignore[union-attr]
    with db.session(write=False) as session:
        assert popularity.rank(session, "7d", 10, now) == [d, c, b]
        assert popularity.rank(session, "all", 2, now) == [d, c]


def test_trending_favours_recent_views(db: Database) -> None:
    older, newer = add_posts(db, 2)
    for n in range(3):
        view(db, older, f"v{n}", DAY - dt.timedelta(days=5))
    for n in range(2):
        view(db, newer, f"v{n}", DAY)
    now = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
    with db.session(write=False) as session:
        assert popularity.rank(session, "trending", 10, now, half_life_days=2) == [newer, older]
        assert popularity.rank(session, "7d", 10, now) == [older, newer]
    with (
        pytest.raises(ValueError, match="window must be one of"),
        db.session(write=False) as session,
    ):
        popularity.rank(session, "1y", 10, now)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "POPULAR_CACHE_SECONDS": 0, "POPULAR_COUNT": 3}


def ranked_views(db: Database, counts: dict[int, int]) -> None:
    today = dt.datetime.now(dt.UTC).date()
    for post_id, count in counts.items():
        for n in range(count):
            view(db, post_id, f"r{n}", today)


def test_popular_feeds_and_page_follow_the_counts(client: FlaskClient, db: Database) -> None:
    ids = add_posts(db, 4, image=True)
    ranked_views(db, {ids[0]: 1, ids[1]: 4, ids[2]: 2})
    expected = ["Post 1", "Post 2", "Post 0"]
    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(client.get(f"/feeds/popular.{fmt}?window=7d").data)
        assert [entry.title for entry in parsed.entries] == expected
        assert parsed.entries[0].media_thumbnail[0]["url"] == f"http://img.example/{1}.png"
        assert "content" not in parsed.entries[0] and parsed.entries[0].summary
    items = client.get("/feeds/popular.json?window=all").get_json()["items"]
    assert [item["title"] for item in items] == expected
    assert items[0]["image"] == "http://img.example/1.png"
    page = client.get("/popular?window=30d").get_data(as_text=True)
    main = page.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    positions = [main.index(f">{title}<") for title in expected]
    assert positions == sorted(positions) and ">Post 3<" not in main
    assert client.get("/popular?window=1y").status_code == 404


def test_the_widget_is_on_every_page_with_snippet_and_thumbnail(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    ids = add_posts(db, 4, image=True)
    with db.session() as session:
        session.get(Post, ids[3]).tags = []  # type: ignore[union-attr]
        post = create_local_post(session, title="Tagged", body_html="<p>Words here.</p>",
                                 now=dt.datetime(2026, 11, 2, tzinfo=dt.UTC), summary_length=300,
                                 tags=["Python"])  # fmt: skip
        tagged = post.id
    with db.session() as session:
        add_source(session, "http://up.example/feed.xml", dt.datetime.now(dt.UTC))
    ranked_views(db, {ids[0]: 3, ids[1]: 2, ids[2]: 1, tagged: 1})
    post_page = client.get(f"/posts/{ids[0]}").headers["Location"]
    pages = ["/", post_page, "/popular", "/sources/1", "/tags/python"]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        widget = html.split('<section class="popular"', 1)[1].split("</section>", 1)[0]
        assert "Popular posts" in widget
        assert widget.count("<li>") == 3  # POPULAR_COUNT
        # Through the image proxy, sized so that nothing shifts.
        thumbnail = f'src="/img/{images.sign("http://img.example/0.png", "testing")}"'
        assert thumbnail in widget and 'width="64" height="64" loading="lazy"' in widget
        snippet = widget.split("<p>", 1)[1].split("</p>", 1)[0]
        # About 500 characters, from the content: longer than the stored summary.
        assert snippet.endswith("…") and 300 < len(snippet) <= 500
        assert not snippet[:-1].endswith(" ")


SHARED = PopularSettings(cache_seconds=60, depth=10)


def test_one_stored_ranking_for_every_process_until_it_is_old(db: Database) -> None:
    first, second = add_posts(db, 2)
    now = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
    view(db, first, "a")
    with db.session(write=False) as session:
        ranked = popularity.shared_ranking(session, "7d", now, SHARED)
    assert ranked.post_ids == (first,) and ranked.version == 1
    view(db, second, "a")
    view(db, second, "b")
    # Another process, within the period: the stored ranking, not a new one.
    with db.session(write=False) as session:
        again = popularity.shared_ranking(session, "7d", now + dt.timedelta(seconds=59), SHARED)
    assert again == ranked
    # Once it is old, the first to ask ranks again; everyone then reads that.
    later = now + dt.timedelta(seconds=60)
    with db.session(write=False) as session:
        fresh = popularity.shared_ranking(session, "7d", later, SHARED)
    assert fresh.post_ids == (second, first) and fresh.version == 2
    with db.session(write=False) as session:
        assert popularity.shared_ranking(session, "7d", later, SHARED) == fresh
        # Each window is its own.
        assert popularity.shared_ranking(session, "all", later, SHARED).version == 1


def test_of_two_processes_ranking_at_once_the_first_writer_wins(db: Database) -> None:
    (post_id,) = add_posts(db, 1)
    now = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
    with db.session(write=False) as session:
        popularity.shared_ranking(session, "7d", now, SHARED)
    later = now + dt.timedelta(minutes=5)
    # Both saw version 1; one stores version 2 first, then the other tries.
    with db.session() as writer:
        won = popularity._store_ranking(writer, "7d", 1, [post_id], later)
    with db.session() as writer:
        lost = popularity._store_ranking(writer, "7d", 1, [], later)
    assert won == lost == popularity.Ranking("7d", 2, (post_id,))
    # Two first rankings at once: the second finds the first's row.
    with db.session() as writer:
        assert popularity._store_ranking(writer, "all", None, [post_id], now).version == 1
    with db.session() as writer:
        assert popularity._store_ranking(writer, "all", None, [], now).post_ids == (post_id,)


def test_a_ranking_stored_by_a_clock_ahead_is_not_kept_until_then(db: Database) -> None:
    """A process whose clock ran a day ahead (or ours set back) stored a ranking:
    the others rank again, not show it for a day."""
    (post_id,) = add_posts(db, 1)
    now = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
    with db.session(write=False) as session:
        ahead = popularity.shared_ranking(session, "7d", now + dt.timedelta(days=1), SHARED)
    assert ahead.post_ids == ()
    view(db, post_id, "a")
    with db.session(write=False) as session:
        ranked = popularity.shared_ranking(session, "7d", now, SHARED)
    assert ranked.post_ids == (post_id,) and ranked.version == ahead.version + 1
    behind = now - dt.timedelta(seconds=30)
    with db.session(write=False) as session:  # a little skew either way keeps it
        assert popularity.shared_ranking(session, "7d", behind, SHARED) == ranked


def test_with_no_cache_period_every_request_ranks_afresh(db: Database) -> None:
    (post_id,) = add_posts(db, 1)
    now = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
    uncached = PopularSettings(cache_seconds=0, depth=10)
    with db.session(write=False) as session:
        assert popularity.shared_ranking(session, "7d", now, uncached).post_ids == ()
    view(db, post_id, "a")
    with db.session(write=False) as session:
        assert popularity.shared_ranking(session, "7d", now, uncached).post_ids == (post_id,)


def test_the_sidebar_and_popular_agree_whichever_process_answers(
    app_config: dict[str, Any],
) -> None:
    """Two app instances stand for two gunicorn workers, each with its own
    sidebar cache: they show the one stored ranking, beside and in /popular."""
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(hour=12))
    config = {**app_config, "POPULAR_CACHE_SECONDS": 60}
    apps = [create_app(config, env="testing", clock=clock) for _ in range(2)]
    db = apps[0].extensions["feedsvc.db"]
    try:
        first, second = (each.test_client() for each in apps)
        ids = add_posts(db, 3)
        for client in (first, second):  # each renders its sidebar: nothing read yet
            assert "Nothing read yet this week." in client.get("/").get_data(as_text=True)
        ranked_views(db, {ids[0]: 1, ids[1]: 3, ids[2]: 2})
        expected = ["Post 1", "Post 2", "Post 0"]
        for client in (second, first):  # within the period: still the stored ranking
            html = client.get("/popular").get_data(as_text=True)
            assert "Nothing read yet this week." in html
            assert "No views counted in this period yet." in html
        clock.advance(dt.timedelta(seconds=60))
        for client in (second, first, second):
            html = client.get("/popular").get_data(as_text=True)
            main = html.split('<main id="main"', 1)[1].split("</main>", 1)[0]
            aside = html.split('<section class="popular"', 1)[1].split("</section>", 1)[0]
            assert titles_in(main) == expected and titles_in(aside) == expected
            home = client.get("/").get_data(as_text=True).split('<aside class="sidebar"', 1)[1]
            assert titles_in(home) == expected
            feed = feedparser.parse(client.get("/feeds/popular.atom").data)
            assert [entry.title for entry in feed.entries] == expected
    finally:
        for each in apps:
            each.extensions["feedsvc.db"].dispose()


def titles_in(html: str) -> list[str]:
    """The post titles linked in a piece of a page, in order."""
    return re.findall(r'<a href="/posts/[^"]*">(Post \d+)</a>', html)
