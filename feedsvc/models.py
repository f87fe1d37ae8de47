"""SQLAlchemy models: the tables and nothing else.

The full-text index (`feedsvc/search_index.py`) lives beside these tables, outside
the models. Times are stored as naive UTC and come back timezone-aware (UTC), on SQLite and
PostgreSQL alike. Duplicates are stopped by unique constraints, not by Python.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from feedsvc.urls import host_name
from feedsvc.vocabulary import CommentState, DeliveryState, JobState, PostMode, SourceStatus

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def to_naive_utc(value: dt.datetime) -> dt.datetime:
    """What a UTC column stores; a naive time is refused, never guessed at."""
    if value.tzinfo is dt.UTC:  # nearly always: no conversion to make
        return value.replace(tzinfo=None)
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(dt.UTC).replace(tzinfo=None)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        return None if value is None else to_naive_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def new_uid() -> str:
    return uuid.uuid4().hex


# A post of our own (no source) has the entry key "local:<uid>".
LOCAL_KEY_PREFIX = "local:"

post_tags = Table(
    "post_tags",
    Base.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)

source_tags = Table(
    "source_tags",
    Base.metadata,
    Column("source_id", ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (Index("ix_sources_due", "status", "next_check_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_url: Mapped[str] = mapped_column(String(2048), unique=True)
    site_url: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # The upstream feed's own id and updated time, for atom:source.
    upstream_id: Mapped[str | None] = mapped_column(String(2048))
    upstream_updated: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    status: Mapped[str] = mapped_column(String(20), default=SourceStatus.ACTIVE)
    mode: Mapped[str] = mapped_column(String(20), default=PostMode.FULL)
    # An admin's fixed interval in seconds; wins over the adaptive schedule.
    interval_override: Mapped[int | None] = mapped_column(Integer)
    # The feed's own hint (ttl, sy:updatePeriod, max-age) in seconds.
    hint_interval: Mapped[int | None] = mapped_column(Integer)

    etag: Mapped[str | None] = mapped_column(String(1024))
    last_modified: Mapped[str | None] = mapped_column(String(100))

    next_check_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    # A worker's claim: nobody else refreshes this source until lease_until.
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(200))

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    # CSS selectors of elements taken out of its entries' content before sanitizing.
    strip_selectors: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Retention over the global FEEDSVC_RETAIN_*: None follows it, 0 keeps all.
    retain_days: Mapped[int | None] = mapped_column(Integer)
    retain_per_source: Mapped[int | None] = mapped_column(Integer)
    # Fetch each new entry's page and store the article (feedsvc/articles.py),
    # picked by `article_selector` (CSS) when given, else by the extractor.
    fetch_full: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    article_selector: Mapped[str | None] = mapped_column(String(500))
    # A podcast's channel as upstream describes it (image, explicit, category,
    # owner): republished in its RSS feed, see publish/feeds.py. None: no podcast.
    itunes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Upstream categories become tags unless turned off; `category_names`
    # renames some ({"Giant Bomb": "Games"}) or drops them ({"Uncategorized": ""}).
    keep_categories: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    category_names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    # The WebSub hub its feed names (rel="hub") and the feed's own address
    # (rel="self"), the topic subscribed to; see feedsvc/push/.
    websub_hub: Mapped[str | None] = mapped_column(String(2048))
    websub_topic: Mapped[str | None] = mapped_column(String(2048))

    # How it is fetched (feedsvc/fetch_options.py): its own User-Agent, extra
    # headers as [name, value] pairs, and a cookie and basic credentials
    # ("user:password") sealed with a key from the secret key (feedsvc/sealing.py),
    # never shown back. The headers, cookie and credentials go to its host only.
    fetch_user_agent: Mapped[str | None] = mapped_column(String(500))
    fetch_headers: Mapped[list[list[str]]] = mapped_column(JSON, default=list, server_default="[]")
    fetch_cookie: Mapped[str | None] = mapped_column(Text)
    fetch_credentials: Mapped[str | None] = mapped_column(Text)
    # Fetch without If-None-Match / If-Modified-Since (servers that get them wrong).
    ignore_validators: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A 403 was answered once with a browser-like User-Agent: it is sent from then on.
    fetch_as_browser: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # Loaded on use: the refresh path reads sources often and never needs their tags.
    tags: Mapped[list[Tag]] = relationship(secondary=source_tags, lazy="select")

    @property
    def display_title(self) -> str:
        """Its public name: the title, else its site's host (the feed's when
        no site is known), never a feed's address."""
        return self.title or host_name(self.site_url) or host_name(self.feed_url) or self.feed_url


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("source_id", "entry_key", name="uq_posts_source_entry"),
        Index("ix_posts_published", "published_at", "id"),
        Index("ix_posts_source_published", "source_id", "published_at"),
        Index("ix_posts_source_link", "source_id", "link"),
        Index("ix_posts_article_due", "article_state", "article_next_at"),
        Index("ix_posts_author_published", "author_slug", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable forever: the feed entry id is urn:uuid:<uid>.
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    # The upstream entry's id, else its link, else a content hash; local posts: "local:<uid>".
    entry_key: Mapped[str] = mapped_column(String(1024))

    title: Mapped[str] = mapped_column(Text, default="")
    slug: Mapped[str] = mapped_column(String(200), default="")
    link: Mapped[str | None] = mapped_column(String(2048))
    author: Mapped[str | None] = mapped_column(String(500))
    # The address of the author's page (content.author_slug), for /authors/<slug>.
    author_slug: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    # Of the upstream entry as parsed: equal means it need not be prepared again.
    entry_hash: Mapped[str | None] = mapped_column(String(64))
    image_url: Mapped[str | None] = mapped_column(String(2048))
    # The thumbnail's size in pixels where upstream says it (media:thumbnail, <img>).
    image_width: Mapped[int | None] = mapped_column(Integer)
    image_height: Mapped[int | None] = mapped_column(Integer)
    enclosures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # A podcast episode's duration (seconds), image, episode number and explicit flag.
    itunes: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # When we first stored it and when we last changed it.
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    # The filter rule that hid it (no foreign key: a deleted rule's posts keep
    # its id until the rules are applied again, which brings them back). None
    # on a hidden post means an admin hid it, and no rule ever shows it again.
    hidden_by_rule: Mapped[int | None] = mapped_column(Integer)
    popular_excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    # A local post saved, not yet published: stored hidden too, so nothing
    # public shows it; publishing clears both (posts.publish_draft).
    draft: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The link as a story is known by across sources (tracking parameters off,
    # scheme and host lower case, no default port, no fragment).
    canonical_link: Mapped[str | None] = mapped_column(String(2048), index=True)
    # Hidden as a duplicate: the same story, first stored from another source.
    # Its source is listed as "also reported by" on that post; goes with it.
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )

    # The full article of a fetch_full source's entry (ARTICLE_* states; None:
    # not asked for): pending until due at `article_next_at` (None: at once),
    # then fetched, or failed with the reason in `article_error` (ingest/types.py). Content holds
    # the article once fetched; `content_hash` stays the feed's entry's.
    article_state: Mapped[str | None] = mapped_column(String(20))
    article_error: Mapped[str | None] = mapped_column(Text)
    article_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    article_next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    # Approved comments, kept by feedsvc/comments.py whenever one changes, so
    # listings and feeds never count rows.
    comment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Closed by an admin: comments shown, no new ones taken.
    comments_closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The upstream's own discussion of a republished entry: its comments page
    # (RSS <comments>, Atom rel="replies" type text/html) and comment feed
    # (wfw:commentRss, Atom rel="replies" of a feed type).
    upstream_comments_url: Mapped[str | None] = mapped_column(String(2048))
    upstream_comments_feed: Mapped[str | None] = mapped_column(String(2048))

    source: Mapped[Source | None] = relationship(lazy="joined")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, lazy="selectin")

    @property
    def is_local(self) -> bool:
        return self.entry_key.startswith(LOCAL_KEY_PREFIX)

    @property
    def path(self) -> str:
        """Its page on the site."""
        return f"/posts/{self.id}-{self.slug}"

    @property
    def full_text_shown(self) -> bool:
        """A source set to summary or link mode never has its full text republished:
        not in the feeds, not on the post's page."""
        return self.source is None or self.source.mode == PostMode.FULL


