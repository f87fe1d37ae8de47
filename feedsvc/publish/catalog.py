"""Posts and comments to feed entries: which fields a published entry carries."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from feedsvc import comment_text, images
from feedsvc.models import Comment, Post
from feedsvc.posts import post_path
from feedsvc.publish.feeds import (
    AlsoReported,
    Enclosure,
    Episode,
    FeedEntry,
    InReplyTo,
    Origin,
    Podcast,
    Replies,
)
from feedsvc.urls import web_url


def entry_id(post: Post) -> str:
    """Stable forever: made from the post's uid, never from its title or URL."""
    return uuid.UUID(hex=post.uid).urn


def comment_entry_id(comment: Comment) -> str:
    return uuid.UUID(hex=comment.uid).urn


def comment_feed_path(post_id: int) -> str:
    """A post's comment feed, without the format's suffix."""
    return f"/feeds/posts/{post_id}/comments"


def comment_entry(comment: Comment, base_url: str) -> FeedEntry:
    """A comment as a feed entry: its text made markup by comment_text (escaped),
    in reply to its post and, for a reply, to the comment it answers."""
    post = comment.post
    page = base_url + post_path(post)
    answers = [InReplyTo(ref=entry_id(post), href=page)]
    if comment.parent_id is not None and comment.parent is not None:
        answers.append(InReplyTo(ref=comment_entry_id(comment.parent),
                                 href=f"{page}#comment-{comment.parent_id}"))  # fmt: skip
    return FeedEntry(
        id=comment_entry_id(comment),
        title=f"{comment.author_name} on “{post.title}”",
        url=f"{page}#comment-{comment.id}",
        published=comment.created_at,
        updated=comment.created_at,
        # No text summary: RSS readers take a description as HTML, so the
        # commenter's words go only as the escaped markup of content_html.
        summary="",
        content_html=comment_text.to_html(comment.body),
        authors=(comment.author_name,),
        in_reply_to=tuple(answers),
    )


def feed_entry(
    post: Post, base_url: str, *, full: bool, duplicates: Sequence[Post] = ()
) -> FeedEntry:
    source = post.source
    full_allowed = full and post.full_text_shown
    origin = None
    if source is not None:
        origin = Origin(
            feed_url=source.feed_url,
            title=source.display_title,
            site_url=source.site_url,
            # atom:source must carry an id and an updated time (the W3C validator
            # warns of each missing): an RSS upstream has neither, so its feed's
            # address is its id and its last good fetch (else the post's) its time.
            feed_id=source.upstream_id or source.feed_url,
            updated=source.upstream_updated or source.last_success_at or post.updated_at,
        )
    return FeedEntry(
        id=entry_id(post),
        title=post.title,
        url=base_url + post_path(post),
        published=post.published_at,
        updated=post.updated_at,
        summary=post.summary,
        content_html=post.content if full_allowed else None,
        original_url=post.link,
        authors=(post.author,) if post.author else (),
        categories=tuple(tag.name for tag in post.tags),
        enclosures=tuple(
            Enclosure(url=e["url"], type=e.get("type", ""), length=int(e.get("length") or 0))
            for e in post.enclosures or []
        ),
        image=post.image_url,
        origin=origin,
        episode=_episode(post.itunes),
        also_reported_by=tuple(
            AlsoReported(
                source_title=other.source.display_title,
                feed_url=other.source.feed_url,
                url=other.link,
            )
            for other in duplicates
            if other.source is not None
        ),
        replies=Replies(
            count=post.comment_count,
            page_url=f"{base_url}{post_path(post)}#comments",
            feed=base_url + comment_feed_path(post.id),
        ),
    )


def _episode(itunes: Mapping[str, Any] | None) -> Episode | None:
    if not itunes:
        return None
    return Episode(
        duration=_int(itunes.get("duration")),
        image=web_url(itunes.get("image")),
        episode=_int(itunes.get("episode")),
        explicit=_flag(itunes.get("explicit")),
    )


def podcast_of(itunes: Mapping[str, Any]) -> Podcast:
    """A source's `itunes` column as the feed writer takes it."""
    return Podcast(
        image=web_url(itunes.get("image")),
        explicit=_flag(itunes.get("explicit")),
        category=_text(itunes.get("category")),
        owner_name=_text(itunes.get("owner_name")),
        owner_email=_text(itunes.get("owner_email")),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def feed_entries(
    posts: Iterable[Post],
    base_url: str,
    *,
    full: bool,
    duplicates: Mapping[int, Sequence[Post]] | None = None,
) -> list[FeedEntry]:
    """Feed entries of the posts; `duplicates`: the same stories from other sources."""
    found = duplicates or {}
    return [feed_entry(post, base_url, full=full, duplicates=found.get(post.id, ()))
            for post in posts]  # fmt: skip


def with_proxied_images(
    entries: Sequence[FeedEntry], base_url: str, secret_key: str
) -> list[FeedEntry]:
    """The entries with their images named by our image proxy (FEEDSVC_IMAGE_PROXY_FEEDS)."""

    def proxied(url: str) -> str | None:
        if not url.startswith(("http://", "https://")):
            return None
        return base_url + images.PATH + images.sign(url, secret_key)

    return [
        replace(
            entry,
            content_html=entry.content_html and images.rewrite_images(entry.content_html, proxied),
            image=entry.image and proxied(entry.image),
        )
        for entry in entries
    ]
