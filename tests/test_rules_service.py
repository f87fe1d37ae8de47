"""Filter rules over stored posts: saving hides, deleting brings back, the
preview says which, a large scope is a job; and entries ingested through the
worker are stored hidden by the rule that hid them. Admin-hidden and local
posts are never touched; hidden posts are in no page, feed or count."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from feedsvc import changes, popularity, rules
from feedsvc.db import Database
from feedsvc.jobs import JobRunner
from feedsvc.models import FetchAttempt, FilterRule, Job, Post, Source
from feedsvc.posts import create_local_post, set_visibility
from feedsvc.scheduler import Worker
from feedsvc.sources import add_source
from feedsvc.tags import popular_tags
from feedsvc.vocabulary import JobState
from tests.configured import settings_of
from tests.feedserver import RSS_TYPE, FeedServer, Reply, rss
from tests.ingesting import store_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def items(*titles: str, day: int = 20, category: str = "news") -> list[dict[str, str]]:
    return [{"guid": f"g-{title}", "title": title, "link": f"http://example.org/{title}",
             "description": f"<p>About {title}</p>", "category": category,
             "pubDate": f"Fri, {day} Nov 2026 10:00:00 GMT"} for title in titles]  # fmt: skip


def source_with(db: Database, url: str, *titles: str) -> int:
    with db.session() as session:
        source_id = add_source(session, url, NOW).id
    store_feed(db, source_id, rss(url, items(*titles)), NOW)
    return source_id


def visibility(db: Database) -> dict[str, tuple[bool, int | None]]:
    with db.session() as session:
        rows = session.execute(select(Post.title, Post.hidden, Post.hidden_by_rule))
        return {title: (hidden, rule) for title, hidden, rule in rows}


def hidden_titles(db: Database) -> set[str]:
    return {title for title, (hidden, _) in visibility(db).items() if hidden}


def test_a_rule_hides_stored_posts_and_deleting_it_brings_them_back(
    db: Database, client: FlaskClient
) -> None:
    one = source_with(db, "https://one.example/feed", "Sponsored deal", "Real news")
    two = source_with(db, "https://two.example/feed", "Sponsored too", "Other news")
    with db.session() as session:
        sponsored = session.scalar(select(Post.id).where(Post.title == "Sponsored deal"))
        assert sponsored is not None
        popularity.record_view(session, sponsored, "visitor", NOW.date())
        assert popularity.rank(session, "all", 5, NOW) == [sponsored]
        assert [count for tag, count in popular_tags(session, 5) if tag.slug == "news"] == [4]
        changes.take_dirty_scopes(session)
        saved = rules.add_rule(session, NOW, action="block", field="title",
                               pattern="(?i)^sponsored", source_id=one)  # fmt: skip
        assert saved.rule is not None and saved.job is None
        assert saved.applied is not None
        assert (saved.applied.hidden, saved.applied.shown) == (1, 0)
        rule_id = saved.rule.id
        announced = changes.peek_dirty_scopes(session)
    # Only the rule's source: the other source's sponsored post stays.
    assert visibility(db)["Sponsored deal"] == (True, rule_id)
    assert hidden_titles(db) == {"Sponsored deal"}
    assert changes.source_scope(one) in announced and changes.ALL_POSTS in announced
    assert changes.source_scope(two) not in announced
    with db.session() as session:
        assert popularity.rank(session, "all", 5, NOW) == []
        assert [count for tag, count in popular_tags(session, 5) if tag.slug == "news"] == [3]

    # Hidden: on no page, in no feed, no count.
    assert "Sponsored deal" not in client.get("/").get_data(as_text=True)
    assert "Sponsored deal" not in client.get("/feeds/posts.atom").get_data(as_text=True)
    assert "Sponsored deal" not in client.get(f"/feeds/sources/{one}.json").get_data(as_text=True)
    assert "Sponsored deal" not in client.get("/tags/news").get_data(as_text=True)
    with db.session() as session:
        post_id = session.scalar(select(Post.id).where(Post.title == "Sponsored deal"))
    assert client.get(f"/posts/{post_id}").status_code == 404

    with db.session() as session:
        deleted = rules.delete_rule(session, rule_id, NOW)
        assert deleted.applied is not None and deleted.applied.shown == 1
    assert hidden_titles(db) == set()
    assert "Sponsored deal" in client.get("/feeds/posts.atom").get_data(as_text=True)


def test_admin_hidden_and_local_posts_are_never_touched(db: Database) -> None:
    source_with(db, "https://one.example/feed", "Kept by admin", "Hidden by admin")
    with db.session() as session:
        create_local_post(session, title="Local Kept by admin", body_html="<p>x</p>", now=NOW,
                          summary_length=300)  # fmt: skip
        admin_hidden = session.scalars(select(Post).where(Post.title == "Hidden by admin")).one()
        set_visibility(session, admin_hidden, NOW, hidden=True)
    with db.session() as session:
        saved = rules.add_rule(session, NOW, action="keep", field="title", pattern="Kept")
        assert saved.rule is not None
        keep_id = saved.rule.id
    # The keep rule would hide the admin-hidden post anyway; it stays the admin's.
    assert visibility(db)["Hidden by admin"] == (True, None)
    with db.session() as session:
        rules.add_rule(session, NOW, action="block", field="title", pattern="Kept")
    assert visibility(db)["Local Kept by admin"] == (False, None)
    with db.session() as session:
        rules.delete_rule(session, keep_id, NOW)
        for rule in rules.list_rules(session):
            rules.delete_rule(session, rule.id, NOW)
    # Deleting every rule brings back what rules hid, never what the admin hid.
    assert visibility(db)["Hidden by admin"] == (True, None)
    assert hidden_titles(db) == {"Hidden by admin"}


def test_the_preview_says_what_would_be_hidden_or_brought_back_and_saves_nothing(
    db: Database,
) -> None:
    source_with(db, "https://one.example/feed", "Crypto news", "Crypto scam", "Cats")
    with db.session() as session:
        candidate = rules.check_rule(session, "block", "title", "Crypto")
        seen = rules.preview(session, add=candidate)
        assert sorted(post.title for post in seen.hide) == ["Crypto news", "Crypto scam"]
        assert (seen.hide_count, seen.bring_back_count, seen.scanned, seen.total) == (2, 0, 3, 3)
        assert rules.list_rules(session) == []
    assert hidden_titles(db) == set()
    with db.session() as session:
        saved = rules.add_rule(session, NOW, action="block", field="any", pattern="scam")
        assert saved.rule is not None
        back = rules.preview(session, remove=saved.rule.id)
        assert [post.title for post in back.bring_back] == ["Crypto scam"] and not back.hide


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": "hide", "field": "title", "pattern": "x"}, "action"),
        ({"action": "block", "field": "body", "pattern": "x"}, "field"),
        ({"action": "block", "field": "title", "pattern": "(?<=x)y"}, "pattern"),
        ({"action": "block", "field": "title", "pattern": ""}, "pattern"),
        ({"action": "block", "field": "title", "pattern": "x", "days": 3}, "days"),
        ({"action": "max_age", "days": 0}, "days"),
        ({"action": "max_age", "days": 5, "pattern": "x"}, "pattern"),
        ({"action": "block", "field": "title", "pattern": "x", "source_id": 999}, "source_id"),
    ],
)
def test_a_rule_that_cannot_run_is_refused_naming_the_input(
    db: Database, kwargs: dict, field: str
) -> None:
    with db.session() as session, pytest.raises(rules.RuleError) as refused:
        rules.add_rule(session, NOW, **kwargs)
    assert refused.value.field == field


def test_a_large_scope_is_applied_by_a_job_in_the_worker(db: Database) -> None:
    source_with(db, "https://one.example/feed", *(f"Post {n}" for n in range(12)))
    with db.session() as session:
        saved = rules.add_rule(session, NOW, action="block", field="title", pattern=r"[02468]$",
                               sync_limit=5)  # fmt: skip
        assert saved.job is not None and saved.applied is None and saved.job.total == 12
        job_id = saved.job.id
    assert hidden_titles(db) == set()  # nothing done in the request
    runner = JobRunner(db, "runner", 300, now=lambda: NOW, chunk=1)  # 5 posts a step
    assert runner.run_pending() == 1
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == JobState.DONE and job.done == 12
        assert (job.result or {})["hidden"] == 6 and (job.result or {})["shown"] == 0
    assert hidden_titles(db) == {f"Post {n}" for n in range(0, 12, 2)}


def test_an_admin_hiding_a_rule_hidden_post_makes_it_theirs(db: Database) -> None:
    source_with(db, "https://one.example/feed", "Noise")
    with db.session() as session:
        saved = rules.add_rule(session, NOW, action="block", field="title", pattern="Noise")
        assert saved.rule is not None
        post = session.scalars(select(Post)).one()
        set_visibility(session, post, NOW, hidden=True)
        rules.delete_rule(session, saved.rule.id, NOW)
    assert visibility(db)["Noise"] == (True, None)


def wait_for_fetches(db: Database, count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with db.session() as session:
            if session.scalar(select(func.count()).select_from(FetchAttempt)) == count:
                return
        time.sleep(0.05)


def test_ingest_through_the_worker_stores_hidden_entries_with_their_rule(
    app: Flask, db: Database, feed_server: FeedServer
) -> None:
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)
    stamp = "%a, %d %b %Y %H:%M:%S GMT"
    entries = [
        {"guid": "ad", "title": "Advert: buy", "pubDate": (now - day).strftime(stamp)},
        {"guid": "ok", "title": "Kept post", "pubDate": (now - day).strftime(stamp)},
        {"guid": "off", "title": "Off topic", "pubDate": (now - day).strftime(stamp)},
        {"guid": "old", "title": "Kept but old", "pubDate": (now - 40 * day).strftime(stamp)},
        {"guid": "soon", "title": "Kept from the future",
         "pubDate": (now + 5 * day).strftime(stamp)},
    ]  # fmt: skip
    feed_server.routes["/a.xml"] = Reply(200, rss("A", entries), RSS_TYPE)
    with db.session() as session:
        source_id = add_source(session, feed_server.url("/a.xml"), now - day).id
        block = rules.add_rule(session, now, action="block", field="title", pattern="^Advert")
        keep = rules.add_rule(session, now, action="keep", field="title", pattern="Kept",
                              source_id=source_id)  # fmt: skip
        old = rules.add_rule(session, now, action="max_age", days=30)
        ids = [saved.rule.id for saved in (block, keep, old) if saved.rule]
    worker = Worker(db, settings_of(app), name="rules-worker")
    try:
        assert worker.dispatch() == 1
        wait_for_fetches(db, 1)
    finally:
        worker.shutdown(wait=True)
    assert visibility(db) == {
        "Advert: buy": (True, ids[0]),
        "Kept post": (False, None),
        "Off topic": (True, ids[1]),
        "Kept but old": (True, ids[2]),
        "Kept from the future": (False, None),
    }
    with db.session() as session:
        future = session.scalars(select(Post).where(Post.title == "Kept from the future")).one()
        assert future.published_at <= dt.datetime.now(dt.UTC)  # dated when first seen
        source = session.get(Source, source_id)
        assert source is not None and "dated in the future" in (source.last_error or "")

    # Entries are not filtered again on every fetch: a rule deleted brings its
    # posts back (applied to the stored posts at once) and the next fetch leaves
    # them so; a rule saved without being applied (straight into the table)
    # hides the new entry of the next fetch, not the stored unchanged ones.
    with db.session() as session:
        rules.delete_rule(session, ids[1], now)
        session.add(FilterRule(action="block", field="title", pattern="post$", created_at=now))
        session.execute(update(Source).values(next_check_at=now - day, etag=None,
                                              last_modified=None))  # fmt: skip
    assert visibility(db)["Off topic"] == (False, None)
    newer = {"guid": "new", "title": "Kept new post", "pubDate": now.strftime(stamp)}
    feed_server.routes["/a.xml"] = Reply(200, rss("A", [*entries, newer]), RSS_TYPE)
    worker = Worker(db, settings_of(app), name="rules-worker-2")
    try:
        assert worker.dispatch() == 1
        wait_for_fetches(db, 2)
    finally:
        worker.shutdown(wait=True)
    seen = visibility(db)
    assert seen["Off topic"] == (False, None) and seen["Kept post"] == (False, None)
    assert seen["Advert: buy"] == (True, ids[0])
    assert seen["Kept new post"][0] is True


def test_a_story_a_rule_hides_is_nobodys_original(db: Database) -> None:
    """Another source's copy of a story a rule hid stays visible, whether it
    comes in the same group of refreshes or later."""
    from feedsvc.fetched import FetchResult
    from feedsvc.ingest.load import load_target
    from feedsvc.ingest.pipeline import Fetched, record
    from feedsvc.ingest.settings import IngestSettings
    from feedsvc.ingest.types import PrepareSettings
    from feedsvc.ingest.work import work

    story = {"title": "Council expands the park", "link": "https://news.example/park",
             "description": "<p>The council voted to expand the riverside park.</p>"}  # fmt: skip
    with db.session() as session:
        ids = [add_source(session, f"https://{n}.example/feed", NOW).id for n in ("a", "b", "c")]
        rules.add_rule(session, NOW, action="block", field="link", pattern="park",
                       source_id=ids[0])  # fmt: skip
    fetched = []
    with db.session(write=False) as session:
        for source_id in ids[:2]:
            target = load_target(session, source_id)
            body = rss("feed", [{**story, "guid": f"s{source_id}"}])
            result = FetchResult(target.feed_url, target.feed_url, 200, {}, body)
            fetched.append(Fetched(target, result, work(result, target, PrepareSettings(),
                                                       frozenset())))  # fmt: skip
    record(db, fetched, NOW, IngestSettings())
    store_feed(db, ids[2], rss("feed", [{**story, "guid": "late"}]), NOW + dt.timedelta(hours=1))
    with db.session() as session:
        rows = session.execute(select(Post.source_id, Post.hidden, Post.duplicate_of_id)
                               .order_by(Post.source_id))  # fmt: skip
        seen = [(source_id, hidden, duplicate is not None) for source_id, hidden, duplicate in rows]
    # The first source's copy is hidden by its rule; the second is the story's
    # original and visible; the third, later, is its duplicate.
    assert seen == [(ids[0], True, False), (ids[1], False, False), (ids[2], True, True)]
