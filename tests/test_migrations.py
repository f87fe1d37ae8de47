"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from feedsvc import search_index
from feedsvc.db import Database
from feedsvc.migrate import alembic_config, current
from feedsvc.models import Base
from feedsvc.posts import create_local_post


def test_migrations_match_models(db: Database) -> None:
    with db.engine.connect() as connection:
        # The search index lives beside the models (feedsvc/search_index.py).
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, *_: not search_index.owns(name),
            },
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_database_is_at_head(db: Database) -> None:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    assert current(db.engine) == head


def test_unique_constraints_stop_duplicates(db: Database) -> None:
    inspector = inspect(db.engine)
    source_uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("sources")}
    post_uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("posts")}
    assert ("feed_url",) in source_uniques
    assert ("source_id", "entry_key") in post_uniques


def test_sqlite_runs_in_wal_with_foreign_keys(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's own settings")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_db_upgrade_names_each_revision_it_applies(tmp_path: Path) -> None:
    """On an empty SQLite file: every revision in order, then nothing to do."""
    from alembic.script import ScriptDirectory

    from feedsvc import create_app

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    app = create_app({"DATABASE_URL": url}, env="testing")
    try:
        script = ScriptDirectory.from_config(alembic_config(url))
        revisions = [rev.revision for rev in reversed(list(script.walk_revisions()))]
        first = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert first.exit_code == 0, first.output
        lines = first.output.splitlines()
        assert [line.split(":")[0] for line in lines[:-1]] == [f"applied {r}" for r in revisions]
        assert lines[0] == "applied 0001: initial schema"
        assert lines[-1] == f"database upgraded from empty to {revisions[-1]}"
        again = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert again.output == f"database is up to date (revision {revisions[-1]})\n"
    finally:
        app.extensions["feedsvc.db"].dispose()


def test_sqlite_search_index_moves_between_shapes_at_0020(db: Database) -> None:
    """Down to 0019, the triggers index each post as it is written (and the
    posts that waited are indexed); up again, writes only queue posts, and
    every stored post is indexed."""
    if not db.is_sqlite:
        return  # 0020 leaves PostgreSQL as it is

    def post(title: str) -> int:
        with db.session() as session:
            return create_local_post(session, title=title, body_html="<p>Tides.</p>",
                                     now=dt.datetime(2026, 11, 26, tzinfo=dt.UTC),
                                     summary_length=200).id  # fmt: skip

    def indexed_and_queued() -> tuple[set[int], set[str]]:
        with db.engine.connect() as connection:
            indexed = set(connection.exec_driver_sql("SELECT rowid FROM posts_fts").scalars())
            tables = set(connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'posts_fts%'"
            ).scalars())  # fmt: skip
        return indexed, tables

    def migrate(revision: str, step: str) -> None:
        cfg = alembic_config(db.url)
        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            getattr(command, step)(cfg, revision)

    waited = post("Waited")
    try:
        migrate("0019", "downgrade")
        with db.engine.connect() as connection:
            insert = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'posts_fts_insert'"
            ).scalar()
        assert "feedsvc_text(new.content)" in insert
        written = post("Written")  # indexed by its insert
        indexed, tables = indexed_and_queued()
        assert indexed == {waited, written}
        assert not any(name == search_index.PENDING_TABLE for name in tables)
        migrate("head", "upgrade")
    finally:
        db.engine.dispose()
    indexed, tables = indexed_and_queued()
    assert indexed == {waited, written} and search_index.PENDING_TABLE in tables
    with db.engine.begin() as connection:
        assert not search_index.ensure(connection, "en")  # the shape this version writes
        assert connection.execute(text("SELECT count(*) FROM posts_fts_pending")).scalar() == 0
