"""Typed settings: the configuration turned once, at start, into frozen values
by area, which services and views are given.

`config.py` declares every setting with its default and reads the environment;
`from_config` is the one place that reads its names. The factory keeps the
result in `app.extensions[EXTENSION]`, the worker is handed it at its start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feedsvc.fetcher import USER_AGENT, FetchSettings, non_public_reason
from feedsvc.ingest.policy import ScheduleSettings
from feedsvc.ingest.settings import IngestSettings
from feedsvc.ingest.types import PrepareSettings
from feedsvc.vocabulary import Moderation

# Where the factory keeps the app's settings.
EXTENSION = "feedsvc.settings"


@dataclass(frozen=True)
class SiteSettings:
    # Absolute base for links, without a trailing slash.
    base_url: str = "http://127.0.0.1:5000"
    title: str = "feedsvc"
    description: str = ""
    author: str = "feedsvc"
    language: str = "en"
    page_size: int = 20
    # Reverse proxies whose X-Forwarded-For is believed.
    proxy_hops: int = 0


@dataclass(frozen=True)
class FeedSettings:
    """Published feeds."""

    page_size: int = 25
    max_page_size: int = 100
    max_age: int = 300
    stale_while_revalidate: int = 60
    icon: str = ""
    logo: str = ""
    # Rendered feeds kept per process.
    cache_entries: int = 256
    websub_hubs: tuple[str, ...] = ()
    # Empty: no static feeds written.
    static_dir: str = ""

    @property
    def cache_control(self) -> str:
        return (
            f"public, max-age={self.max_age}, stale-while-revalidate={self.stale_while_revalidate}"
        )


@dataclass(frozen=True)
class PopularSettings:
    # Rankings (and the popular feed) are recomputed at most this often.
    cache_seconds: int = 60
    # The sidebar widget: how many posts, and how long a snippet.
    count: int = 5
    snippet: int = 500
    half_life_days: float = 2.0
    # How many posts a stored ranking keeps: the longest list shown from it
    # (the popular feed's largest page, the /popular page, the sidebar).
    depth: int = 100


@dataclass(frozen=True)
class RetentionSettings:
    # 0: no limit.
    days: int = 0
    per_source: int = 0
    # How deep each popular list is kept.
    keep_popular: int = 100
    half_life_days: float = 2.0

    @property
    def active(self) -> bool:
        return self.days > 0 or self.per_source > 0


@dataclass(frozen=True)
class ImageProxySettings:
    enabled: bool = True
    # Feeds name the proxied images too.
    in_feeds: bool = False
    folder: Path = Path("images")
    fetch: FetchSettings = field(default_factory=FetchSettings)
    max_age: int = 30 * 86400


@dataclass(frozen=True)
class WorkerSettings:
    dispatch_seconds: int = 5
    threads: int = 16
    # Parse processes; None: one per core.
    processes: int | None = None
    # Concurrent fetches from one worker to one host.
    per_host: int = 2
    shutdown_seconds: int = 30
    lease_seconds: int = 300
    heartbeat_stale_seconds: int = 120
    # Fetch history and ended jobs are kept this long.
    history_days: int = 30
    # 0: no metrics server.
    metrics_port: int = 0
    metrics_bind: str = "127.0.0.1"
    embedded: bool = False
    lock_file: Path = Path("embedded-scheduler.lock")


@dataclass(frozen=True)
class AuthSettings:
    login_rate_limit: str = "10 per minute;50 per hour"
    account_rate_limit: str = "10 per minute;50 per hour"
    # Empty: sign-in attempts counted in the database.
    rate_limit_storage: str = ""
    session_lifetime_days: int = 14
    # 0: no idle timeout.
    session_idle_minutes: int = 0


@dataclass(frozen=True)
class AdminSettings:
    """Limits of the admin's doors: the admin pages, the API and the CLI."""

    # Finding the feeds at a site's address, all its fetches (seconds).
    discovery_timeout: float = 15.0
    # Larger OPML imports, and rule re-applications over more posts, run as jobs.
    opml_sync_limit: int = 300
    rules_sync_limit: int = 5000
    api_page_size: int = 50
    api_max_page_size: int = 500


