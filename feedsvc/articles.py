"""Full articles of posts: which are due, what a fetch came to, and asking again.

A full-text source's new entry is stored with the feed's content and its
article pending (`ingest.process.full_article`). The worker claims due
articles here, fetches and extracts them (`ingest.driver`), and records the
outcome with `record_article`: the article replaces the content, or the post
keeps the feed's content with the reason, and a page that may answer later is
tried again after a growing delay, a bounded number of times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from feedsvc import changes, content
from feedsvc.errors import FeedsvcError
from feedsvc.fetched import fetch_options_of
from feedsvc.fulltext import Article, ArticleJob
from feedsvc.models import Post, Source
from feedsvc.urls import web_url
from feedsvc.vocabulary import ArticleState

# Tries of one page in all; the waits after the first, second, … failed try.
MAX_TRIES = 4
RETRY_DELAYS = (dt.timedelta(minutes=10), dt.timedelta(hours=1), dt.timedelta(hours=6))
# A claimed article is nobody else's for this long (a dead worker's comes back).
LEASE = dt.timedelta(minutes=5)
# A feed summary shorter than this is no summary: the article's start is.
REAL_SUMMARY = 20


class ArticleError(FeedsvcError):
    """A post whose article cannot be fetched; the message says why."""


def next_try(tries: int, article: Article, now: dt.datetime) -> dt.datetime | None:
    """When a page that gave no article is tried again (`tries` made so far,
    this one included), or None: never, for it will not get better."""
    if article.html is not None or not article.transient or tries >= MAX_TRIES:
        return None
    return now + RETRY_DELAYS[min(tries, len(RETRY_DELAYS)) - 1]


# What fetch_options_of reads of a source.
FETCH_COLUMNS = (Source.fetch_user_agent, Source.fetch_headers, Source.fetch_cookie,
                 Source.fetch_credentials, Source.fetch_as_browser)  # fmt: skip


def claim_due_articles(
    session: Session,
    now: dt.datetime,
    limit: int,
    *,
    source_ids: Sequence[int] | None = None,
) -> list[ArticleJob]:
    """Up to `limit` due articles, leased for LEASE (SKIP LOCKED on PostgreSQL)."""
    query = (
        select(Post.id, Post.link, Post.article_tries, Source.article_selector, Source.feed_url,
               *FETCH_COLUMNS)
        .join(Source, Post.source_id == Source.id)
        .where(
            Post.article_state == ArticleState.PENDING,
            Post.link.is_not(None),
            or_(Post.article_next_at.is_(None), Post.article_next_at <= now),
        )
        .order_by(Post.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Post)
    )
    if source_ids is not None:
        query = query.where(Post.source_id.in_(list(source_ids)))
    jobs = [ArticleJob(row.id, row.link or "", row.article_selector or None, row.article_tries,
                       fetch_options_of(row), row.feed_url)
            for row in session.execute(query)]  # fmt: skip
    if jobs:
        session.execute(
            update(Post)
            .where(Post.id.in_([job.post_id for job in jobs]))
            .values(article_next_at=now + LEASE)
        )
    return jobs


def record_article(
    session: Session, job: ArticleJob, article: Article, now: dt.datetime, summary_length: int
) -> None:
    """Store what the page came to: the article as the post's content, or why not."""
    post = session.get(Post, job.post_id)
    if post is None or post.article_state != ArticleState.PENDING or post.link != job.url:
        return  # deleted, asked for again, or re-linked by a refresh meanwhile
    tries = job.tries + 1
    post.article_tries = tries
    if article.html is None:
        retry = next_try(tries, article, now)
        post.article_state = ArticleState.PENDING if retry else ArticleState.FAILED
        post.article_next_at = retry
        post.article_error = article.error
        return
    post.article_state = ArticleState.FETCHED
    post.article_next_at = None
    post.article_error = None
    post.content = article.html
    if len(post.summary) < REAL_SUMMARY:
        post.summary = content.summarize(None, article.html, summary_length)
    post.image_url = post.image_url or web_url(content.first_image(article.html))
    post.modified_at = now
    scopes = [changes.tag_scope(tag.id) for tag in post.tags]
    if post.source_id is not None:
        scopes.append(changes.source_scope(post.source_id))
    changes.note_changes(session, now, scopes)


def fetch_again(session: Session, post: Post) -> Post:
    """Ask for the post's article again: the worker fetches it at once."""
    if post.is_local:
        raise ArticleError("a local post has no article to fetch")
    if post.source_id is None:
        raise ArticleError("the post's source is deleted: its article is not fetched any more")
    if not post.link:
        raise ArticleError("the post has no link to fetch its article from")
    post.article_state = ArticleState.PENDING
    post.article_next_at = None
    post.article_tries = 0
    post.article_error = None
    return post