class Comment(Base):
    """A reader's comment under a post (or an admin's, `by_admin`), in plain
    text; a reply names its parent, one level deep. See feedsvc/comments.py."""

    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_post_state", "post_id", "state", "created_at"),
        Index("ix_comments_state_created", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable forever: the feed entry id is urn:uuid:<uid>.
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(20), default=CommentState.PENDING)
    author_name: Mapped[str] = mapped_column(String(200))
    author_url: Mapped[str | None] = mapped_column(String(2048))
    # A keyed hash of name and website: who has been approved before.
    author_key: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[str] = mapped_column(Text)
    by_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    post: Mapped[Post] = relationship(lazy="select")
    parent: Mapped[Comment | None] = relationship(remote_side=[id], lazy="select")


class StoryBand(Base):
    """The story key of a recent original post, its title in words hashed
    (feedsvc/stories.py): posts sharing one are candidates for the same story,
    compared by text. Kept for a week."""

    __tablename__ = "story_bands"

    band: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class FilterRule(Base):
    """A filter rule (see feedsvc.filtering): global, or one source's."""

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), index=True
    )
    # block, keep (field and pattern) or max_age (days)
    action: Mapped[str] = mapped_column(String(20))
    field: Mapped[str] = mapped_column(String(20), default="")
    pattern: Mapped[str] = mapped_column(Text, default="")
    days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    source: Mapped[Source | None] = relationship(lazy="joined")


