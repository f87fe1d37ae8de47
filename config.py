"""feedsvc configuration.

Three environments, chosen by ``FEEDSVC_ENV``: production (the default, so
nothing meant for development runs unless asked for), development (what
``make run`` asks for) and testing. Every setting is declared once, here, with
its default. Any of them can be overridden by an environment variable named
``FEEDSVC_<NAME>``; the value is converted to the type of the default (bool:
1/true/yes/on, tuple: comma list).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from limits import parse_many

ENV_PREFIX = "FEEDSVC_"
WEBSUB_SUBSCRIBE_VALUES = ("auto", "true", "false", "1", "0", "yes", "no", "on", "off")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
MODERATION_MODES = ("all", "first", "none")


class ConfigError(RuntimeError):
    """A setting is missing or cannot be understood."""


class Config:
    # Flask's own setting; production refuses to start without one.
    SECRET_KEY: str = ""
    # Empty means SQLite in the instance folder (filled in by create_app).
    DATABASE_URL: str = ""
    # Absolute base for links in feeds, e.g. https://feeds.example.org
    BASE_URL: str = "http://127.0.0.1:5000"
    SITE_TITLE: str = "feedsvc"
    SITE_DESCRIPTION: str = "Posts and the feeds they came from."
    SITE_AUTHOR: str = "feedsvc"
    SITE_LANGUAGE: str = "en"

    # Fetching upstream feeds.
    FETCH_TIMEOUT: float = 20.0
    FETCH_MAX_BYTES: int = 10 * 1024 * 1024
    FETCH_MAX_REDIRECTS: int = 5
    FETCH_ALLOW_PRIVATE: bool = False
    FETCH_ALLOW_HOSTS: tuple[str, ...] = ()
    FETCH_MIN_INTERVAL: int = 300
    FETCH_MAX_INTERVAL: int = 86400
    FETCH_DEFAULT_INTERVAL: int = 3600
    FETCH_MAX_BACKOFF: int = 86400
    FETCH_HISTORY_DAYS: int = 30
    # The User-Agent of every fetch (a source may set its own); empty: feedsvc's.
    FETCH_USER_AGENT: str = ""
    # An http(s):// proxy every upstream fetch goes through (the address guard
    # still vets each target); empty: none.
    FETCH_PROXY: str = ""
    # Retention of upstream posts, pruned daily (0: keep all); each source may
    # override both. Local, popular and commented posts are always kept.
    RETAIN_DAYS: int = 0
    RETAIN_PER_SOURCE: int = 0
    # Finding the feeds at a site's address: all its fetches, well inside gunicorn's 30 s.
    DISCOVERY_TIMEOUT: float = 15.0

    # Text derived from posts.
    SUMMARY_LENGTH: int = 300

    # Published feeds.
    FEED_PAGE_SIZE: int = 25
    FEED_MAX_PAGE_SIZE: int = 100
    FEED_MAX_AGE: int = 300
    # How long a cache may serve a feed past max-age while it re-fetches.
    FEED_STALE_WHILE_REVALIDATE: int = 60
    # Feed icon (square) and logo (wide): absolute URLs or paths under BASE_URL.
    FEED_ICON: str = ""
    FEED_LOGO: str = ""
    # Rendered feeds kept per process (bytes, gzip and ETag each).
    FEED_CACHE_ENTRIES: int = 256
    # Popular posts: rankings (and the popular feed) are recomputed at most this often.
    POPULAR_CACHE_SECONDS: int = 60
    # The sidebar widget: how many posts, and how long a snippet (characters).
    POPULAR_COUNT: int = 5
    POPULAR_SNIPPET: int = 500
    # Trending: a view this many days old counts half.
    POPULAR_HALF_LIFE_DAYS: float = 2.0
    # Reverse proxies in front of the app whose X-Forwarded-For is believed.
    PROXY_HOPS: int = 0
    # WebSub hubs to announce in feeds and ping on changes.
    WEBSUB_HUBS: tuple[str, ...] = ()
    # Write the canonical feeds (and .gz twins) here for a front server.
    STATIC_DIR: str = ""
    # Subscribe to the WebSub hubs upstream feeds name, so that hubs push their
    # changes to callbacks under BASE_URL: true, false, or auto (on when
    # BASE_URL is https on a public host name, which a hub can reach).
    WEBSUB_SUBSCRIBE: str = "auto"
    # The lease asked of hubs, in seconds (the hub has the last word).
    WEBSUB_LEASE_SECONDS: int = 10 * 86400

    # Site pages.
    SITE_PAGE_SIZE: int = 20
    # Images on the site's pages come from /img/<signed token>, fetched by us
    # (guarded, size-capped, cached on disk): visitors never contact upstream.
    IMAGE_PROXY: bool = True
    # Feeds name the proxied images too (by default they keep the originals).
    IMAGE_PROXY_FEEDS: bool = False
    # Where proxied images are kept (empty: "images" in the instance folder).
    IMAGE_PROXY_DIR: str = ""
    IMAGE_PROXY_TIMEOUT: float = 10.0
    IMAGE_PROXY_MAX_BYTES: int = 5 * 1024 * 1024
    # How long browsers and caches keep a proxied image.
    IMAGE_PROXY_MAX_AGE: int = 30 * 86400

    # Scheduler.
    DISPATCH_SECONDS: int = 5
    # Fetch threads per worker, and parse processes (0: one per core).
    WORKER_THREADS: int = 16
    WORKER_PROCESSES: int = 0
    # Concurrent fetches from one worker to one host.
    FETCH_PER_HOST: int = 2
    # On SIGTERM, how long in-flight refreshes may run before the worker exits.
    SHUTDOWN_SECONDS: int = 30
    LEASE_SECONDS: int = 300
    # /healthz/worker answers 503 when the newest worker heartbeat is older than
    # this; a worker silent this long is forgotten.
    HEARTBEAT_STALE_SECONDS: int = 120
    # The worker serves its Prometheus metrics on this port (0: not at all), on
    # this address (another than loopback only for a scraper on another machine).
    WORKER_METRICS_PORT: int = 0
    WORKER_METRICS_BIND: str = "127.0.0.1"
    # `feedsvc serve` runs the scheduler in its own process too (never wsgi.py:
    # production runs `feedsvc worker`); at most one per machine, by a lock file.
    EMBEDDED_SCHEDULER: bool = True
    # The lock that keeps it to one per machine; empty: instance/embedded-scheduler.lock.
    SCHEDULER_LOCK_FILE: str = ""

    # Admin sign-in: attempts allowed per client address and per account tried
    # (the `limits` syntax), and where they are counted: empty for the database,
    # else a `limits` storage URI such as redis://127.0.0.1:6379.
    LOGIN_RATE_LIMIT: str = "10 per minute;50 per hour"
    LOGIN_ACCOUNT_RATE_LIMIT: str = "10 per minute;50 per hour"
    RATELIMIT_STORAGE_URI: str = ""
    # An admin session lasts this long from sign-in at most, and ends after
    # this many minutes unused (0: no idle timeout).
    SESSION_LIFETIME_DAYS: int = 14
    SESSION_IDLE_MINUTES: int = 0
    # OPML imports with more entries than this run as a job in the worker, not
    # in the request (about 5 ms an entry on PostgreSQL: well inside gunicorn's 30 s).
    OPML_SYNC_LIMIT: int = 300
    # Saving a filter rule applies the rules again to the stored posts of its
    # scope: in the request up to this many posts, else as a job in the worker.
    RULES_SYNC_LIMIT: int = 5000
    # API list pages: default and largest page size.
    API_PAGE_SIZE: int = 50
    API_MAX_PAGE_SIZE: int = 500

    # Comments under posts: a plain form (no script) with a signed, time-stamped
    # token. Off closes them everywhere; existing ones stay shown.
    COMMENTS: bool = True
    # Which comments wait for an admin: all, first (a first-time commenter's,
    # and any with a link) or none (only those with more than COMMENTS_MAX_LINKS).
    COMMENTS_MODERATION: str = "first"
    # Posts published longer ago than this take no new comments (0: never closed).
    COMMENTS_CLOSE_DAYS: int = 0
    # The form must be this old before it is posted, and no older than the hours.
    COMMENTS_MIN_SECONDS: int = 3
    COMMENTS_TOKEN_HOURS: int = 24
    # Comments per client address (the `limits` syntax), counted where the
    # sign-in attempts are (RATELIMIT_STORAGE_URI).
    COMMENTS_RATE_LIMIT: str = "5 per 10 minutes;30 per day"
    COMMENTS_MAX_LINKS: int = 2

    # Logging, for the web app and the worker alike: DEBUG, INFO, WARNING or
    # ERROR; text or json lines on stderr.
    LOG_LEVEL: str = "INFO"
    LOG_FORMAT: str = "text"

    TESTING: bool = False
    DEBUG: bool = False

    @classmethod
    def settings(cls) -> dict[str, Any]:
        """The class's settings, then environment overrides applied."""
        values = {
            name: getattr(cls, name)
            for name in dir(cls)
            if name.isupper() and not name.startswith("_")
        }
        for name, default in list(values.items()):
            raw = os.environ.get(ENV_PREFIX + name)
            if raw is not None:
                values[name] = convert(name, raw, default)
        return values

    @classmethod
    def validate(cls, values: dict[str, Any]) -> None:
        if values["FEED_PAGE_SIZE"] < 1 or values["FEED_MAX_PAGE_SIZE"] < 1:
            raise ConfigError("FEEDSVC_FEED_PAGE_SIZE and FEED_MAX_PAGE_SIZE must be positive")
        if values["FETCH_MIN_INTERVAL"] > values["FETCH_MAX_INTERVAL"]:
            raise ConfigError("FEEDSVC_FETCH_MIN_INTERVAL is above FEEDSVC_FETCH_MAX_INTERVAL")
        proxy = urlsplit(values["FETCH_PROXY"])
        if values["FETCH_PROXY"] and (proxy.scheme not in {"http", "https"} or not proxy.hostname):
            raise ConfigError("FEEDSVC_FETCH_PROXY is an http:// or https:// URL of a proxy")
        if any(ord(c) < 32 or ord(c) > 126 for c in values["FETCH_USER_AGENT"]):
            raise ConfigError("FEEDSVC_FETCH_USER_AGENT may hold visible ASCII characters only")
        for name in ("LOGIN_RATE_LIMIT", "LOGIN_ACCOUNT_RATE_LIMIT", "COMMENTS_RATE_LIMIT"):
            try:
                parse_many(values[name])
            except ValueError as exc:
                raise ConfigError(f"{ENV_PREFIX}{name}: {exc}") from None
        if values["SESSION_LIFETIME_DAYS"] < 1 or values["SESSION_IDLE_MINUTES"] < 0:
            raise ConfigError(
                "FEEDSVC_SESSION_LIFETIME_DAYS must be at least 1, "
                "FEEDSVC_SESSION_IDLE_MINUTES 0 (off) or more"
            )
        subscribe = str(values["WEBSUB_SUBSCRIBE"]).strip().lower()
        if subscribe not in WEBSUB_SUBSCRIBE_VALUES:
            raise ConfigError(
                f"FEEDSVC_WEBSUB_SUBSCRIBE={values['WEBSUB_SUBSCRIBE']!r}: use true, false or auto"
            )
        values["WEBSUB_SUBSCRIBE"] = subscribe
        if values["WEBSUB_LEASE_SECONDS"] < 60:
            raise ConfigError("FEEDSVC_WEBSUB_LEASE_SECONDS must be at least 60")
        values["LOG_LEVEL"] = values["LOG_LEVEL"].upper()
        checked = (("LOG_LEVEL", LOG_LEVELS), ("LOG_FORMAT", LOG_FORMATS),
                   ("COMMENTS_MODERATION", MODERATION_MODES))  # fmt: skip
        for name, allowed in checked:
            if values[name] not in allowed:
                raise ConfigError(
                    f"{ENV_PREFIX}{name}={values[name]!r}: use one of {', '.join(allowed)}"
                )


