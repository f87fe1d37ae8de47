"""Full-text search (feedsvc.search over feedsvc.search_index), on SQLite and, with
FEEDSVC_TEST_DATABASE_URL, PostgreSQL: ranking, recency among equals, snippets
marked and escaped, hidden posts never found, the index in step with every
write, and no typed text an error."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from feedsvc import search, search_index
from feedsvc.db import Database
from feedsvc.models import Post
from feedsvc.posts import (
    create_local_post,
    delete_post,
    publish_draft,
    set_visibility,
    update_local_post,
)
from feedsvc.search_query import marked, parse
from feedsvc.sources import add_source
from tests.feedserver import rss
from tests.ingesting import store_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def _post(db: Database, title: str, body: str, hours_ago: int = 0) -> int:
    with db.session() as session:
        when = NOW - dt.timedelta(hours=hours_ago)
        post = create_local_post(session, title=title, body_html=body, now=when, summary_length=200)
        return post.id


def _search(db: Database, typed: str, limit: int = 10, offset: int = 0) -> search.Results:
    with db.session() as session:
        return search.search(session, typed, "en", limit, offset)


def _ids(results: search.Results) -> list[int]:
    return [hit.post.id for hit in results.hits]


def test_a_title_match_ranks_above_a_body_match(db: Database) -> None:
    body_only = _post(db, "Weekly notes", "<p>We talked about gardening and compost.</p>", 1)
    in_title = _post(db, "Gardening for beginners", "<p>Start small.</p>", 5)
    _post(db, "Unrelated", "<p>Nothing here.</p>")
    assert _ids(_search(db, "gardening")) == [in_title, body_only]


def test_newer_first_among_equals(db: Database) -> None:
    old = _post(db, "Kettle review", "<p>A kettle.</p>", 10)
    new = _post(db, "Kettle review", "<p>A kettle.</p>", 1)
    assert _ids(_search(db, "kettle")) == [new, old]


def test_stemming_words_all_or_phrase_or_left_out(db: Database) -> None:
    cats = _post(db, "Cats", "<p>The cats were running in the garden.</p>")
    dogs = _post(db, "Dogs", "<p>The dogs ran in the park.</p>")
    assert _ids(_search(db, "running")) == [cats]  # run/running/runs stem alike
    assert _ids(_search(db, "run")) == [cats]
    assert set(_ids(_search(db, "cats or dogs"))) == {cats, dogs}
    assert _ids(_search(db, "dogs park")) == [dogs]
    assert _ids(_search(db, "dogs garden")) == []
    assert _ids(_search(db, '"dogs ran"')) == [dogs]
    assert _ids(_search(db, '"ran dogs"')) == []
    assert _ids(_search(db, "the -cats")) == [dogs]
    assert _ids(_search(db, "-cats")) == []  # nothing to look for


def test_html_is_not_searched_as_words(db: Database) -> None:
    _post(db, "Link", '<p>See <a href="https://example.org/anchor-page">this</a>.</p>')
    assert _ids(_search(db, "href")) == []
    assert _ids(_search(db, "anchor")) == []


def test_paging(db: Database) -> None:
    ids = [_post(db, f"Lamp {n}", "<p>A lamp.</p>", n) for n in range(5)]
    first = _search(db, "lamp", limit=2)
    assert _ids(first) == ids[:2] and first.has_more
    last = _search(db, "lamp", limit=2, offset=4)
    assert _ids(last) == ids[4:] and not last.has_more


def test_snippets_mark_the_matches_and_escape_the_rest(db: Database) -> None:
    body = "<p>Words before. Growing &lt;script&gt;alert(1)&lt;/script&gt; tomatoes is easy.</p>"
    _post(db, "Tomatoes <b>and</b> you", body)
    (hit,) = _search(db, "tomatoes").hits
    assert "<mark>Tomatoes</mark>" in hit.title
    assert "&lt;b&gt;" in hit.title  # the title is text; its angle brackets are shown, not run
    assert "<mark>tomatoes</mark>" in hit.snippet
    # Shown escaped (SQLite), or dropped as markup by ts_headline (PostgreSQL): never run.
    assert "alert(1)" in hit.snippet and "<script>" not in hit.snippet
    assert str(hit.snippet).count("<mark>") == str(hit.snippet).count("</mark>")


def test_marked_is_balanced_whatever_marks_the_text_holds() -> None:
    assert marked("\ue001a\ue000b\ue000c") == "a<mark>bc</mark>"
    assert marked("<i>\ue000x\ue001") == "&lt;i&gt;<mark>x</mark>"


def test_hidden_posts_never_match(db: Database) -> None:
    shown = _post(db, "Otter facts", "<p>Otters.</p>")
    hidden = _post(db, "Otter secrets", "<p>Otters.</p>")
    with db.session() as session:
        set_visibility(session, session.get(Post, hidden), NOW, hidden=True)
    assert _ids(_search(db, "otter")) == [shown]
    with db.session() as session:
        condition = search.matching(session, "otter", "en")
        assert session.scalars(select(Post.id).where(condition)).all() != []
        set_visibility(session, session.get(Post, hidden), NOW, hidden=False)
    assert set(_ids(_search(db, "otter"))) == {shown, hidden}


def test_the_index_follows_edits_and_deletes(db: Database) -> None:
    post_id = _post(db, "Quince jam", "<p>Boil quinces.</p>")
    assert _ids(_search(db, "quince")) == [post_id]
    with db.session() as session:
        update_local_post(session, session.get(Post, post_id), now=NOW, summary_length=200,
                          title="Plum jam", body_html="<p>Boil plums.</p>")  # fmt: skip
    assert _ids(_search(db, "quince")) == []
    assert _ids(_search(db, "plum")) == [post_id]
    with db.session() as session:
        delete_post(session, session.get(Post, post_id), NOW)
    assert _ids(_search(db, "plum")) == []


def test_ingested_posts_are_indexed_by_the_bulk_insert(db: Database) -> None:
    items = [{"guid": f"urn:x:{n}", "title": f"Harbour report {n}", "link": f"http://up.example/{n}",
              "description": "&lt;p&gt;Ferries and &lt;em&gt;lighthouses&lt;/em&gt;.&lt;/p&gt;",
              "pubDate": f"Mon, 23 Nov 2026 0{n}:00:00 GMT"} for n in range(3)]  # fmt: skip
    with db.session() as session:
        source = add_source(session, "http://up.example/feed.xml", NOW)
    store_feed(db, source.id, rss("Up", items), NOW)
    found = _search(db, "lighthouse")
    assert len(found.hits) == 3
    assert [hit.post.title for hit in found.hits] == [f"Harbour report {n}" for n in (2, 1, 0)]


def test_index_is_rebuilt_for_another_language(db: Database) -> None:
    post_id = _post(db, "Häuser", "<p>Die Häuser stehen am Fluss.</p>")
    with db.engine.begin() as connection:
        assert not search_index.ensure(connection, "en-GB")
        assert search_index.ensure(connection, "de")
        assert not search_index.ensure(connection, "de")
    with db.session() as session:
        assert _ids(search.search(session, "fluss", "de", 10)) == [post_id]
    with db.engine.begin() as connection:
        assert search_index.ensure(connection, "en")


def test_triggers_lost_to_a_table_rebuild_come_back(db: Database) -> None:
    _sqlite_only(db)
    post_id = _post(db, "Walnut", "<p>Nuts.</p>")
    with db.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER posts_fts_insert"))
        assert search_index.ensure(connection, "en")
        assert not search_index.ensure(connection, "en")
        # A trigger of an older version is rewritten too.
        connection.execute(text("DROP TRIGGER posts_fts_delete"))
        connection.execute(text("CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN"
                                " SELECT 1; END"))  # fmt: skip
        assert search_index.ensure(connection, "en")
        # So is a queue lost.
        connection.execute(text(f"DROP TABLE {search_index.PENDING_TABLE}"))
        assert search_index.ensure(connection, "en")
    assert _ids(_search(db, "walnut")) == [post_id]


def test_parse_quotes_every_word_for_fts5() -> None:
    assert parse('a "b c" or d -e').fts5 == '(("a") AND ("b c" OR "d")) NOT ("e")'
    assert parse("NEAR(a b) * ^x AND OR").fts5 == '("NEAR a") AND ("b") AND ("x") AND ("AND")'
    assert parse('\x00 ¿? -- "').empty
    assert len(parse("word " * 3000).text) <= 256


HOSTILE = st.one_of(
    st.text(max_size=200),
    st.text(alphabet='"-*:^()ORANDNOT \x00\\\'%_', max_size=60),
    st.sampled_from(["\x00", "a\x00b", '"', '"""', "-", "--a", "OR", "or or", "a OR", "NOT a",
                     "NEAR(a b, 2)", "title:a", "^a", "a*", "'; DROP TABLE posts; --",
                     "\ue000x\ue001", "x" * 10_000, "word " * 2000, "(", ")", "!", "&|!<->"]),
)  # fmt: skip


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(typed=HOSTILE)
@example(typed="cats")
def test_no_typed_text_is_an_error(db: Database, typed: str) -> None:
    if not getattr(db, "_seeded", False):
        _post(db, 'Cats and "quotes" OR NOT', "<p>cats AND dogs * ^ NEAR</p>")
        db._seeded = True  # type: ignore[attr-defined]
    results = _search(db, typed)
    for hit in results.hits:
        assert str(hit.snippet).count("<mark>") == str(hit.snippet).count("</mark>")
    with db.session() as session:
        session.scalars(select(Post.id).where(search.matching(session, typed, "en"))).all()