class PrunedEntry(Base):
    """An upstream entry whose post retention deleted: while the feed still
    lists it, it is not stored again. Forgotten after a year."""

    __tablename__ = "pruned_entries"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    entry_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    pruned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class FetchAttempt(Base):
    __tablename__ = "fetch_attempts"
    __table_args__ = (Index("ix_fetch_attempts_source_started", "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str] = mapped_column(String(2048))
    status_code: Mapped[int | None] = mapped_column(Integer)
    # The refresh's result (vocabulary.Result), under the column's name.
    outcome: Mapped[str] = mapped_column(String(20))
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    new_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class PostViewDay(Base):
    """Views of one post on one UTC day: a counter, never a row per view."""

    __tablename__ = "post_views"
    __table_args__ = (Index("ix_post_views_day_post", "day", "post_id"),)

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class PostViewTotal(Base):
    """All-time views per post, so the `all` ranking never sums every day."""

    __tablename__ = "post_view_totals"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int] = mapped_column(Integer, default=0, index=True)


class PopularRanking(Base):
    """Each window's current ranking, the one every process shows; see
    popularity.shared_ranking."""

    __tablename__ = "popular_rankings"

    window: Mapped[str] = mapped_column(String(8), primary_key=True)
    # Bumped at each new ranking: what rendered pages are cached under.
    version: Mapped[int] = mapped_column(Integer)
    post_ids: Mapped[list[int]] = mapped_column(JSON)
    ranked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PostViewWindow(Base):
    """Running view sums over the 7d and 30d windows; see feedsvc.popularity."""

    __tablename__ = "post_view_windows"
    __table_args__ = (Index("ix_post_view_windows_window_count", "window", "count"),)

    window: Mapped[str] = mapped_column(String(8), primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int] = mapped_column(Integer, default=0)


class ViewVisitor(Base):
    """Who has been counted today: a keyed hash, never an address. Pruned daily."""

    __tablename__ = "view_visitors"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    visitor: Mapped[str] = mapped_column(String(64), primary_key=True)


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    beat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Counter(Base):
    """Named counters, e.g. the content version that keys feed render caches."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class HubPing(Base):
    """A WebSub publish notification waiting to be sent (or retried)."""

    __tablename__ = "hub_pings"
    __table_args__ = (UniqueConstraint("hub", "topic", name="uq_hub_pings_hub_topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hub: Mapped[str] = mapped_column(String(2048))
    topic: Mapped[str] = mapped_column(String(2048))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)


class HubSubscription(Base):
    """Our WebSub subscription to an upstream hub for a source's feed (feedsvc/push/).

    `state` is the request in hand or its outcome (vocabulary.PushState);
    `expires_at` the end of the last lease the hub verified. A deleted source
    leaves its row (source_id NULL) until the hub has been told to stop.
    """

    __tablename__ = "hub_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    hub: Mapped[str] = mapped_column(String(2048))
    topic: Mapped[str] = mapped_column(String(2048))
    # The unguessable last part of the callback URL, /websub/<callback>.
    callback: Mapped[str] = mapped_column(String(64), unique=True)
    # hub.secret: the key of the HMAC that signs each delivery.
    secret: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    lease_seconds: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the worker acts on it next: send the request, renew, or try again.
    next_action_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Requests sent since the hub last verified one.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Bumped to end every session made before: cookies carry the generation.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # sha256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SignInAttempt(Base):
    """One sign-in attempt in a bucket ("addr:…" or "user:…"); pruned when old."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_bucket", "bucket", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(300))
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class Job(Base):
    """Long admin work run outside the request (an OPML import), with its progress."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default=JobState.QUEUED)
    payload: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total: Mapped[int | None] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(200))

    @property
    def in_progress(self) -> bool:
        """Queued or running: its page follows it, its counts are so far."""
        return self.state in (JobState.QUEUED, JobState.RUNNING)


class WebhookEndpoint(Base):
    """Where webhooks go (feedsvc/webhooks.py): a URL the fetch guard allows,
    the events it asked for, and its signing secret, sealed with a key from
    the secret key and shown once, when the endpoint is made."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200), default="")
    # The vocabulary's WebhookEvent values; post.created is always among them.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Attempts failed in a row; at webhooks.DISABLE_AFTER the endpoint is disabled.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One message to one endpoint: its body (the same at every attempt), and
    when it is next tried."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    # The webhook-id header: a receiver drops a message it has seen.
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """The delivery log: each attempt's time, HTTP status, duration and error."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint_at", "endpoint_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    delivery: Mapped[WebhookDelivery] = relationship(lazy="joined")
