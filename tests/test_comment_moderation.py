"""Moderating comments by every door: the admin's queue (bulk) and post page,
the CLI, and the API."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.models import Comment, Post
from feedsvc.vocabulary import CommentState
from tests.admin_helpers import bearer, make_admin, make_token, post_form, sign_in
from tests.commenting import add_post, post_comment

COMMENT_CONFIG = {"COMMENTS_RATE_LIMIT": "100 per minute"}


def states(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {c.body: c.state for c in session.scalars(select(Comment))}


def ids_of(db: Database, *bodies: str) -> list[int]:
    with db.session() as session:
        found = {c.body: c.id for c in session.scalars(select(Comment))}
    return [found[body] for body in bodies]


def three_pending(app: Flask, db: Database) -> int:
    post_id = add_post(db, "Talk")
    for n, body in enumerate(("one", "two", "three")):
        post_comment(app, post_id, name=f"P{n}", body=body)
    assert set(states(db).values()) == {CommentState.PENDING}
    return post_id


def test_the_queue_approves_spams_and_deletes_in_bulk(capp: Flask, cdb: Database) -> None:
    post_id = three_pending(capp, cdb)
    make_admin(cdb)
    client = capp.test_client()
    sign_in(client)
    queue = client.get("/admin/comments").get_data(as_text=True)
    assert "Pending (3)" in queue and "three" in queue
    one, two, three = ids_of(cdb, "one", "two", "three")
    done = post_form(client, "/admin/comments", "/admin/comments",
                     {"action": "approve", "ids": [str(one), str(two)], "back": "/admin/comments"},
                     follow_redirects=True)  # fmt: skip
    assert "Approved: 2 comments." in done.get_data(as_text=True)
    assert states(cdb) == {"one": "approved", "two": "approved", "three": "pending"}
    post_form(client, "/admin/comments", "/admin/comments", {"action": "spam", "ids": [str(three)]})
    assert states(cdb)["three"] == "spam"
    post_form(client, "/admin/comments", "/admin/comments", {"action": "delete", "ids": [str(two)]})
    assert states(cdb) == {"one": "approved", "three": "spam"}
    with cdb.session() as session:
        post = session.get(Post, post_id)
        assert post is not None and post.comment_count == 1
    # Nothing ticked, or no such action: a message, nothing changed.
    nothing = post_form(client, "/admin/comments?state=all", "/admin/comments",
                        {"action": "approve"}, follow_redirects=True)  # fmt: skip
    assert "Tick the comments" in nothing.get_data(as_text=True)
    bad = post_form(client, "/admin/comments?state=all", "/admin/comments",
                    {"action": "drop", "ids": [str(one)]}, follow_redirects=True)  # fmt: skip
    assert "Choose approve" in bad.get_data(as_text=True)
    assert client.get("/admin/comments?state=nonsense").status_code == 400
    # An outside `back` is not followed.
    outside = {"action": "approve", "ids": [str(one)], "back": "https://evil.example/"}
    away = post_form(client, "/admin/comments", "/admin/comments", outside)
    assert away.headers["Location"] == "/admin/comments"


def test_the_queue_needs_an_admin(capp: Flask, cdb: Database) -> None:
    client = capp.test_client()
    assert client.get("/admin/comments").status_code == 302
    assert client.post("/admin/comments", data={"action": "approve", "ids": "1"}).status_code in (
        302, 400)  # fmt: skip


def test_the_posts_comment_page_replies_as_the_author_and_closes(
    capp: Flask, cdb: Database
) -> None:
    post_id = three_pending(capp, cdb)
    make_admin(cdb)
    client = capp.test_client()
    sign_in(client)
    page = f"/admin/posts/{post_id}/comments"
    assert "three" in client.get(page).get_data(as_text=True)
    [one] = ids_of(cdb, "one")
    post_form(client, page, "/admin/comments", {"action": "approve", "ids": [str(one)]})
    answer = post_form(client, page, page, {"body": "Thanks!", "parent_id": str(one)})
    assert answer.status_code == 302
    with cdb.session() as session:
        reply = session.scalars(select(Comment).where(Comment.body == "Thanks!")).one()
        assert (reply.by_admin, reply.state, reply.parent_id) == (True, "approved", one)
    public = capp.test_client().get(f"/posts/{post_id}-talk").get_data(as_text=True)
    assert '<span class="badge">Author</span>' in public and "Thanks!" in public
    bad = post_form(client, page, page, {"body": "", "parent_id": "x"})
    assert bad.status_code == 400
    post_form(client, page, f"/admin/posts/{post_id}/comments/closed", {"closed": "1"})
    assert "Comments are closed." in capp.test_client().get(f"/posts/{post_id}-talk").get_data(
        as_text=True)  # fmt: skip
    assert "Comments (2 approved, closed)" in client.get(f"/admin/posts/{post_id}").get_data(
        as_text=True)  # fmt: skip
    assert client.get("/admin/posts/9999/comments").status_code == 404


def test_the_cli_lists_approves_and_deletes(capp: Flask, cdb: Database) -> None:
    three_pending(capp, cdb)
    runner = capp.test_cli_runner()
    listed = runner.invoke(args=["comments", "list", "--pending"])
    assert listed.exit_code == 0 and listed.output.count("pending") == 3
    one, two, three = ids_of(cdb, "one", "two", "three")
    approved = runner.invoke(args=["comments", "approve", str(one), str(two)])
    assert approved.exit_code == 0 and "approved 2 comments" in approved.output
    assert runner.invoke(args=["comments", "list", "--pending"]).output.count("pending") == 1
    deleted = runner.invoke(args=["comments", "delete", str(three), "999999"])
    assert deleted.exit_code == 1
    assert (
        "deleted 1 comment" in deleted.output and "1 of the ids name no comment" in deleted.output
    )
    assert runner.invoke(args=["comments", "spam", str(two)]).exit_code == 0
    assert states(cdb) == {"one": "approved", "two": "spam"}
    assert runner.invoke(args=["comments", "approve"]).exit_code == 2
    assert runner.invoke(args=["comments", "approve", "x"]).exit_code == 2


def test_the_api_lists_filters_approves_and_deletes(capp: Flask, cdb: Database) -> None:
    post_id = three_pending(capp, cdb)
    other = add_post(cdb, "Other")
    post_comment(capp, other, name="Q", body="elsewhere")
    make_admin(cdb)
    auth = bearer(make_token(cdb))
    client = capp.test_client()
    everything = client.get("/api/v1/comments", headers=auth).get_json()
    assert everything["total"] == 4
    mine = client.get(f"/api/v1/comments?post_id={post_id}&state=pending&per_page=2",
                      headers=auth).get_json()  # fmt: skip
    assert (mine["total"], len(mine["items"])) == (3, 2)
    assert mine["items"][0]["url"].startswith(f"http://feeds.test/posts/{post_id}-talk#comment-")
    one, two, three = ids_of(cdb, "one", "two", "three")
    changed = client.patch(f"/api/v1/comments/{one}", json={"state": "approved"}, headers=auth)
    assert changed.status_code == 200 and changed.get_json()["state"] == "approved"
    bulk = client.post("/api/v1/comments/bulk", json={"action": "spam", "ids": [two, three]},
                       headers=auth)  # fmt: skip
    assert bulk.get_json() == {"action": "spam", "changed": 2}
    assert client.get("/api/v1/comments?state=approved", headers=auth).get_json()["total"] == 1
    assert client.delete(f"/api/v1/comments/{one}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/comments/{one}", headers=auth).status_code == 404
    assert client.get(f"/api/v1/posts/{post_id}", headers=auth).get_json()["comment_count"] == 0
    closed = client.patch(f"/api/v1/posts/{post_id}", json={"comments_closed": True}, headers=auth)
    assert closed.get_json()["comments_closed"] is True
    # Bad input: a clear problem, never a 500.
    assert client.get("/api/v1/comments?state=gone", headers=auth).status_code == 400
    assert client.patch(f"/api/v1/comments/{two}", json={"state": "deleted"},
                        headers=auth).status_code == 422  # fmt: skip
    assert client.post("/api/v1/comments/bulk", json={"action": "approve", "ids": []},
                       headers=auth).status_code == 422  # fmt: skip
    assert client.get("/api/v1/comments").status_code == 401
