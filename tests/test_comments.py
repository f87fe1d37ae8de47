"""Comments from the public form: the spam defence, each moderation mode,
replies, closing, counts, and commenters' text shown as text."""

from __future__ import annotations

import datetime as dt
from typing import Any

import lxml.html
import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc import comments
from feedsvc.db import Database
from feedsvc.models import Comment, Post
from feedsvc.vocabulary import CommentState, Moderation
from tests.commenting import (
    NOW,
    add_post,
    clock_of,
    form_token,
    pinned_app,
    post_comment,
)

COMMENT_CONFIG = {"COMMENTS_RATE_LIMIT": "3 per minute;50 per day"}


def stored(db: Database) -> list[Comment]:
    with db.session() as session:
        rows = session.scalars(select(Comment).order_by(Comment.id)).all()
        session.expunge_all()
        return list(rows)


def approve_all(db: Database) -> None:
    with db.session() as session:
        comments.approve(session, [c.id for c in stored(db)], NOW)


def count_of(db: Database, post_id: int) -> int:
    with db.session() as session:
        post = session.get(Post, post_id)
        assert post is not None
        return post.comment_count


def test_a_first_comment_awaits_moderation_and_is_not_shown(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    answer = post_comment(capp, post_id, name="Ada", body="First!")
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("?comment=pending#comment-form")
    page = capp.test_client().get(answer.headers["Location"]).get_data(as_text=True)
    assert "awaiting moderation" in page
    assert "First!" not in page
    [made] = stored(cdb)
    assert (made.state, made.author_name, made.body) == (CommentState.PENDING, "Ada", "First!")
    assert count_of(cdb, post_id) == 0


def test_an_approved_commenter_is_shown_at_once_next_time(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    post_comment(capp, post_id, name="Ada", website="https://ada.example/", body="One")
    approve_all(cdb)
    answer = post_comment(capp, post_id, name="ada", website="https://ada.example/", body="Two")
    made = stored(cdb)[-1]
    assert made.state == CommentState.APPROVED
    assert answer.headers["Location"].endswith(f"?comment={made.id}#comment-{made.id}")
    page = capp.test_client().get(answer.headers["Location"]).get_data(as_text=True)
    assert "Two" in page and "Comments (2)" in page
    assert count_of(cdb, post_id) == 2
    # The same name with another website is someone else: held.
    post_comment(capp, post_id, name="Ada", website="https://other.example/", body="Three")
    assert stored(cdb)[-1].state == CommentState.PENDING


def test_in_first_mode_a_known_commenter_with_a_link_waits(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    post_comment(capp, post_id, name="Ada", body="One")
    approve_all(cdb)
    post_comment(capp, post_id, name="Ada", body="See https://example.org/x")
    assert stored(cdb)[-1].state == CommentState.PENDING


@pytest.mark.parametrize(
    ("mode", "known", "links", "expected"),
    [
        (Moderation.ALL, True, 0, CommentState.PENDING),
        (Moderation.FIRST, False, 0, CommentState.PENDING),
        (Moderation.FIRST, True, 0, CommentState.APPROVED),
        (Moderation.FIRST, True, 1, CommentState.PENDING),
        (Moderation.NONE, False, 0, CommentState.APPROVED),
        (Moderation.NONE, False, 2, CommentState.APPROVED),
        (Moderation.NONE, False, 3, CommentState.PENDING),
    ],
)
def test_initial_state_by_mode(
    mode: Moderation, known: bool, links: int, expected: CommentState
) -> None:
    assert comments.initial_state(mode, links, 2, known) == expected


@pytest.mark.parametrize("mode", ["all", "none"])
def test_each_mode_through_the_form(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("FEEDSVC_ENV", "testing")
    app = pinned_app(app_config, COMMENTS_MODERATION=mode)
    db: Database = app.extensions["feedsvc.db"]
    try:
        post_id = add_post(db)
        post_comment(app, post_id, body="Plain")
        post_comment(app, post_id, body="a http://a.example b http://b.example c www.c.example")
        states = [c.state for c in stored(db)]
        if mode == "all":
            assert states == [CommentState.PENDING, CommentState.PENDING]
        else:
            # Shown at once, but too many links wait whatever the mode.
            assert states == [CommentState.APPROVED, CommentState.PENDING]
            assert count_of(db, post_id) == 1
    finally:
        db.dispose()


def test_a_filled_honeypot_is_refused(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    answer = post_comment(capp, post_id, extra={"email": "bot@example.org"})
    assert answer.status_code == 400
    assert "looks automated" in answer.get_data(as_text=True)
    assert stored(cdb) == []


def test_a_form_sent_too_fast_is_refused_and_given_back(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    answer = post_comment(capp, post_id, body="Hasty words", wait=dt.timedelta(seconds=1))
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "too quickly" in page
    # Nothing lost: the text comes back in the form, with a new token.
    assert "Hasty words</textarea>" in page
    assert stored(cdb) == []


def test_an_expired_or_forged_token_is_refused(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    expired = post_comment(capp, post_id, wait=dt.timedelta(hours=25))
    assert expired.status_code == 400
    assert "expired" in expired.get_data(as_text=True)
    forged = post_comment(capp, post_id, extra={"token": f"{post_id}.0.forged"})
    assert forged.status_code == 400
    missing = post_comment(capp, post_id, extra={"token": ""})
    assert missing.status_code == 400
    assert stored(cdb) == []


def test_a_token_for_another_post_is_refused(capp: Flask, cdb: Database) -> None:
    first, second = add_post(cdb, "One"), add_post(cdb, "Two")
    token = form_token(capp.test_client(), first)
    answer = post_comment(capp, second, extra={"token": token})
    assert answer.status_code == 400
    assert "another post" in answer.get_data(as_text=True)


@pytest.mark.parametrize("agent", ["", "curl/8.0", "python-requests/2.31", "Googlebot/2.1"])
def test_bot_user_agents_are_refused(capp: Flask, cdb: Database, agent: str) -> None:
    post_id = add_post(cdb)
    answer = post_comment(capp, post_id, user_agent=agent)
    assert answer.status_code == 400
    assert "browsers only" in answer.get_data(as_text=True)
    assert stored(cdb) == []


def test_one_address_is_rate_limited_across_processes(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    for n in range(3):
        assert post_comment(capp, post_id, body=f"n{n}", wait=dt.timedelta(seconds=11)
                            ).status_code == 303  # fmt: skip
    limited = post_comment(capp, post_id, body="one more", wait=dt.timedelta(seconds=11))
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "one more</textarea>" in limited.get_data(as_text=True)
    # Counted in the database: a second app (another process) sees the same count.
    other = pinned_app({"DATABASE_URL": str(cdb.url), "BASE_URL": "http://feeds.test"},
                       COMMENTS_RATE_LIMIT="3 per minute;50 per day")  # fmt: skip
    try:
        clock_of(other).at = clock_of(capp).at
        assert post_comment(other, post_id, wait=dt.timedelta(seconds=11)).status_code == 429
        # Another address is not held up.
        assert post_comment(capp, post_id, address="192.0.2.9").status_code == 303
    finally:
        other.extensions["feedsvc.db"].dispose()
    assert len(stored(cdb)) == 4


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "  "}, "needs a name"),
        ({"name": "x" * 201}, "longer than 200"),
        ({"body": " \n "}, "is empty"),
        ({"body": "x" * 10_001}, "longer than 10000"),
        ({"name": "Ada\u202egnp.exe"}, "invisible control character"),
        ({"website": "javascript:alert(1)"}, "http:// or https://"),
        ({"website": "ftp://example.org/"}, "http:// or https://"),
        ({"parent_id": "abc"}, "not on this post"),
        ({"parent_id": "99999"}, "not on this post"),
    ],
)
def test_bad_fields_get_a_clear_error(
    capp: Flask, cdb: Database, fields: dict[str, str], message: str
) -> None:
    post_id = add_post(cdb)
    answer = post_comment(capp, post_id, extra=fields)
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert stored(cdb) == []


def test_comments_on_a_missing_or_hidden_post_are_404(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    token = form_token(capp.test_client(), post_id)
    with cdb.session() as session:
        post = session.get(Post, post_id)
        assert post is not None
        post.hidden = True
    client = capp.test_client()
    data = {"name": "A", "body": "B", "token": token}
    assert client.post(f"/posts/{post_id}/comments", data=data).status_code == 404
    assert client.post("/posts/9999/comments", data=data).status_code == 404


def test_replies_go_one_level_deep(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    post_comment(capp, post_id, name="Ada", body="Top")
    approve_all(cdb)
    top = stored(cdb)[0]
    page = (
        capp.test_client()
        .get(f"/posts/{post_id}?reply={top.id}", follow_redirects=True)
        .get_data(as_text=True)
    )
    assert "Reply to Ada" in page
    assert f'name="parent_id" value="{top.id}"' in page
    post_comment(capp, post_id, name="Bob", body="Reply", parent_id=top.id)
    approve_all(cdb)
    reply = stored(cdb)[1]
    assert reply.parent_id == top.id
    # A reply to the reply joins the same thread.
    post_comment(capp, post_id, name="Cy", body="Deeper", parent_id=reply.id)
    assert stored(cdb)[2].parent_id == top.id
    with cdb.session() as session:
        [thread] = comments.threads(session, post_id)
        assert [r.body for r in thread.replies] == ["Reply"]
    # A pending comment cannot be replied to, nor one of another post.
    other = add_post(cdb, "Other")
    assert post_comment(capp, other, parent_id=top.id).status_code == 400
    assert post_comment(capp, post_id, parent_id=stored(cdb)[2].id).status_code == 400


def test_closed_posts_take_no_comments(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    post_comment(capp, post_id, name="Ada", body="Before")
    approve_all(cdb)
    token = form_token(capp.test_client(), post_id)
    with cdb.session() as session:
        comments.set_closed(session, post_id, True, NOW)
    page = capp.test_client().get(f"/posts/{post_id}", follow_redirects=True).get_data(as_text=True)
    assert "Comments are closed." in page and "Before" in page
    assert 'name="token"' not in page
    clock_of(capp).advance(dt.timedelta(seconds=20))
    answer = capp.test_client().post(
        f"/posts/{post_id}/comments",
        data={"name": "B", "body": "After", "token": token},
        headers={"User-Agent": "Mozilla/5.0"},
    )
    assert answer.status_code == 403
    assert "closed" in answer.get_data(as_text=True)


def test_comments_close_site_wide_and_after_close_days(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDSVC_ENV", "testing")
    app = pinned_app(app_config, COMMENTS_CLOSE_DAYS=7)
    db: Database = app.extensions["feedsvc.db"]
    try:
        old = add_post(db, "Old", NOW - dt.timedelta(days=8))
        new = add_post(db, "New", NOW - dt.timedelta(days=6))
        client = app.test_client()
        assert "Comments are closed." in client.get(
            f"/posts/{old}", follow_redirects=True
        ).get_data(as_text=True)
        assert 'name="token"' in client.get(f"/posts/{new}", follow_redirects=True).get_data(
            as_text=True
        )
        settings = app.extensions["feedsvc.settings"]
        with db.session() as session:
            post = session.get(Post, new)
            assert post is not None
            assert comments.comments_open(post, settings.comments, NOW)
            off = type(settings.comments)(enabled=False)
            assert not comments.comments_open(post, off, NOW)
    finally:
        db.dispose()


def test_counts_on_the_post_the_listings_and_the_popular_widget(capp: Flask, cdb: Database) -> None:
    from feedsvc.popularity import record_view

    post_id = add_post(cdb, "Talked about")
    with cdb.session() as session:
        record_view(session, post_id, "reader", NOW.date())
    client = capp.test_client()
    assert "1 comment" not in client.get("/").get_data(as_text=True)
    post_comment(capp, post_id, body="One")
    approve_all(cdb)
    index = client.get("/").get_data(as_text=True)
    assert f'href="/posts/{post_id}-talked-about#comments">1 comment</a>' in index
    assert '#comments">(1 comment)</a>' in index  # the popular widget, not stale
    post_comment(capp, post_id, name="Bob", body="Two")
    approve_all(cdb)
    assert "2 comments</a>" in client.get("/").get_data(as_text=True)
    assert "Comments (2)" in client.get(f"/posts/{post_id}", follow_redirects=True).get_data(
        as_text=True
    )
    with cdb.session() as session:
        comments.mark_spam(session, [stored(cdb)[0].id], NOW)
    assert count_of(cdb, post_id) == 1
    with cdb.session() as session:
        comments.delete_comments(session, [c.id for c in stored(cdb)], NOW)
    assert count_of(cdb, post_id) == 0
    assert stored(cdb) == []


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '"><svg onload=alert(1)>',
]


def test_hostile_text_is_shown_as_text(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    for n, text in enumerate(HOSTILE):
        post_comment(capp, post_id, name=f"<b>n{n}</b>", body=text, address=f"192.0.2.{n}")
    approve_all(cdb)
    page = capp.test_client().get(f"/posts/{post_id}", follow_redirects=True).get_data(as_text=True)
    for text in HOSTILE:
        assert text not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;n0&lt;/b&gt;" in page
    tree = lxml.html.fromstring(page)
    assert tree.xpath("//script") == [] and tree.xpath("//svg") == []
    assert tree.xpath("//*[@*[starts-with(name(), 'on')]]") == []
    assert not [a for a in tree.xpath("//a/@href") if "javascript" in a.lower()]
    assert len(tree.xpath("//div[@class='comment-body']")) == len(HOSTILE)


def test_the_post_page_reads_no_session(capp: Flask, cdb: Database) -> None:
    """Public pages are shared by caches: no cookie set, none needed to comment."""
    post_id = add_post(cdb)
    page = capp.test_client().get(f"/posts/{post_id}-a-post")
    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers
    assert "Cookie" not in page.headers.get("Vary", "")
    answer = post_comment(capp, post_id)
    assert answer.status_code == 303
    assert "Set-Cookie" not in answer.headers


def test_the_form_renders_the_same_bytes_within_a_step(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    client = capp.test_client()
    clock_of(capp).at = NOW.replace(second=1)
    first = client.get(f"/posts/{post_id}-a-post").headers["ETag"]
    clock_of(capp).advance(dt.timedelta(seconds=5))
    assert client.get(f"/posts/{post_id}-a-post").headers["ETag"] == first


def test_an_admin_reply_is_approved_and_marked(capp: Flask, cdb: Database) -> None:
    post_id = add_post(cdb)
    post_comment(capp, post_id, name="Ada", body="Question?")
    approve_all(cdb)
    top = stored(cdb)[0]
    with cdb.session() as session:
        comments.admin_reply(session, post_id, "Answer.", secret="s", now=NOW, parent_id=top.id)
    page = capp.test_client().get(f"/posts/{post_id}", follow_redirects=True).get_data(as_text=True)
    assert 'class="comment by-author"' in page and '<span class="badge">Author</span>' in page
    assert count_of(cdb, post_id) == 2
