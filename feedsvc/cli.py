"""The `feedsvc` command: thin wrappers that parse input, call a service, print.

Errors a user can cause print one line and exit non-zero, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from feedsvc.clock import EXTENSION as CLOCK
from feedsvc.clock import Clock
from feedsvc.db import Database
from feedsvc.errors import FeedsvcError
from feedsvc.settings import EXTENSION as SETTINGS
from feedsvc.settings import Settings
from feedsvc.vocabulary import PostMode, Result

if TYPE_CHECKING:
    from feedsvc.fetch_options import FetchOptionsWanted
    from feedsvc.ingest.pipeline import RefreshReport
    from feedsvc.models import Source


def current_time() -> dt.datetime:
    """The time by the app's clock (pinned in tests)."""
    app_clock: Clock = current_app.extensions[CLOCK]
    return app_clock.now()


def settings() -> Settings:
    """The app's typed settings, read once by the factory."""
    app_settings: Settings = current_app.extensions[SETTINGS]
    return app_settings


def _db() -> Database:
    db: Database = current_app.extensions["feedsvc.db"]
    return db


class Commands(AppGroup):
    """Commands whose errors a user can cause print as one line and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FeedsvcError as exc:
            raise click.ClickException(str(exc)) from None


db_cli = Commands("db", help="Manage the database schema.")
sources_cli = Commands("sources", help="Add and list upstream feeds.")
posts_cli = Commands("posts", help="Write local posts.")
users_cli = Commands("users", help="Manage admin users.")
tokens_cli = Commands("tokens", help="Manage API tokens.")
rules_cli = Commands("rules", help="Filter rules: which entries are stored hidden.")
comments_cli = Commands("comments", help="Moderate readers' comments.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from feedsvc.migrate import current, upgrade

    db = _db()
    before = current(db.engine)
    applied: list[str] = []

    def say(revision: str, what: str) -> None:
        applied.append(revision)
        click.echo(f"applied {revision}: {what}")

    language = settings().site.language
    if upgrade(db.engine, on_applied=say, language=language):
        click.echo(f"search index rebuilt for the site's language ({language})")
    now = current(db.engine)
    if applied:
        click.echo(f"database upgraded from {before or 'empty'} to {now}")
    else:
        click.echo(f"database is up to date (revision {now})")


def _visible(_ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Text a person gives: refused if it holds an invisible control character."""
    from feedsvc.fields import FieldError, check_text

    try:
        return check_text(value, param.name or "")
    except FieldError as exc:
        raise click.BadParameter(exc.reason) from None