@dataclass(frozen=True)
class CommentSettings:
    """Comments under posts (feedsvc/comments.py)."""

    # False: no new comments anywhere; the approved ones stay shown.
    enabled: bool = True
    moderation: Moderation = Moderation.FIRST
    # Posts older than this take no new comments (0: never closed).
    close_days: int = 0
    # How old a form must be, and may be, when it is posted.
    min_seconds: int = 3
    token_hours: int = 24
    rate_limit: str = "5 per 10 minutes;30 per day"
    # More links than this, and a comment waits for an admin whatever the mode.
    max_links: int = 2


@dataclass(frozen=True)
class PushSettings:
    """The WebSub subscriber (feedsvc/push/)."""

    subscribe: bool = False
    # Callbacks are <callback_base>/websub/<token>: the site's base URL.
    callback_base: str = "http://127.0.0.1:5000"
    lease_seconds: int = 10 * 86400
    # The largest delivery accepted, as for a fetched feed.
    max_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class LogSettings:
    level: str = "INFO"
    format: str = "text"


@dataclass(frozen=True)
class Settings:
    # The app's secret (Flask's SECRET_KEY): signs image tokens, keys visitor hashes.
    secret_key: str = field(default="", repr=False)
    site: SiteSettings = field(default_factory=SiteSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    feeds: FeedSettings = field(default_factory=FeedSettings)
    popular: PopularSettings = field(default_factory=PopularSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    images: ImageProxySettings = field(default_factory=ImageProxySettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    comments: CommentSettings = field(default_factory=CommentSettings)
    push: PushSettings = field(default_factory=PushSettings)
    logging: LogSettings = field(default_factory=LogSettings)


def from_config(values: Mapping[str, Any], instance_path: Path) -> Settings:
    """The settings, from `config.load()`'s values (already of their declared
    types); relative defaults resolved against the instance folder."""
    fetch = FetchSettings(
        timeout=values["FETCH_TIMEOUT"],
        max_bytes=values["FETCH_MAX_BYTES"],
        max_redirects=values["FETCH_MAX_REDIRECTS"],
        allow_private=values["FETCH_ALLOW_PRIVATE"],
        allow_hosts=tuple(values["FETCH_ALLOW_HOSTS"]),
        user_agent=values["FETCH_USER_AGENT"] or USER_AGENT,
        proxy=values["FETCH_PROXY"],
        secret_key=values["SECRET_KEY"] or "",
    )
    return Settings(
        secret_key=values["SECRET_KEY"] or "",
        site=SiteSettings(
            base_url=values["BASE_URL"].rstrip("/"),
            title=values["SITE_TITLE"],
            description=values["SITE_DESCRIPTION"],
            author=values["SITE_AUTHOR"],
            language=values["SITE_LANGUAGE"],
            page_size=values["SITE_PAGE_SIZE"],
            proxy_hops=values["PROXY_HOPS"],
        ),
        fetch=fetch,
        ingest=IngestSettings(
            schedule=ScheduleSettings(
                min_interval=values["FETCH_MIN_INTERVAL"],
                max_interval=values["FETCH_MAX_INTERVAL"],
                default_interval=values["FETCH_DEFAULT_INTERVAL"],
                max_backoff=values["FETCH_MAX_BACKOFF"],
            ),
            prepare=PrepareSettings(summary_length=values["SUMMARY_LENGTH"]),
        ),
        feeds=FeedSettings(
            page_size=values["FEED_PAGE_SIZE"],
            max_page_size=values["FEED_MAX_PAGE_SIZE"],
            max_age=values["FEED_MAX_AGE"],
            stale_while_revalidate=values["FEED_STALE_WHILE_REVALIDATE"],
            icon=values["FEED_ICON"],
            logo=values["FEED_LOGO"],
            cache_entries=values["FEED_CACHE_ENTRIES"],
            websub_hubs=tuple(values["WEBSUB_HUBS"]),
            static_dir=values["STATIC_DIR"],
        ),
        popular=PopularSettings(
            cache_seconds=values["POPULAR_CACHE_SECONDS"],
            count=values["POPULAR_COUNT"],
            snippet=values["POPULAR_SNIPPET"],
            half_life_days=values["POPULAR_HALF_LIFE_DAYS"],
            depth=max(
                values["FEED_MAX_PAGE_SIZE"], values["SITE_PAGE_SIZE"], values["POPULAR_COUNT"]
            ),
        ),
        retention=RetentionSettings(
            days=max(0, values["RETAIN_DAYS"]),
            per_source=max(0, values["RETAIN_PER_SOURCE"]),
            keep_popular=values["FEED_MAX_PAGE_SIZE"],
            half_life_days=values["POPULAR_HALF_LIFE_DAYS"],
        ),
        images=ImageProxySettings(
            enabled=values["IMAGE_PROXY"],
            in_feeds=values["IMAGE_PROXY_FEEDS"],
            folder=Path(values["IMAGE_PROXY_DIR"] or instance_path / "images"),
            # As the feeds are fetched (guard, agent, proxy), with a deadline and cap
            # of its own; no source's sealed secrets to open.
            fetch=replace(
                fetch,
                timeout=values["IMAGE_PROXY_TIMEOUT"],
                max_bytes=values["IMAGE_PROXY_MAX_BYTES"],
                secret_key="",
            ),
            max_age=values["IMAGE_PROXY_MAX_AGE"],
        ),
        worker=WorkerSettings(
            dispatch_seconds=values["DISPATCH_SECONDS"],
            threads=values["WORKER_THREADS"],
            processes=values["WORKER_PROCESSES"] or None,
            per_host=values["FETCH_PER_HOST"],
            shutdown_seconds=values["SHUTDOWN_SECONDS"],
            lease_seconds=values["LEASE_SECONDS"],
            heartbeat_stale_seconds=values["HEARTBEAT_STALE_SECONDS"],
            history_days=values["FETCH_HISTORY_DAYS"],
            metrics_port=values["WORKER_METRICS_PORT"],
            metrics_bind=values["WORKER_METRICS_BIND"],
            embedded=values["EMBEDDED_SCHEDULER"],
            lock_file=Path(
                values["SCHEDULER_LOCK_FILE"] or instance_path / "embedded-scheduler.lock"
            ),
        ),
        auth=AuthSettings(
            login_rate_limit=values["LOGIN_RATE_LIMIT"],
            account_rate_limit=values["LOGIN_ACCOUNT_RATE_LIMIT"],
            rate_limit_storage=values["RATELIMIT_STORAGE_URI"],
            session_lifetime_days=values["SESSION_LIFETIME_DAYS"],
            session_idle_minutes=values["SESSION_IDLE_MINUTES"],
        ),
        admin=AdminSettings(
            discovery_timeout=values["DISCOVERY_TIMEOUT"],
            opml_sync_limit=values["OPML_SYNC_LIMIT"],
            rules_sync_limit=values["RULES_SYNC_LIMIT"],
            api_page_size=values["API_PAGE_SIZE"],
            api_max_page_size=values["API_MAX_PAGE_SIZE"],
        ),
        comments=CommentSettings(
            enabled=values["COMMENTS"],
            moderation=Moderation(values["COMMENTS_MODERATION"]),
            close_days=max(0, values["COMMENTS_CLOSE_DAYS"]),
            min_seconds=max(0, values["COMMENTS_MIN_SECONDS"]),
            token_hours=max(1, values["COMMENTS_TOKEN_HOURS"]),
            rate_limit=values["COMMENTS_RATE_LIMIT"],
            max_links=max(0, values["COMMENTS_MAX_LINKS"]),
        ),
        push=PushSettings(
            subscribe=_subscribe(values["WEBSUB_SUBSCRIBE"], values["BASE_URL"]),
            callback_base=values["BASE_URL"].rstrip("/"),
            lease_seconds=values["WEBSUB_LEASE_SECONDS"],
            max_bytes=values["FETCH_MAX_BYTES"],
        ),
        logging=LogSettings(level=values["LOG_LEVEL"], format=values["LOG_FORMAT"]),
    )


# Host names no hub on the internet reaches (RFC 6761, RFC 8375, common private zones).
PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".test",
                    ".example", ".invalid", ".localdomain")  # fmt: skip


def _subscribe(value: str, base_url: str) -> bool:
    """FEEDSVC_WEBSUB_SUBSCRIBE: as set, or "auto": on when a hub can reach the
    base URL and its callbacks travel encrypted (https on a public name)."""
    if value != "auto":
        return value in ("true", "1", "yes", "on")
    return public_https(base_url)


def public_https(url: str) -> bool:
    """Whether `url` is https on a host the public internet reaches (judged
    by its name or address; nothing is resolved)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https" or not host:
        return False
    try:
        return non_public_reason(host) is None
    except ValueError:  # a name, not an address
        return "." in host and host != "localhost" and not host.endswith(PRIVATE_SUFFIXES)
