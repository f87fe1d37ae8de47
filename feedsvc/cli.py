"""The `feedsvc` command: thin wrappers that parse input, call a service, print.

Errors a user can cause print one line and exit non-zero, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

from feedsvc.db import Database

if TYPE_CHECKING:
    from feedsvc.ingest import RefreshReport


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _db() -> Database:
    db: Database = current_app.extensions["feedsvc.db"]
    return db


db_cli = AppGroup("db", help="Manage the database schema.")
sources_cli = AppGroup("sources", help="Add and list upstream feeds.")
posts_cli = AppGroup("posts", help="Write local posts.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from feedsvc.migrate import upgrade

    upgrade(_db().engine)
    click.echo("database is up to date")


@sources_cli.command("add")
@click.argument("url")
@click.option("--interval", type=click.IntRange(min=60), help="Check every N seconds.")
@click.option("--title", default="", help="A title; default: the feed's own.")
@click.option(
    "--check/--no-check", default=True, help="Fetch the URL first to make sure it is a feed."
)
def sources_add(url: str, interval: int | None, title: str, check: bool) -> None:
    """Add an upstream feed by its URL."""
    from feedsvc.ingest import probe_feed, settings_from_config
    from feedsvc.ingest.fetch import Fetcher
    from feedsvc.sources import SourceError, add_source, normalize_feed_url

    try:
        url = normalize_feed_url(url)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    site_url = None
    if check:
        fetch_settings, _ = settings_from_config(current_app.config)
        with Fetcher(fetch_settings) as fetcher:
            try:
                fetched, parsed = probe_feed(fetcher, url)
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
        title = title or parsed.title
        site_url = parsed.link
        if fetched.permanent_redirect:
            url = fetched.final_url
    try:
        with _db().session() as session:
            source = add_source(
                session, url, utcnow(), title=title, site_url=site_url, interval=interval
            )
            click.echo(f"added source {source.id}: {source.display_title} <{source.feed_url}>")
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None


@sources_cli.command("list")
def sources_list() -> None:
    """List the sources with their state."""
    from feedsvc.sources import list_sources, source_state

    with _db().session() as session:
        rows = list_sources(session)
        if not rows:
            click.echo("no sources yet; add one with: feedsvc sources add URL")
            return
        for source, count in rows:
            state = source_state(source)
            if source.error_count:
                state += f", {source.error_count} errors"
            click.echo(
                f"{source.id:>5}  {state:<10}  {count:>5} posts  {source.display_title}"
                f"  <{source.feed_url}>"
                + (f"\n       last error: {source.last_error}" if source.last_error else "")
            )


@click.command("fetch")
@with_appcontext
@click.option("--all", "fetch_all", is_flag=True, help="Fetch every active source.")
@click.argument("ids", nargs=-1, type=int)
def fetch_command(fetch_all: bool, ids: tuple[int, ...]) -> None:
    """Refresh sources now: the given ids, or --all."""
    from sqlalchemy import select

    from feedsvc.ingest import settings_from_config
    from feedsvc.ingest.batch import refresh_many
    from feedsvc.ingest.fetch import Fetcher
    from feedsvc.models import SOURCE_ACTIVE, Source

    if fetch_all == bool(ids):
        raise click.UsageError("give source ids or --all (not both)")
    db = _db()
    with db.session() as session:
        if fetch_all:
            targets = list(
                session.scalars(
                    select(Source.id).where(Source.status == SOURCE_ACTIVE).order_by(Source.id)
                )
            )
        else:
            known = set(session.scalars(select(Source.id).where(Source.id.in_(ids))))
            missing = [str(i) for i in ids if i not in known]
            if missing:
                raise click.ClickException(f"no source with id {', '.join(missing)}")
            targets = list(dict.fromkeys(ids))
    fetch_settings, ingest_settings = settings_from_config(current_app.config)
    tally = {"ok": 0, "not_modified": 0}
    failures = 0
    on_terminal = sys.stdout.isatty()

    def show(report: RefreshReport) -> None:
        nonlocal failures
        if report.result in tally:
            tally[report.result] += 1
            line = (f"source {report.source_id}: {report.result.replace('_', ' ')}, "
                    f"{report.new} new, {report.updated} updated")  # fmt: skip
            if not on_terminal:
                click.echo(line)
        else:
            failures += 1
            # Errors are always shown, above the bar on a terminal.
            click.echo(f"source {report.source_id}: {report.result}: {report.error}", err=True)

    with Fetcher(fetch_settings) as fetcher:
        if on_terminal and len(targets) > 1:
            with click.progressbar(length=len(targets), label="fetching") as bar:

                def advance(report: RefreshReport) -> None:
                    show(report)
                    bar.update(1)

                refresh_many(db, targets, fetcher=fetcher, now=utcnow,
                             settings=ingest_settings, on_done=advance)  # fmt: skip
        elif len(targets) > 1:
            refresh_many(db, targets, fetcher=fetcher, now=utcnow, settings=ingest_settings,
                         on_done=show)  # fmt: skip
        else:
            from feedsvc.ingest import refresh_source

            for source_id in targets:
                show(refresh_source(db, source_id, fetcher=fetcher, now=utcnow(),
                                    settings=ingest_settings))  # fmt: skip
    click.echo(
        f"{len(targets)} sources: {tally['ok']} ok, {tally['not_modified']} not modified, "
        f"{failures} errors"
    )
    if failures:
        sys.exit(1)


@posts_cli.command("add")
@click.option("--title", required=True, help="The post's title.")
@click.option(
    "--body-file",
    required=True,
    type=click.File("r", encoding="utf-8"),
    help="HTML (or plain text) file with the body; - for standard input.",
)
@click.option("--tag", "tags", multiple=True, help="A tag; repeat for more.")
@click.option("--author", default=None)
def posts_add(title: str, body_file: TextIO, tags: tuple[str, ...], author: str | None) -> None:
    """Write a local post (one with no source)."""
    from feedsvc.posts import PostError, create_local_post

    try:
        body = body_file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {body_file.name}: {exc}") from None
    if "<" not in body:
        # Plain text: paragraphs on blank lines.
        from html import escape

        body = "".join(f"<p>{escape(p.strip())}</p>" for p in body.split("\n\n") if p.strip())
    try:
        with _db().session() as session:
            post = create_local_post(
                session, title=title, body_html=body, now=utcnow(),
                summary_length=current_app.config["SUMMARY_LENGTH"],
                author=author or current_app.config["SITE_AUTHOR"], tags=tags,
                base_url=current_app.config["BASE_URL"],
            )  # fmt: skip
            click.echo(f"added post {post.id}: {post.title}")
    except PostError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run the scheduler (fetches due sources) in the foreground."""
    from feedsvc.scheduler import run_worker

    _configure_logging()
    run_worker(_db(), current_app.config)


