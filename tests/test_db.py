"""Transactions mean what they say on both databases: a rolled-back savepoint
or transaction leaves nothing behind, writes below the ORM share the session's
transaction, and SQLite writers never fail on a lock another writer just released."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import feedsvc.sources
from feedsvc.db import Database
from feedsvc.models import Source, Tag
from tests.admin_helpers import bearer, make_admin, make_token

# How long a thread is given to get ahead of another before the test moves on:
# it orders the steps, nothing is measured.
HEAD_START = 1.0


def tags(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Tag.slug).order_by(Tag.slug)))


def sources(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Source)) or 0


def add_tag(session: Session, slug: str) -> None:
    session.add(Tag(slug=slug, name=slug))
    session.flush()


def test_a_rolled_back_savepoint_leaves_no_row(db: Database) -> None:
    with db.session() as session:
        savepoint = session.begin_nested()
        add_tag(session, "undone")
        savepoint.rollback()
        add_tag(session, "kept")
    assert tags(db) == ["kept"]


def test_a_rolled_back_transaction_undoes_its_released_savepoints(db: Database) -> None:
    session = db.sessions()
    try:
        with session.begin_nested():
            add_tag(session, "first")
        with session.begin_nested():
            add_tag(session, "second")
        session.rollback()
    finally:
        session.close()
    assert tags(db) == []


def test_writes_on_the_driver_connection_share_the_session_transaction(db: Database) -> None:
    # The bulk insert of new posts writes on the DBAPI connection under a writer's session.
    placeholder = "?" if db.is_sqlite else "%s"
    session = db.writer_sessions()
    try:
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(
            f"INSERT INTO tags (slug, name) VALUES ({placeholder}, {placeholder})", ("raw", "raw")
        )
        cursor.close()
        session.rollback()
    finally:
        session.close()
    assert tags(db) == []


def test_a_writer_that_reads_first_is_not_refused_by_a_writer_that_committed_meanwhile(
    db: Database,
) -> None:
    """A deferred SQLite transaction that has read cannot take the write lock once
    another writer has committed: it fails at once with "database is locked",
    without waiting. Writers therefore take the lock when they begin."""
    errors: list[BaseException] = []
    other_done = threading.Event()

    def other_writer() -> None:
        try:
            with db.session() as session:
                add_tag(session, "other")
        except BaseException as exc:
            errors.append(exc)
        finally:
            other_done.set()

    thread = threading.Thread(target=other_writer)
    try:
        with db.session() as session:
            session.execute(select(func.count()).select_from(Tag)).scalar()
            thread.start()
            other_done.wait(HEAD_START)  # with the lock held, the other writer waits for it
            add_tag(session, "mine")
    except BaseException as exc:
        errors.append(exc)
    thread.join(timeout=60)
    assert errors == []
    assert tags(db) == ["mine", "other"]


def test_a_reading_session_does_not_hold_writers_back(db: Database) -> None:
    reader = db.sessions()
    try:
        reader.execute(select(func.count()).select_from(Tag)).scalar()
        with db.session() as session:  # would wait out the busy timeout, then fail
            add_tag(session, "written")
        assert reader.execute(text("SELECT count(*) FROM tags")).scalar() in (0, 1)
    finally:
        reader.close()
    assert tags(db) == ["written"]


def test_a_request_that_writes_is_not_refused_by_a_writer_that_committed_meanwhile(
    client: FlaskClient,
    db: Database,
    api_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API reads (the token, the source) before it writes, as the admin does."""
    real_add = feedsvc.sources.add_source
    other = threading.Thread(target=lambda: add_tag_and_commit(db, "other"))

    def add_after_another_writer(*args: Any, **kwargs: Any) -> Source:
        other.start()
        other.join(HEAD_START)  # with the lock held, the other writer waits for it
        return real_add(*args, **kwargs)

    assert client.get("/api/v1/sources", headers=api_headers).status_code == 200  # token noted
    monkeypatch.setattr(feedsvc.sources, "add_source", add_after_another_writer)
    response = client.post("/api/v1/sources", headers=api_headers,
                           json={"url": "http://example.org/feed", "check": False})  # fmt: skip
    other.join(timeout=60)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert sources(db) == 1
    assert tags(db) == ["other"]


def add_tag_and_commit(db: Database, slug: str) -> None:
    with db.session() as session:
        add_tag(session, slug)


OPML = (
    b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
"""
    + b"".join(
        f'<outline type="rss" text="F{n}" xmlUrl="https://f{n}.example/feed"/>\n'.encode()
        for n in range(10)
    )
    + b"</body></opml>"
)


@pytest.fixture
def api_headers(db: Database) -> dict[str, str]:
    make_admin(db)
    return bearer(make_token(db))


def test_an_api_import_that_fails_midway_keeps_nothing(
    app: Flask,
    client: FlaskClient,
    db: Database,
    api_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The import answers with what it added, or — on a server error — added nothing."""
    real_add = feedsvc.sources.add_source
    calls = 0

    def add_then_crash(*args: Any, **kwargs: Any) -> Source:
        nonlocal calls
        calls += 1
        if calls == 7:
            raise RuntimeError("the server fell over")
        return real_add(*args, **kwargs)

    # A token used a moment ago is not written again, so the import's first
    # statement is its first savepoint.
    assert client.get("/api/v1/sources", headers=api_headers).status_code == 200
    monkeypatch.setattr(feedsvc.sources, "add_source", add_then_crash)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post(
        "/api/v1/opml", data=OPML, content_type="text/x-opml", headers=api_headers
    )
    assert response.status_code == 500
    assert calls == 7
    assert sources(db) == 0


def test_an_import_entry_that_fails_after_its_insert_leaves_no_row(
    client: FlaskClient,
    db: Database,
    api_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each entry is all or nothing: a source whose tags cannot be set is not kept."""
    opml = OPML.replace(b'text="F3" xmlUrl', b'text="F3" category="/Bad" xmlUrl')
    real_update = feedsvc.sources.update_source

    def refuse_tags(session: Session, source: Source, *args: Any, **kwargs: Any) -> Source:
        if kwargs.get("tags"):
            raise feedsvc.sources.SourceError("no tags today", "tags")
        return real_update(session, source, *args, **kwargs)

    monkeypatch.setattr(feedsvc.sources, "update_source", refuse_tags)
    response = client.post(
        "/api/v1/opml", data=opml, content_type="text/x-opml", headers=api_headers
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(response.get_json()["added"]) == 9
    assert response.get_json()["errors"] == ["line 6: no tags today"]
    with db.session() as session:
        urls = set(session.scalars(select(Source.feed_url)))
    assert "https://f3.example/feed" not in urls
    assert len(urls) == 9