def fetch_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of how a source is fetched, for `sources add` and `sources set`."""
    for option in reversed([
        click.option("--user-agent", help="Its own User-Agent ('': the default)."),
        click.option("--header", "headers", multiple=True,
                     help="An extra header, 'Name: value', sent to its host only; repeat."),
        click.option("--clear-headers", is_flag=True, help="Send no extra headers any more."),
        click.option("--cookie", help="A Cookie header's value, sent to its host only "
                     "('': none); stored sealed."),
        click.option("--username", help="HTTP basic credentials' username ('': none); asks "
                     "for the password. Stored sealed, sent to its host only."),
        click.option("--password-stdin", is_flag=True,
                     help="Read the credentials' password from standard input."),
        click.option("--ignore-validators/--use-validators", default=None,
                     help="Fetch without (or with) If-None-Match and If-Modified-Since."),
    ]):  # fmt: skip
        command = option(command)
    return command


def _fetch_options(
    user_agent: str | None, headers: tuple[str, ...], clear_headers: bool, cookie: str | None,
    username: str | None, password_stdin: bool, ignore_validators: bool | None,
) -> FetchOptionsWanted | None:  # fmt: skip
    from feedsvc.fetch_options import FetchOptionsWanted

    if headers and clear_headers:
        raise click.UsageError("give --header or --clear-headers, not both")
    password = None
    if username:
        password = _read_password(password_stdin, f"Password of {username}")
    wanted = FetchOptionsWanted(
        user_agent=user_agent, headers=list(headers) if headers or clear_headers else None,
        cookie=cookie, username=username, password=password, ignore_validators=ignore_validators,
    )  # fmt: skip
    return None if wanted == FetchOptionsWanted() else wanted


def _describe_fetch(source: Source) -> str:
    agent = source.fetch_user_agent or ("browser-like" if source.fetch_as_browser else "default")
    headers = ", ".join(name for name, _ in source.fetch_headers or ()) or "none"
    return (f"User-Agent {agent}; extra headers {headers}; "
            f"cookie {'set' if source.fetch_cookie else 'none'}; "
            f"credentials {'set' if source.fetch_credentials else 'none'}; "
            f"validators {'ignored' if source.ignore_validators else 'sent'}")  # fmt: skip


@sources_cli.command("add")
@click.argument("url")
@click.option(
    "--interval", type=int,
    help="Check every N seconds (at least FEEDSVC_FETCH_MIN_INTERVAL, 300 by default).",
)  # fmt: skip
@click.option("--title", default="", callback=_visible, help="A title; default: the feed's own.")
@click.option("--tag", "tags", multiple=True, help="A tag; repeat for more.")
@click.option(
    "--mode", type=click.Choice([str(mode) for mode in PostMode]), help="What to republish."
)
@click.option(
    "--check/--no-check",
    default=True,
    help="Find the feed (the URL may be a site's) and fetch it at once; "
    "--no-check adds the URL as it is, for the worker to fetch.",
)
@click.option(
    "--fetch-full", is_flag=True, help="Fetch each new entry's page and store its full article."
)
@fetch_options
def sources_add(
    url: str, interval: int | None, title: str, tags: tuple[str, ...], mode: str | None,
    check: bool, fetch_full: bool, **options: Any,
) -> None:  # fmt: skip
    """Add an upstream feed by its URL, or a site's."""
    from feedsvc.fetcher import Fetcher
    from feedsvc.subscriptions import NeedsChoice, Wanted, subscribe

    app_settings = settings()
    wanted = Wanted(url, title, tags=tags, interval=interval, mode=mode, fetch_full=fetch_full,
                    fetch_options=_fetch_options(**options))  # fmt: skip
    with Fetcher(app_settings.fetch) as fetcher:
        try:
            added = subscribe(_db(), fetcher, wanted, current_time(), settings=app_settings.ingest,
                              budget=app_settings.admin.discovery_timeout, check=check,
                              first_fetch=check)  # fmt: skip
        except NeedsChoice as exc:
            raise click.ClickException(
                f"{exc}: {', '.join(c.url for c in exc.candidates)}"
            ) from None
    click.echo(f"added source {added.source_id}: {added.title} <{added.feed_url}>")
    if added.first_fetch is not None:
        click.echo(f"first fetch: {added.first_fetch.describe()}")


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
            state: str = source_state(source)
            if source.error_count:
                errors = source.error_count
                state += f", {errors} error{'' if errors == 1 else 's'}"
            click.echo(
                f"{source.id:>5}  {state:<10}  {count:>5} posts  {source.display_title}"
                f"  <{source.feed_url}>"
                + (f"\n       last error: {source.last_error}" if source.last_error else "")
            )


def _limit(value: str | None) -> int | None:
    """A retention limit as given: "default" follows the global setting."""
    if value is None or value == "default":
        return None
    try:
        number = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: a whole number, or default") from None
    if number < 0:
        raise click.BadParameter(f"{value!r}: 0 or more (0 keeps all)")
    return number