@click.command("publish")
@with_appcontext
def publish_command() -> None:
    """Ping WebSub hubs and rewrite static feeds now, without waiting for the worker."""
    from feedsvc.publish.jobs import Publisher

    cfg = current_app.config
    if not cfg["WEBSUB_HUBS"] and not cfg["STATIC_DIR"]:
        raise click.ClickException("set FEEDSVC_WEBSUB_HUBS or FEEDSVC_STATIC_DIR first")
    publisher = Publisher(_db(), cfg)
    try:
        publisher.run(utcnow(), force_static=True)
        pending = publisher.pending_pings()
    finally:
        publisher.close()
    if cfg["STATIC_DIR"]:
        click.echo(f"static feeds written to {cfg['STATIC_DIR']}")
    if cfg["WEBSUB_HUBS"]:
        click.echo(f"hub pings still pending: {pending}")


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--scheduler/--no-scheduler", default=None, help="Embed the scheduler.")
def serve_command(host: str, port: int, scheduler: bool | None) -> None:
    """Development server: the site, the feeds and (by default) the scheduler."""
    from feedsvc import start_embedded_scheduler
    from feedsvc.migrate import upgrade

    _configure_logging()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    upgrade(_db().engine)
    if scheduler is not None:
        app.config["EMBEDDED_SCHEDULER"] = scheduler
    start_embedded_scheduler(app)
    from werkzeug.serving import run_simple

    # No reloader: it would fork a second process and a second scheduler.
    run_simple(host, port, app, use_reloader=False, threaded=True)


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def register(app: Flask) -> None:
    for command in (db_cli, sources_cli, posts_cli, fetch_command, worker_command,
                    publish_command, serve_command):  # fmt: skip
        app.cli.add_command(command)


def _create_app(*_args: Any) -> Flask:
    from feedsvc import create_app

    return create_app()


def main() -> None:
    """Console script entry point."""
    import config

    try:
        group = FlaskGroup(create_app=_create_app, add_default_commands=False,
                           set_debug_flag=False, help="feedsvc: a feed service.")  # fmt: skip
        group.main(prog_name="feedsvc")
    except config.ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
