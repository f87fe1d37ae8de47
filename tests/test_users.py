"""Accounts: list and delete admins from the command line and the admin pages,
never the last one."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from feedsvc.db import Database
from feedsvc.models import ApiToken, User
from tests.admin_helpers import (
    bearer,
    make_admin,
    make_token,
    post_form,
    sign_in,
    two_admins_signed_in,
)


def user_count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def test_users_list_and_delete_from_the_command_line(
    client: FlaskClient, db: Database, runner: FlaskCliRunner
) -> None:
    make_admin(db)
    make_admin(db, "ann")
    token = make_token(db, "ann")
    listed = runner.invoke(args=["users", "list"])
    assert listed.exit_code == 0
    assert [line.split()[1] for line in listed.output.splitlines()] == ["admin", "ann"]
    deleted = runner.invoke(args=["users", "delete", "ann"])
    assert deleted.exit_code == 0 and "user ann deleted" in deleted.output
    assert runner.invoke(args=["users", "list"]).output.split()[1:2] == ["admin"]
    # Her tokens went with her.
    assert client.get("/api/v1/stats", headers=bearer(token)).status_code == 401
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_the_last_admin_cannot_be_deleted(db: Database, runner: FlaskCliRunner) -> None:
    make_admin(db)
    refused = runner.invoke(args=["users", "delete", "admin"])
    assert refused.exit_code != 0 and "the last admin" in refused.output
    assert "Traceback" not in refused.output
    assert user_count(db) == 1
    unknown = runner.invoke(args=["users", "delete", "nobody"])
    assert unknown.exit_code != 0 and "no user named 'nobody'" in unknown.output


def test_the_users_page_lists_and_deletes_but_keeps_the_last(
    app: Flask, client: FlaskClient, db: Database
) -> None:
    admin_id, ann_id, ann = two_admins_signed_in(app, client, db)
    page = client.get("/admin/users").text
    assert "admin (you)" in page and "ann" in page and "Sign out everywhere" in page

    delete = f"/admin/users/{ann_id}/delete"
    assert "Delete the user ann?" in client.get(delete).text
    response = post_form(client, delete, delete, {})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users"
    assert "ann is deleted" in client.get("/admin/users").text
    assert user_count(db) == 1
    assert ann.get("/admin/").status_code == 302  # her session ended with her

    mine = f"/admin/users/{admin_id}/delete"
    refused = post_form(client, mine, mine, {})
    assert refused.status_code == 409 and "the last admin" in refused.text
    assert user_count(db) == 1 and client.get("/admin/").status_code == 200
    assert "the last admin stays" in client.get("/admin/users").text
    assert client.get("/admin/users/999/delete").status_code == 404


def test_an_admin_may_delete_herself_and_is_signed_out(client: FlaskClient, db: Database) -> None:
    admin_id = make_admin(db)
    make_admin(db, "ann")
    sign_in(client)
    mine = f"/admin/users/{admin_id}/delete"
    assert "That is you" in client.get(mine).text
    assert post_form(client, mine, mine, {}).status_code == 302
    assert client.get("/admin/").status_code == 302
    assert user_count(db) == 1