@sources_cli.command("set")
@click.argument("source_id", type=int)
@click.option(
    "--strip-selector",
    "selectors",
    multiple=True,
    help="A CSS selector of elements removed from content; repeat for more.",
)
@click.option("--clear-selectors", is_flag=True, help="Remove no elements any more.")
@click.option("--retain-days", help="Keep posts this many days (0: all; default: global).")
@click.option("--retain-per-source", help="Keep this many posts (0: all; default: global).")
@click.option(
    "--fetch-full/--no-fetch-full",
    default=None,
    help="Fetch (or not) each new entry's page and store its full article.",
)
@click.option("--article-selector", help="A CSS selector of the article ('': the extractor's).")
@click.option(
    "--keep-categories/--no-keep-categories",
    default=None,
    help="Make the feed's categories its posts' tags (or not), from its next fetch.",
)
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="'GiantBomb = Giant Bomb' renames a category, 'Uncategorized =' drops it; "
    "repeat for more. Replaces the names set before.",
)
@click.option("--clear-categories", is_flag=True, help="Rename and drop no category any more.")
@fetch_options
def sources_set(
    source_id: int,
    selectors: tuple[str, ...],
    clear_selectors: bool,
    retain_days: str | None,
    retain_per_source: str | None,
    fetch_full: bool | None,
    article_selector: str | None,
    keep_categories: bool | None,
    categories: tuple[str, ...],
    clear_categories: bool,
    **options: Any,
) -> None:
    """Change a source's curation and fetch settings; options left out stay as they are."""
    from feedsvc.fields import category_lines, parse_category_lines
    from feedsvc.models import Source
    from feedsvc.sources import set_fetch_options, update_source

    if selectors and clear_selectors:
        raise click.UsageError("give --strip-selector or --clear-selectors, not both")
    changes: dict[str, Any] = {}
    if selectors or clear_selectors:
        changes["strip_selectors"] = list(selectors)
    if retain_days is not None:
        changes["retain_days"] = _limit(retain_days)
    if retain_per_source is not None:
        changes["retain_per_source"] = _limit(retain_per_source)
    changes["fetch_full"], changes["article_selector"] = fetch_full, article_selector
    if categories and clear_categories:
        raise click.UsageError("give --category or --clear-categories, not both")
    changes["keep_categories"] = keep_categories
    if categories or clear_categories:
        changes["category_names"] = parse_category_lines("\n".join(categories))
    with _db().session() as session:
        source = session.get(Source, source_id)
        if source is None:
            raise click.ClickException(f"no source with id {source_id}")
        update_source(session, source, current_time(), **changes)
        wanted = _fetch_options(**options)
        if wanted is not None:
            set_fetch_options(source, wanted, settings().secret_key)
        days = "global" if source.retain_days is None else source.retain_days
        count = "global" if source.retain_per_source is None else source.retain_per_source
        full = "off"
        if source.fetch_full:
            full = f"on (article: {source.article_selector or 'extracted'})"
        names = category_lines(source.category_names or {}).replace("\n", "; ") or "as they are"
        kept = f"categories kept, {names}" if source.keep_categories else "categories not kept"
        click.echo(f"source {source.id}: strip selectors {source.strip_selectors or 'none'}; "
                   f"retain days {days}, per source {count}; full articles {full}; "
                   f"{kept}")  # fmt: skip
        click.echo(f"fetch: {_describe_fetch(source)}")


@sources_cli.command("import-opml")
@click.argument("file", type=click.File("rb"))
def sources_import_opml(file: Any) -> None:
    """Add the feeds of an OPML file; duplicates are skipped, bad lines reported."""
    from feedsvc.opml import OpmlError, import_opml

    try:
        data = file.read()
    except OSError as exc:
        raise click.ClickException(f"cannot read {file.name}: {exc}") from None
    on_terminal = sys.stdout.isatty()
    try:
        with _db().session() as session:
            if on_terminal:
                with click.progressbar(length=1, label="importing") as bar:

                    def advance(done: int, total: int) -> None:
                        bar.length = total
                        bar.update(1)

                    report = import_opml(session, data, current_time(), on_entry=advance)
            else:
                report = import_opml(session, data, current_time())
    except OpmlError as exc:
        raise click.ClickException(f"{file.name}: {exc}") from None
    for source_id, url in report.added if not on_terminal else []:
        click.echo(f"added source {source_id}: {url}")
    for url in report.duplicates:
        click.echo(f"skipped, a duplicate: {url}")
    for line in report.describe_errors():
        click.echo(f"{file.name}: {line}", err=True)
    click.echo(f"{len(report.added)} added, {len(report.duplicates)} duplicates skipped, "
               f"{len(report.errors)} errors")  # fmt: skip
    if report.errors:
        sys.exit(1)


@sources_cli.command("export-opml")
@click.option("--output", "-o", type=click.File("wb"), default="-", help="Default: stdout.")
def sources_export_opml(output: Any) -> None:
    """Write every source as OPML 2.0, tags as folders and categories."""
    from feedsvc.opml import export_opml

    with _db().session() as session:
        body = export_opml(session, settings().site.title, current_time())
    output.write(body)


