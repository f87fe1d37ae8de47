"""Retention: old posts go, by age and by count, globally and per source; local,
popular and duplicate-bearing posts stay; deletions are announced."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from feedsvc import changes, popularity, retention
from feedsvc.db import Database
from feedsvc.models import Counter, Post, Source
from feedsvc.posts import create_local_post
from feedsvc.sources import add_source
from tests.configured import reconfigure, settings_of
from tests.feedserver import rss
from tests.ingesting import store_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def day(n: int) -> str:
    """An RFC 822 date n days before NOW."""
    return (NOW - dt.timedelta(days=n)).strftime("%a, %d %b %Y %H:%M:%S +0000")


def add_feed(db: Database, name: str, ages: list[int]) -> int:
    with db.session() as session:
        source_id = add_source(session, f"http://{name}.example/feed", NOW).id
    items = [{"guid": f"{name}-{age}", "title": f"{name} {age} days old",
              "link": f"http://{name}.example/{age}", "description": f"Body {name} {age}",
              "pubDate": day(age)} for age in ages]  # fmt: skip
    store_feed(db, source_id, rss(name, items), NOW)
    return source_id


def titles(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(Post.title)))


def test_old_posts_go_but_local_and_popular_ones_stay(db: Database) -> None:
    add_feed(db, "a", [1, 10, 40, 90])
    with db.session() as session:
        local = create_local_post(session, title="Our own", body_html="<p>x</p>",
                                  now=NOW - dt.timedelta(days=400), summary_length=100)  # fmt: skip
        local.published_at = NOW - dt.timedelta(days=400)
        popular = session.scalars(select(Post).where(Post.title == "a 90 days old")).one().id
    with db.session() as session:
        popularity.record_view(session, popular, "reader", NOW.date())
    settings = retention.RetentionSettings(days=30)
    with db.session(write=False) as session:
        doomed = retention.doomed_posts(session, settings, NOW)
    assert [post.title for post in doomed] == ["a 40 days old"]
    assert retention.prune(db, settings, NOW) == 1
    assert titles(db) == {"a 1 days old", "a 10 days old", "a 90 days old", "Our own"}


def test_per_source_overrides_win_over_the_global_limits(db: Database) -> None:
    keep_all = add_feed(db, "keep", [1, 50, 100])
    capped = add_feed(db, "capped", [1, 2, 3, 4])
    add_feed(db, "global", [1, 2, 3, 50])
    with db.session() as session:
        session.get(Source, keep_all).retain_days = 0  # type: ignore[union-attr]
        session.get(Source, keep_all).retain_per_source = 0  # type: ignore[union-attr]
        session.get(Source, capped).retain_per_source = 2  # type: ignore[union-attr]
    removed = retention.prune(db, retention.RetentionSettings(days=30, per_source=3), NOW)
    assert removed == 3
    assert titles(db) == {
        "keep 1 days old", "keep 50 days old", "keep 100 days old",
        "capped 1 days old", "capped 2 days old",
        "global 1 days old", "global 2 days old", "global 3 days old",
    }  # fmt: skip


def test_no_limits_keep_everything(db: Database) -> None:
    add_feed(db, "a", [1, 400, 4000])
    assert retention.prune(db, retention.RetentionSettings(), NOW) == 0
    assert len(titles(db)) == 3


def test_deletions_are_announced(db: Database) -> None:
    source_id = add_feed(db, "a", [1, 40])
    with db.session() as session:
        changes.take_dirty_scopes(session)
        before = session.get(Counter, changes.CONTENT_VERSION).value  # type: ignore[union-attr]
    retention.prune(db, retention.RetentionSettings(days=30), NOW)
    with db.session() as session:
        assert session.get(Counter, changes.CONTENT_VERSION).value > before  # type: ignore[union-attr]
        assert changes.source_scope(source_id) in changes.take_dirty_scopes(session)


def test_the_daily_run_is_claimed_once_a_day(db: Database) -> None:
    with db.session() as session:
        assert retention.claim_daily_run(session, NOW.date())
        assert not retention.claim_daily_run(session, NOW.date())
        assert retention.claim_daily_run(session, NOW.date() + dt.timedelta(days=1))


def test_prune_dry_run_says_what_would_go(app: Flask, db: Database, runner: FlaskCliRunner) -> None:
    add_feed(db, "a", [1, 40])
    reconfigure(app, RETAIN_DAYS=30)
    # Dated relative to now: the command uses the clock.
    with db.session() as session:
        old = session.scalars(select(Post).where(Post.title == "a 40 days old")).one()
        old.published_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
        recent = session.scalars(select(Post).where(Post.title == "a 1 days old")).one()
        recent.published_at = dt.datetime.now(dt.UTC)
    result = runner.invoke(args=["prune", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "a 40 days old" in result.output and "1 posts would be deleted" in result.output
    assert len(titles(db)) == 2
    result = runner.invoke(args=["prune"])
    assert result.exit_code == 0 and "1 posts deleted" in result.output
    assert titles(db) == {"a 1 days old"}


def test_sources_set_changes_curation_settings(db: Database, runner: FlaskCliRunner) -> None:
    source_id = add_feed(db, "a", [1])
    result = runner.invoke(args=["sources", "set", str(source_id), "--strip-selector", ".share",
                                 "--strip-selector", "aside", "--retain-days", "10",
                                 "--retain-per-source", "default"])  # fmt: skip
    assert result.exit_code == 0, result.output
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        assert (source.strip_selectors, source.retain_days, source.retain_per_source) == (
            [".share", "aside"], 10, None)  # fmt: skip
    bad = runner.invoke(args=["sources", "set", str(source_id), "--strip-selector", "div["])
    assert bad.exit_code != 0 and "is not a CSS selector" in bad.output
    bad = runner.invoke(args=["sources", "set", str(source_id), "--retain-days", "-1"])
    assert bad.exit_code != 0 and "0 or more" in bad.output


def test_a_pruned_entry_still_in_its_feed_is_not_stored_again(db: Database) -> None:
    source_id = add_feed(db, "a", [1, 40])
    assert retention.prune(db, retention.RetentionSettings(days=30), NOW) == 1
    items = [{"guid": f"a-{age}", "title": f"a {age} days old",
              "link": f"http://a.example/{age}", "description": f"Body a {age}",
              "pubDate": day(age)} for age in (0, 1, 40)]  # fmt: skip
    report = store_feed(db, source_id, rss("a", items), NOW + dt.timedelta(hours=1))
    assert report.new == 1
    assert titles(db) == {"a 0 days old", "a 1 days old"}
    with db.session() as session:
        assert retention.forget_tombstones(session, NOW + dt.timedelta(days=366)) == 1


def test_housekeeping_prunes_once_a_day(app: Flask, db: Database) -> None:
    from feedsvc.scheduler import Worker

    source_id = add_feed(db, "a", [1])
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        # Dated from the clock: housekeeping uses it.
        session.execute(Post.__table__.update().values(published_at=now - dt.timedelta(days=40)))  # type: ignore[attr-defined]
    reconfigure(app, RETAIN_DAYS=30)
    worker = Worker(db, settings_of(app), name="housekeeper")
    try:
        worker.housekeeping()
        assert titles(db) == set()
        # Later the same day: nothing is pruned, the day was done.
        store_feed(db, source_id, rss("a", [{"guid": "new", "title": "New", "link": "http://a.example/n",
                                             "pubDate": day(400)}]), now)  # fmt: skip
        worker.housekeeping()
        assert titles(db) == {"New"}
    finally:
        worker.shutdown()


def test_posts_with_comments_stay(db: Database) -> None:
    from feedsvc.models import Comment

    add_feed(db, "c", [40, 50])
    with db.session() as session:
        talked = session.scalars(select(Post).where(Post.title == "c 40 days old")).one()
        session.add(Comment(post_id=talked.id, author_name="Ada", author_key="k", body="Hi",
                            created_at=NOW))  # fmt: skip
    assert retention.prune(db, retention.RetentionSettings(days=30), NOW) == 1
    assert titles(db) == {"c 40 days old"}