class DevelopmentConfig(Config):
    SECRET_KEY = "dev-only-not-secret"
    DEBUG = True
    # A developer adds feeds served on their own machine.
    FETCH_ALLOW_PRIVATE = True


class TestingConfig(Config):
    SECRET_KEY = "testing"
    TESTING = True
    FETCH_ALLOW_PRIVATE = True
    FETCH_TIMEOUT = 5.0
    EMBEDDED_SCHEDULER = False


class ProductionConfig(Config):
    EMBEDDED_SCHEDULER = False

    @classmethod
    def validate(cls, values: dict[str, Any]) -> None:
        super().validate(values)
        key = values["SECRET_KEY"]
        if not key:
            raise ConfigError(
                "production needs FEEDSVC_SECRET_KEY set to a long random string "
                "(production is the default; on your own machine set FEEDSVC_ENV=development, "
                "as `make run` does)"
            )
        if key in DEVELOPMENT_KEYS:
            raise ConfigError(
                "FEEDSVC_SECRET_KEY is a development key, public in feedsvc's source: "
                f"make one with: {MAKE_KEY}"
            )
        if len(key) < SECRET_KEY_MIN_LENGTH:
            raise ConfigError(
                f"FEEDSVC_SECRET_KEY has {len(key)} characters; production needs at least "
                f"{SECRET_KEY_MIN_LENGTH}: make one with: {MAKE_KEY}"
            )