def test_only_the_newest_candidates_are_ranked(db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A word in very many posts ranks its newest CANDIDATES matches only."""
    old_title_match = _post(db, "Pelican", "<p>Birds.</p>", 10)
    newer = [_post(db, "Notes", "<p>A pelican.</p>", n) for n in (3, 2, 1)]
    monkeypatch.setattr(search, "CANDIDATES", 3)
    assert _ids(_search(db, "pelican")) == newer[::-1]
    monkeypatch.setattr(search, "CANDIDATES", 4)
    assert _ids(_search(db, "pelican"))[0] == old_title_match


def test_ties_on_a_page_edge_go_by_date_not_by_id(db: Database) -> None:
    """Equal scores rank newest published first, whichever was stored first,
    on every page (SQLite reads the dates of the page's ties only)."""
    older_stored_newer = _post(db, "Teapot", "<p>A teapot.</p>", 1)
    newer_stored_older = _post(db, "Teapot", "<p>A teapot.</p>", 5)
    newest = _post(db, "Teapot", "<p>A teapot.</p>", 0)
    assert _ids(_search(db, "teapot", limit=1)) == [newest]
    second = _search(db, "teapot", limit=1, offset=1)
    assert _ids(second) == [older_stored_newer] and second.has_more
    last = _search(db, "teapot", limit=1, offset=2)
    assert _ids(last) == [newer_stored_older] and not last.has_more
    assert _ids(_search(db, "teapot", limit=2, offset=3)) == []


def test_the_newest_candidates_are_found_band_by_band(db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL in bands of ids, newest first: narrow bands, sparse
    matches, hidden posts and the rest read whole find what one pass finds."""
    old_title_match = _post(db, "Heron", "<p>Birds.</p>", 30)
    herons = {}
    for n in range(20, 0, -1):
        post_id = _post(db, f"Notes {n}", "<p>A heron.</p>" if n % 3 == 0 else "<p>Ducks.</p>", n)
        herons.update({n: post_id} if n % 3 == 0 else {})
    with db.session() as session:
        set_visibility(session, session.get(Post, herons.pop(9)), NOW, hidden=True)
    monkeypatch.setattr(search, "CANDIDATES", 3)
    monkeypatch.setattr(search, "FIRST_BAND", 3)
    for density in (0.0, 1.0):  # then: the rest read whole after the first band
        monkeypatch.setattr(search, "MIN_BAND_DENSITY", density)
        assert _ids(_search(db, "heron")) == [herons[3], herons[6], herons[12]]
    monkeypatch.setattr(search, "CANDIDATES", 6)
    found = _ids(_search(db, "heron"))
    assert found[0] == old_title_match and set(found) == {old_title_match, *herons.values()}


def _waiting(db: Database) -> list[str]:
    """Titles of the posts waiting for the search index, oldest first."""
    where = (f"{search_index.VECTOR_COLUMN} IS NULL" if not db.is_sqlite
             else f"id IN (SELECT id FROM {search_index.PENDING_TABLE})")  # fmt: skip
    with db.session() as session:
        return list(session.scalars(text(f"SELECT title FROM posts WHERE {where} ORDER BY id")))


def _indexed(db: Database) -> set[int]:
    """The ids of the posts in the search index (SQLite: visible ones only)."""
    query = f"SELECT id FROM posts WHERE {search_index.VECTOR_COLUMN} IS NOT NULL"
    if db.is_sqlite:
        query = f"SELECT rowid FROM {search_index.FTS_TABLE}"
    with db.session() as session:
        return set(session.scalars(text(query)))


def _catch_up(db: Database, limit: int = search_index.CATCH_UP_BATCH) -> int:
    with db.session() as session:
        return search_index.catch_up(session.connection(), limit)


def _sqlite_only(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("about SQLite's FTS5 index and its queue")


def _indexed_then_waiting(db: Database, title: str, body: str) -> tuple[int, int]:
    """A post indexed, then one with the same words still waiting (titled `title` + " too")."""
    indexed = _post(db, title, body)
    _catch_up(db)
    return indexed, _post(db, f"{title} too", body)


def test_posts_are_indexed_after_they_are_stored_and_a_search_finds_them_at_once(
    db: Database,
) -> None:
    """The index is the work after the post is stored: posts wait for it, a
    change of text sends a post back to wait, and a search first indexes
    whatever waits; the worker's job indexes the rest."""
    first = _post(db, "Lighthouse keepers", "<p>Ferries at dawn.</p>")
    second = _post(db, "Harbour news", "<p>Cranes.</p>")
    assert _waiting(db) == ["Lighthouse keepers", "Harbour news"]
    assert _indexed(db) == set()
    assert _ids(_search(db, "ferries")) == [first]
    assert _waiting(db) == []
    assert _indexed(db) == {first, second}
    with db.session() as session:
        update_local_post(session, session.get_one(Post, second), now=NOW, summary_length=200,
                          body_html="<p>Ferries.</p>")  # fmt: skip
    assert _waiting(db) == ["Harbour news"]
    assert set(_ids(_search(db, "ferries"))) == {first, second}
    # Hiding a post sends nothing to wait.
    with db.session() as session:
        set_visibility(session, session.get_one(Post, first), NOW, hidden=True)
    assert _waiting(db) == []
    assert _ids(_search(db, "ferries")) == [second]


def test_catch_up_indexes_so_many_of_the_oldest_waiting(db: Database) -> None:
    posts = [_post(db, f"Buoy {n}", "<p>Afloat.</p>") for n in range(3)]
    assert _catch_up(db, 2) == 2
    assert _indexed(db) == set(posts[:2])
    assert _waiting(db) == ["Buoy 2"]
    assert _catch_up(db) == 1
    assert _indexed(db) == set(posts)
    assert _catch_up(db) == 0


def test_the_worker_indexes_what_waits_when_nothing_is_in_flight(db: Database, app: Flask) -> None:
    from feedsvc.scheduler import SEARCH_PUT_OFF_MAX, Worker
    from tests.configured import settings_of

    _post(db, "Lighthouse keepers", "<p>Ferries at dawn.</p>")
    worker = Worker(db, settings_of(app), name="test-worker")
    try:
        assert worker.index_search() == 1
        assert _waiting(db) == []
        _post(db, "Harbour news", "<p>Cranes.</p>")

        class Busy:
            in_flight = 3

        idle, worker.refresher = worker.refresher, Busy()  # type: ignore[assignment]
        # Ingesting: put off, but only so many times in a row.
        put_off = [worker.index_search() for _ in range(SEARCH_PUT_OFF_MAX)]
        assert put_off == [0] * SEARCH_PUT_OFF_MAX
        assert worker.index_search() == 1
        assert _waiting(db) == []
        worker.refresher = idle
    finally:
        worker.refresher.close()


def test_posts_stored_while_the_index_catches_up_all_get_indexed(db: Database) -> None:
    """Writers and catch_up at once: every post written or changed ends up
    indexed, none taken off the queue unindexed (SQLite's writers take turns;
    PostgreSQL's catch_up skips the rows a writer holds)."""
    written: list[int] = []
    failures: list[BaseException] = []

    def write() -> None:
        try:
            for n in range(60):
                written.append(_post(db, f"Tide table {n}", "<p>Low water.</p>"))
                if n % 7 == 3:
                    with db.session() as session:
                        update_local_post(session, session.get_one(Post, written[n // 2]),
                                          now=NOW, summary_length=200,
                                          body_html=f"<p>High water {n}.</p>")  # fmt: skip
        except BaseException as exc:
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    while writer.is_alive():
        _catch_up(db, 5)
    writer.join()
    assert not failures
    while _catch_up(db, 5):
        pass
    assert _waiting(db) == []
    assert _indexed(db) == set(written)
    assert len(_search(db, "water", limit=100).hits) == 60


# --- SQLite: the queue, and the triggers that fill it --------------------------


def _queued(db: Database) -> set[int]:
    with db.session() as session:
        return set(session.scalars(text(f"SELECT id FROM {search_index.PENDING_TABLE}")))


def _fts_matches(db: Database, word: str) -> set[int]:
    """Matches in the FTS5 table itself, with nothing indexed first."""
    with db.session() as session:
        return set(session.scalars(
            text(f"SELECT rowid FROM {search_index.FTS_TABLE} WHERE {search_index.FTS_TABLE}"
                 " MATCH :word"), {"word": word}
        ))  # fmt: skip


def test_sqlite_an_edit_takes_the_old_words_out_at_once(db: Database) -> None:
    _sqlite_only(db)
    post_id = _post(db, "Quince jam", "<p>Boil quinces.</p>")
    _catch_up(db)
    assert _fts_matches(db, "quince") == {post_id}
    with db.session() as session:
        update_local_post(session, session.get_one(Post, post_id), now=NOW, summary_length=200,
                          title="Plum jam", body_html="<p>Boil plums.</p>")  # fmt: skip
    # Out before the post is indexed again: a search never finds what it no longer says.
    assert _fts_matches(db, "quince") == set() and _queued(db) == {post_id}
    assert _ids(_search(db, "plum")) == [post_id]
    assert _ids(_search(db, "quince")) == []


def test_sqlite_hidden_posts_never_wait_nor_go_in(db: Database) -> None:
    _sqlite_only(db)
    hidden_while_waiting = _post(db, "Otter secrets", "<p>Otters.</p>")
    shown = _post(db, "Otter facts", "<p>Otters.</p>")
    with db.session() as session:
        set_visibility(session, session.get_one(Post, hidden_while_waiting), NOW, hidden=True)
        draft = create_local_post(session, title="Otter drafts", body_html="<p>Otters.</p>",
                                  now=NOW, summary_length=200, draft=True)  # fmt: skip
    assert _queued(db) == {hidden_while_waiting, shown}  # a draft is stored hidden: not queued
    assert _catch_up(db) == 2  # the post hidden while it waited leaves the queue, unindexed
    assert _indexed(db) == {shown} and _queued(db) == set()
    with db.session() as session:
        set_visibility(session, session.get_one(Post, shown), NOW, hidden=True)
    assert _fts_matches(db, "otter") == set()  # out at once
    with db.session() as session:
        publish_draft(session, session.get_one(Post, draft.id), NOW)
    assert _queued(db) == {draft.id}
    assert _ids(_search(db, "otter")) == [draft.id]


def test_sqlite_a_deleted_post_leaves_no_row_in_the_index_nor_the_queue(db: Database) -> None:
    _sqlite_only(db)
    indexed, waiting = _indexed_then_waiting(db, "Walnut", "<p>Nuts.</p>")
    assert _indexed(db) == {indexed} and _queued(db) == {waiting}
    with db.session() as session:
        delete_post(session, session.get_one(Post, indexed), NOW)
        delete_post(session, session.get_one(Post, waiting), NOW)
    assert _indexed(db) == set() and _queued(db) == set()
    # Its id stored again (SQLite may reuse the highest): a new post, waiting.
    again = _post(db, "Chestnut", "<p>Roasted.</p>")
    assert _queued(db) == {again}
    assert _ids(_search(db, "walnut")) == [] and _ids(_search(db, "chestnut")) == [again]


def test_sqlite_writing_a_post_needs_no_function_of_ours(db: Database) -> None:
    """Its triggers only queue the post: a connection without feedsvc_text (a
    migration's, a script's) stores and edits posts, and a search indexes them."""
    _sqlite_only(db)
    plain = create_engine(db.url)
    try:
        with Session(plain) as session, session.begin():
            post_id = create_local_post(session, title="Lantern", body_html="<p>Oil lamps.</p>",
                                        now=NOW, summary_length=200).id  # fmt: skip
        with Session(plain) as session, session.begin():
            update_local_post(session, session.get_one(Post, post_id), now=NOW,
                              summary_length=200, body_html="<p>Oil lanterns.</p>")  # fmt: skip
        with plain.connect() as connection, pytest.raises(OperationalError, match="feedsvc_text"):
            connection.exec_driver_sql("SELECT feedsvc_text('<p>x</p>')")
    finally:
        plain.dispose()
    assert _ids(_search(db, "lanterns")) == [post_id]


def test_sqlite_a_reading_session_indexes_in_a_transaction_of_its_own(db: Database) -> None:
    """A request's session searches without keeping the write lock, and what it
    indexed stays indexed should the request be undone."""
    _sqlite_only(db)
    post_id = _post(db, "Kettle", "<p>Boiling.</p>")
    session = db.sessions()
    try:
        assert _ids(search.search(session, "kettle", "en", 10)) == [post_id]
        assert not session.connection().connection.dbapi_connection.in_transaction
        session.rollback()
    finally:
        session.close()
    assert _queued(db) == set() and _indexed(db) == {post_id}


def test_sqlite_a_search_where_writing_is_refused_finds_what_is_indexed(db: Database) -> None:
    _sqlite_only(db)
    indexed, waiting = _indexed_then_waiting(db, "Teapot", "<p>Tea.</p>")
    with db.session(write=False) as session:
        session.execute(text("PRAGMA query_only = ON"))
        try:
            assert _ids(search.search(session, "teapot", "en", 10)) == [indexed]
            matching = select(Post.id).where(search.matching(session, "teapot", "en"))
            assert session.scalars(matching).all() == [indexed]
        finally:
            session.execute(text("PRAGMA query_only = OFF"))
    assert _queued(db) == {waiting}