def _read_password(from_stdin: bool, prompt: str) -> str:
    """A line of standard input (for scripts), else asked twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))


@users_cli.command("create")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(username: str, password_stdin: bool) -> None:
    """Create an admin user; asks for the password."""
    from feedsvc.accounts import create_user

    password = _read_password(password_stdin, "Password")
    with _db().session() as session:
        user = create_user(session, username, password, current_time())
        click.echo(f"created user {user.id}: {user.username}")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_set_password(username: str, password_stdin: bool) -> None:
    """Change a user's password; every session of theirs ends."""
    from feedsvc.accounts import set_password, user_by_name

    password = _read_password(password_stdin, "New password")
    with _db().session() as session:
        set_password(user_by_name(session, username), password)
    click.echo(f"password of {username} changed")


@users_cli.command("list")
def users_list() -> None:
    """List the admin users."""
    from feedsvc.accounts import list_users

    with _db().session(write=False) as session:
        for user in list_users(session):
            click.echo(f"{user.id:>5}  {user.username:<24} created {user.created_at:%Y-%m-%d}")


@users_cli.command("sign-out")
@click.argument("username")
def users_sign_out(username: str) -> None:
    """End every session of a user, on every browser."""
    from feedsvc.accounts import end_sessions, user_by_name

    with _db().session() as session:
        end_sessions(user_by_name(session, username))
    click.echo(f"{username} is signed out everywhere")


@users_cli.command("delete")
@click.argument("username")
def users_delete(username: str) -> None:
    """Delete a user and their API tokens; never the last one."""
    from feedsvc.accounts import delete_user, user_by_name

    with _db().session() as session:
        delete_user(session, user_by_name(session, username))
    click.echo(f"user {username} deleted")


@tokens_cli.command("create")
@click.option("--user", "username", required=True, help="The user the token acts as.")
@click.option("--name", default="", help="What the token is for.")
def tokens_create(username: str, name: str) -> None:
    """Make an API token and print it; it is shown this once only."""
    from feedsvc.accounts import create_token, user_by_name

    with _db().session() as session:
        row, token = create_token(session, user_by_name(session, username), name, current_time())
    click.echo(f"token {row.id} for {username} (shown once, keep it safe):", err=True)
    click.echo(token)