SECRET_KEY_MIN_LENGTH = 32
MAKE_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
# Keys anyone can read here: never good enough for production.
DEVELOPMENT_KEYS = frozenset({DevelopmentConfig.SECRET_KEY, TestingConfig.SECRET_KEY})

CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def convert(name: str, raw: str, default: Any) -> Any:
    """Turn an environment string into the type of the setting's default."""
    try:
        if isinstance(default, bool):
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError:
        kind = type(default).__name__
        raise ConfigError(f"{ENV_PREFIX}{name}={raw!r} is not a valid {kind}") from None
    return raw


def load(name: str | None = None) -> dict[str, Any]:
    """Settings for the named environment (default: $FEEDSVC_ENV, else production)."""
    env = name or os.environ.get(ENV_PREFIX + "ENV") or "production"
    try:
        cls = CONFIGS[env]
    except KeyError:
        raise ConfigError(f"unknown FEEDSVC_ENV {env!r}; use one of {sorted(CONFIGS)}") from None
    values = cls.settings()
    cls.validate(values)
    return values


# FEEDSVC_* variables read outside the settings: the environment's name, and
# the databases the test suite and the benchmarks use.
OTHER_VARIABLES = ("ENV", "TEST_DATABASE_URL", "BENCH_DATABASE_URL")
# Settings shown only masked: whole, or the password inside a URL.
SECRET_SETTINGS = ("SECRET_KEY",)
URL_SETTINGS = ("DATABASE_URL", "RATELIMIT_STORAGE_URI", "FETCH_PROXY")


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each FEEDSVC_* variable that no setting reads (a typo,
    or a setting since renamed), naming the nearest known one."""
    environ = os.environ if environ is None else environ
    known = {name for name in dir(Config) if name.isupper()} | set(OTHER_VARIABLES)
    warnings = []
    for variable in sorted(environ):
        name = variable.removeprefix(ENV_PREFIX)
        if not variable.startswith(ENV_PREFIX) or name in known:
            continue
        nearest = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {ENV_PREFIX}{nearest[0]}?" if nearest else ""
        warnings.append(f"{variable} is not a feedsvc setting and is ignored{hint}")
    return warnings


def shown(name: str, value: Any) -> str:
    """A setting's value as `feedsvc config` prints it: secrets masked."""
    if name in SECRET_SETTINGS:
        return f"(set, {len(value)} characters)" if value else "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    if name in URL_SETTINGS and value:
        parts = urlsplit(value)
        if parts.password:
            host = parts.netloc.rpartition("@")[2]
            user = parts.username or ""
            return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    return str(value)


def source(name: str, environ: Mapping[str, str] | None = None) -> str:
    """Where a setting's value comes from: "env", or the class's "default"."""
    environ = os.environ if environ is None else environ
    return "env" if ENV_PREFIX + name in environ else "default"
