"""Apply the Alembic migrations that ship inside the package."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Engine

from feedsvc import search_index

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(
    engine: Engine,
    revision: str = "head",
    on_applied: Callable[[str, str], None] | None = None,
    language: str | None = None,
) -> bool:
    """Apply the pending migrations; `on_applied(revision, what)` hears of each one.

    Given the site's `language`, the search index is then made to stem for it
    (and made whole, should a migration have rebuilt `posts` on SQLite);
    True if it had to be rebuilt."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    if on_applied is not None:
        report = on_applied

        def applied(*, step: Any, **_: Any) -> None:
            report(step.up_revision_id, (step.up_revision.doc or "").strip())

        cfg.attributes["on_version_apply"] = applied
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
        return language is not None and search_index.ensure(connection, language)


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