@tokens_cli.command("list")
def tokens_list() -> None:
    """List tokens (never the tokens themselves)."""
    from feedsvc.accounts import list_tokens, list_users

    with _db().session() as session:
        names = {user.id: user.username for user in list_users(session)}
        for row in list_tokens(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "live"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            click.echo(f"{row.id:>5}  {names.get(row.user_id, '?'):<16} {state:<18} "
                       f"last used {used:<17} {row.name}")  # fmt: skip


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke a token by its id; calls with it are refused from now on."""
    from feedsvc.accounts import revoke_token

    with _db().session() as session:
        revoke_token(session, token_id, current_time())
    click.echo(f"token {token_id} revoked")


@click.command("fetch")
@with_appcontext
@click.option("--all", "fetch_all", is_flag=True, help="Fetch every active source.")
@click.argument("ids", nargs=-1, type=int)
def fetch_command(fetch_all: bool, ids: tuple[int, ...]) -> None:
    """Refresh sources now: the given ids, or --all."""
    from feedsvc.sources import active_source_ids, unknown_source_ids

    if fetch_all == bool(ids):
        raise click.UsageError("give source ids or --all (not both)")
    db = _db()
    with db.session() as session:
        if fetch_all:
            targets = active_source_ids(session)
        else:
            missing = unknown_source_ids(session, ids)
            if missing:
                raise click.ClickException(f"no source with id {', '.join(map(str, missing))}")
            targets = list(dict.fromkeys(ids))
    tally = {Result.OK: 0, Result.NOT_MODIFIED: 0}
    failures = 0
    on_terminal = sys.stdout.isatty()

    def show(report: RefreshReport) -> None:
        nonlocal failures
        if report.result.succeeded:
            tally[report.result] += 1
            if not on_terminal:
                click.echo(f"source {report.source_id}: {report.describe()}")
        else:
            failures += 1
            # Errors are always shown, above the bar on a terminal.
            click.echo(f"source {report.source_id}: {report.describe()}", err=True)

    # This command prints each result itself: the log's line would say it twice.
    refresh_log = logging.getLogger("feedsvc.refresh")
    level = refresh_log.level
    refresh_log.setLevel(logging.ERROR)
    try:
        _fetch(db, targets, settings(), show, on_terminal)
    finally:
        refresh_log.setLevel(level)
    click.echo(
        f"{len(targets)} sources: {tally[Result.OK]} ok, "
        f"{tally[Result.NOT_MODIFIED]} not modified, {failures} errors"
    )
    if failures:
        sys.exit(1)


def _fetch(
    db: Database,
    targets: list[int],
    app_settings: Settings,
    show: Callable[[RefreshReport], None],
    on_terminal: bool,
) -> None:
    """Refresh `targets`, calling `show` with each result."""
    from feedsvc.fetcher import Fetcher
    from feedsvc.ingest.driver import refresh_many

    clock: Clock = current_app.extensions[CLOCK]
    ingest_settings, per_host = app_settings.ingest, app_settings.worker.per_host
    with Fetcher(app_settings.fetch) as fetcher:
        if on_terminal and len(targets) > 1:
            with click.progressbar(length=len(targets), label="fetching") as bar:

                def advance(report: RefreshReport) -> None:
                    show(report)
                    bar.update(1)

                refresh_many(db, targets, fetcher=fetcher, now=clock.now, settings=ingest_settings,
                             per_host=per_host, on_done=advance)  # fmt: skip
        elif len(targets) > 1:
            refresh_many(db, targets, fetcher=fetcher, now=clock.now, settings=ingest_settings,
                         per_host=per_host, on_done=show)  # fmt: skip
        else:
            from feedsvc.ingest.driver import fetch_articles_now
            from feedsvc.ingest.pipeline import refresh_source
            from feedsvc.sources import any_fetch_full

            for source_id in targets:
                show(refresh_source(db, source_id, fetcher=fetcher, now=current_time(),
                                    settings=ingest_settings))  # fmt: skip
            with db.session(write=False) as session:
                full = any_fetch_full(session, targets)
            if full:
                fetch_articles_now(db, targets, fetcher=fetcher, now=clock.now,
                                   settings=ingest_settings, per_host=per_host)  # fmt: skip


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
    from feedsvc.posts import create_local_post

    try:
        body = body_file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {body_file.name}: {exc}") from None
    if "<" not in body:
        # Plain text: paragraphs on blank lines.
        from html import escape

        body = "".join(f"<p>{escape(p.strip())}</p>" for p in body.split("\n\n") if p.strip())
    with _db().session() as session:
        post = create_local_post(
            session, title=title, body_html=body, now=current_time(),
            summary_length=settings().ingest.prepare.summary_length,
            author=author or settings().site.author, tags=tags,
            base_url=settings().site.base_url,
        )  # fmt: skip
        click.echo(f"added post {post.id}: {post.title}")


@rules_cli.command("list")
@click.option("--source", "source_id", type=int, help="Only this source's rules.")
def rules_list(source_id: int | None) -> None:
    """List the filter rules, global first, in the order they run."""
    from feedsvc.rules import describe, list_rules

    with _db().session() as session:
        rows = list_rules(session, source_id)
        if not rows:
            click.echo("no rules; add one with: feedsvc rules add --block FIELD PATTERN")
        for rule in rows:
            scope = f"source {rule.source_id}" if rule.source_id is not None else "global"
            click.echo(f"{rule.id:>5}  {scope:<12}  {describe(rule)}")


@rules_cli.command("add")
@click.option("--source", "source_id", type=int, help="Only for this source (default: global).")
@click.option("--block", "action", flag_value="block", help="Hide entries that match.")
@click.option("--keep", "action", flag_value="keep", help="Hide entries that match no keep rule.")
@click.option("--max-age", "days", type=int, help="Hide entries published more than DAYS "
              "before they were first seen.")  # fmt: skip
@click.argument("field", required=False)
@click.argument("pattern", required=False)
def rules_add(
    source_id: int | None, action: str | None, days: int | None, field: str | None,
    pattern: str | None,
) -> None:  # fmt: skip
    """Add a rule: --block or --keep FIELD PATTERN (an RE2 regular expression;
    FIELD: title, link, author, tags, content or any), or --max-age DAYS."""
    from feedsvc.rules import add_rule, describe

    if (action is None) == (days is None):
        raise click.UsageError(
            "give one of --block FIELD PATTERN, --keep FIELD PATTERN, --max-age DAYS"
        )
    if action is not None and (field is None or pattern is None):
        raise click.UsageError(f"--{action} needs FIELD and PATTERN")
    with _db().session() as session:
        saved = add_rule(
            session, current_time(), action=action or "max_age", field=field or "",
            pattern=pattern or "", days=days, source_id=source_id,
            sync_limit=settings().admin.rules_sync_limit,
        )  # fmt: skip
        assert saved.rule is not None
        click.echo(f"added rule {saved.rule.id}: {describe(saved.rule)}; {saved.describe()}")


@rules_cli.command("test")
@click.option("--source", "source_id", type=int, help="Test on this source's posts only.")
@click.option("--keep", is_flag=True, help="Test as a keep rule (default: a block rule).")
@click.argument("field")
@click.argument("pattern")
def rules_test(source_id: int | None, keep: bool, field: str, pattern: str) -> None:
    """Print the stored posts a rule would hide, without saving it."""
    from feedsvc.rules import check_rule, preview

    with _db().session(write=False) as session:
        rule = check_rule(session, "keep" if keep else "block", field, pattern, None, source_id)
        seen = preview(session, add=rule, examples=100)
        for post in seen.hide:
            click.echo(f"{post.id:>7}  {post.title}  <{post.link or ''}>")
        click.echo(f"{seen.hide_count} of the newest {seen.scanned} posts"
                   f" ({seen.total} in all) would be hidden")  # fmt: skip


@rules_cli.command("delete")
@click.argument("rule_id", type=int)
def rules_delete(rule_id: int) -> None:
    """Delete a rule; the posts it hid come back."""
    from feedsvc.rules import delete_rule

    with _db().session() as session:
        saved = delete_rule(session, rule_id, current_time(), settings().admin.rules_sync_limit)
        click.echo(f"deleted rule {rule_id}; {saved.describe()}")


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run the scheduler (fetches due sources) in the foreground."""
    from feedsvc.dbfaults import DatabaseUnavailable
    from feedsvc.scheduler import check_database, run_worker

    _configure_logging()
    try:
        check_database(_db())
    except DatabaseUnavailable as exc:
        # One line, and a supervisor's restart (systemd: Restart=on-failure) tries again.
        logging.getLogger("feedsvc.worker").error("worker not started: %s", exc)
        sys.exit(1)
    run_worker(_db(), settings(), current_app.extensions[CLOCK])


@click.command("publish")
@with_appcontext
def publish_command() -> None:
    """Ping WebSub hubs and rewrite static feeds now, without waiting for the worker."""
    from feedsvc.publish.jobs import Publisher

    app_settings = settings()
    feeds = app_settings.feeds
    if not feeds.websub_hubs and not feeds.static_dir:
        raise click.ClickException("set FEEDSVC_WEBSUB_HUBS or FEEDSVC_STATIC_DIR first")
    publisher = Publisher(_db(), app_settings)
    try:
        publisher.run(current_time(), force_static=True)
        pending = publisher.pending_pings()
    finally:
        publisher.close()
    if feeds.static_dir:
        click.echo(f"static feeds written to {feeds.static_dir}")
    if feeds.websub_hubs:
        click.echo(f"hub pings still pending: {pending}")


@click.command("config")
@with_appcontext
def config_command() -> None:
    """Print the settings in effect and where each comes from; secrets masked."""
    import config

    env = os.environ.get(config.ENV_PREFIX + "ENV")
    click.echo(f"{config.ENV_PREFIX}ENV={env or 'production'}  # {'env' if env else 'default'}")
    for name in sorted(n for n in dir(config.Config) if n.isupper()):
        value = config.shown(name, current_app.config[name])
        click.echo(f"{config.ENV_PREFIX}{name}={value}  # {config.source(name)}")


@click.command("prune")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
def prune_command(dry_run: bool) -> None:
    """Delete old posts by the retention settings (the worker does it daily)."""
    from feedsvc import retention

    keep = settings().retention
    db = _db()
    now = current_time()
    if not dry_run:
        removed = retention.prune(db, keep, now)
        click.echo(f"{removed} posts deleted")
        return
    with db.session(write=False) as session:
        doomed = retention.doomed_posts(session, keep, now)
    for post in doomed:
        source = "local" if post.source_id is None else f"source {post.source_id}"
        click.echo(f"{post.id:>7}  {post.published_at:%Y-%m-%d}  {source:<12}  {post.title}")
    click.echo(f"{len(doomed)} posts would be deleted")


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option(
    "--scheduler/--no-scheduler",
    default=None,
    help="Run the scheduler in this process (default: FEEDSVC_EMBEDDED_SCHEDULER).",
)
def serve_command(host: str, port: int, scheduler: bool | None) -> None:
    """Development server: the site, the feeds and (in development) the scheduler."""
    from feedsvc.migrate import upgrade

    _configure_logging()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    upgrade(_db().engine)
    if settings().worker.embedded if scheduler is None else scheduler:
        _start_embedded_scheduler(app)
    from werkzeug.serving import run_simple

    # SIGTERM ends the process the way Ctrl-C does, through its exit handlers:
    # the embedded scheduler's parse processes stop with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # No reloader: it would fork a second process and a second scheduler.
    run_simple(host, port, app, use_reloader=False, threaded=True)


def _start_embedded_scheduler(app: Flask) -> None:
    """The scheduler in this process, unless another process on this machine runs one."""
    from feedsvc.scheduler import start_embedded

    start_embedded(app.extensions["feedsvc.db"], app.extensions[SETTINGS], app.extensions[CLOCK])


def _configure_logging() -> None:
    """Long-running commands log whatever the environment, testing too (create_app
    leaves a test process's logging to pytest)."""
    from feedsvc import logs

    logs.configure(settings().logging.level, settings().logging.format)


@comments_cli.command("list")
@click.option("--pending", is_flag=True, help="Only those awaiting moderation.")
@click.option("--post", "post_id", type=int, help="Only this post's.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def comments_list(pending: bool, post_id: int | None, limit: int) -> None:
    """List comments, newest first: id, state, post, author and the text's start."""
    from feedsvc.comments import listed
    from feedsvc.content import snippet
    from feedsvc.vocabulary import CommentState

    state = CommentState.PENDING if pending else None
    with _db().session(write=False) as session:
        for row in listed(session, state=state, post_id=post_id, limit=limit):
            text = snippet(row.body, 60)
            when = f"{row.created_at:%Y-%m-%d %H:%M}"
            click.echo(f"{row.id:>6}  {row.state:<8}  post {row.post_id:<6} {when}  "
                       f"{row.author_name[:24]:<24}  {text}")  # fmt: skip


def _moderate(action: Callable[..., int], ids: tuple[int, ...], done: str) -> None:
    with _db().session() as session:
        count = action(session, ids, current_time())
    click.echo(f"{done} {count} comment{'' if count == 1 else 's'}")
    if count < len(set(ids)):
        raise click.ClickException(f"{len(set(ids)) - count} of the ids name no comment")


@comments_cli.command("approve")
@click.argument("ids", nargs=-1, type=int, required=True)
def comments_approve(ids: tuple[int, ...]) -> None:
    """Approve comments: shown on their posts and in the comment feeds."""
    from feedsvc.comments import approve

    _moderate(approve, ids, "approved")


@comments_cli.command("delete")
@click.argument("ids", nargs=-1, type=int, required=True)
def comments_delete(ids: tuple[int, ...]) -> None:
    """Delete comments, and the replies under them."""
    from feedsvc.comments import delete_comments

    _moderate(delete_comments, ids, "deleted")


@comments_cli.command("spam")
@click.argument("ids", nargs=-1, type=int, required=True)
def comments_spam(ids: tuple[int, ...]) -> None:
    """Mark comments as spam: kept out of sight."""
    from feedsvc.comments import mark_spam

    _moderate(mark_spam, ids, "marked as spam")


def register(app: Flask) -> None:
    for command in (db_cli, sources_cli, posts_cli, users_cli, tokens_cli, rules_cli, comments_cli,
                    fetch_command, worker_command, publish_command, config_command, prune_command,
                    serve_command):  # fmt: skip
        app.cli.add_command(command)
