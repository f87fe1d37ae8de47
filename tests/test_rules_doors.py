"""Filter rules through each door: the API (in its OpenAPI document), the CLI
and the admin editor with its preview — happy paths and refusals."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from feedsvc.db import Database
from tests.admin_helpers import make_admin, post_form, sign_in
from tests.configured import reconfigure
from tests.test_api import Api, assert_problem
from tests.test_rules_service import hidden_titles, source_with


@pytest.fixture
def api(client: FlaskClient, db: Database) -> Api:
    from tests.admin_helpers import make_token

    make_admin(db)
    return Api(client, make_token(db))


@pytest.fixture
def stored(db: Database) -> int:
    return source_with(db, "https://one.example/feed", "Buy now", "Real news", "Buy later")


def test_api_create_list_preview_and_delete(api: Api, db: Database, stored: int) -> None:
    preview = api("POST", "/rules/preview", json={"action": "block", "field": "title",
                                                  "pattern": "^Buy"})  # fmt: skip
    assert preview.status_code == 200, preview.get_json()
    body = preview.get_json()
    assert sorted(p["title"] for p in body["hide"]) == ["Buy later", "Buy now"]
    assert body["hide_count"] == 2 and body["scanned"] == 3 and body["bring_back"] == []
    assert api("GET", "/rules").get_json() == {"items": []}  # nothing saved

    made = api("POST", "/rules", json={"action": "block", "field": "title", "pattern": "^Buy",
                                       "source_id": stored})  # fmt: skip
    assert made.status_code == 201, made.get_json()
    saved = made.get_json()
    assert saved["hidden"] == 2 and saved["shown"] == 0 and saved["job"] is None
    rule = saved["rule"]
    assert (rule["action"], rule["field"], rule["pattern"], rule["source_id"]) == (
        "block", "title", "^Buy", stored)  # fmt: skip
    assert hidden_titles(db) == {"Buy now", "Buy later"}
    posts = {p["title"]: p for p in api("GET", "/posts").get_json()["items"]}
    assert posts["Buy now"]["hidden"] and posts["Buy now"]["hidden_by_rule"] == rule["id"]
    assert posts["Real news"]["hidden_by_rule"] is None

    dated = api("POST", "/rules", json={"action": "max_age", "days": 30}).get_json()["rule"]
    assert dated["days"] == 30 and dated["field"] is None and dated["source_id"] is None
    listed = api("GET", "/rules").get_json()["items"]
    assert [r["id"] for r in listed] == [dated["id"], rule["id"]]  # global first
    assert [r["id"] for r in api("GET", f"/rules?source_id={stored}").get_json()["items"]] == [
        rule["id"]]  # fmt: skip

    gone = api("DELETE", f"/rules/{rule['id']}")
    assert gone.status_code == 200 and gone.get_json()["shown"] == 2
    assert hidden_titles(db) == set()
    assert_problem(api("DELETE", f"/rules/{rule['id']}"), 404)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"action": "block", "field": "title", "pattern": "(?!x)"}, "pattern",
         "invalid perl operator"),
        ({"action": "block", "field": "title", "pattern": "a)"}, "pattern", "unexpected )"),
        ({"action": "block", "field": "title"}, "pattern", "a pattern is needed"),
        ({"action": "block", "pattern": "x"}, "field", "the field must be one of"),
        ({"action": "block", "field": "body", "pattern": "x"}, "field", ""),
        ({"action": "drop", "field": "title", "pattern": "x"}, "action", ""),
        ({"action": "max_age"}, "days", "days must be"),
        ({"action": "max_age", "days": 0}, "days", ""),
        ({"action": "block", "field": "title", "pattern": "x", "source_id": 999}, "source_id",
         "no source with id 999"),
        ({"action": "block", "field": "title", "pattern": "x", "color": "red"}, "color", ""),
    ],
)  # fmt: skip
@pytest.mark.parametrize("path", ["/rules", "/rules/preview"])
def test_api_refusals_are_422_naming_the_field(
    api: Api, path: str, body: dict, field: str, words: str
) -> None:
    problem = assert_problem(api("POST", path, json=body), 422, field)
    assert words in problem["detail"]
    assert api("GET", "/rules").get_json() == {"items": []}


def test_the_rules_are_in_the_openapi_document(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert {"get", "post"} <= set(document["paths"]["/rules"])
    assert "post" in document["paths"]["/rules/preview"]
    assert "delete" in document["paths"]["/rules/{rule_id}"]
    assert "RulePreview" in document["components"]["schemas"]


def test_a_large_scope_answers_with_the_job(api: Api, app: Flask, stored: int) -> None:
    reconfigure(app, RULES_SYNC_LIMIT=2)
    saved = api("POST", "/rules", json={"action": "keep", "field": "any", "pattern": "news"})
    assert saved.status_code == 201
    job = saved.get_json()["job"]
    assert job["kind"] == "rules_apply" and job["state"] == "queued" and job["total"] == 3
    followed = api("GET", f"/jobs/{job['id']}").get_json()
    assert followed["result"] == {"hidden": 0, "shown": 0}


def test_the_admin_follows_rules_jobs_apart_from_imports(
    app: Flask, client: FlaskClient, db: Database, stored: int
) -> None:
    reconfigure(app, RULES_SYNC_LIMIT=2)
    make_admin(db)
    sign_in(client)
    saved = post_form(client, "/admin/rules", "/admin/rules",
                      {"source_id": "", "action": "block", "field": "title", "pattern": "Buy",
                       "days": "", "intent": "save"})  # fmt: skip
    assert saved.status_code == 303 and "/admin/jobs/" in saved.headers["Location"]
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Filter rules applied to stored posts" in page and "0 of 3 posts done" in page
    assert "Job 1" in client.get("/admin/rules").get_data(as_text=True)
    assert "Imports in the background" not in client.get("/admin/opml/import").get_data(
        as_text=True)  # fmt: skip


def invoke(runner: FlaskCliRunner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(args=list(args))


def test_cli_add_list_test_and_delete(runner: FlaskCliRunner, db: Database, stored: int) -> None:
    tested = invoke(runner, "rules", "test", "title", "^Buy")
    assert tested.exit_code == 0, tested.output
    assert "Buy now" in tested.output and "Buy later" in tested.output
    assert "2 of the newest 3 posts (3 in all) would be hidden" in tested.output
    assert hidden_titles(db) == set()

    added = invoke(runner, "rules", "add", "--source", str(stored), "--block", "title", "now$")
    assert added.exit_code == 0, added.output
    assert "added rule" in added.output and "1 stored posts hidden" in added.output
    assert hidden_titles(db) == {"Buy now"}
    kept = invoke(runner, "rules", "add", "--keep", "any", "(?i)news|buy")
    assert kept.exit_code == 0, kept.output
    assert invoke(runner, "rules", "add", "--max-age", "30").exit_code == 0

    listed = invoke(runner, "rules", "list").output.splitlines()
    assert "global" in listed[0] and "keep any ~ /(?i)news|buy/" in listed[0]
    assert f"source {stored}" in listed[2] and "block title ~ /now$/" in listed[2]

    rule_id = listed[2].split()[0]
    deleted = invoke(runner, "rules", "delete", rule_id)
    assert deleted.exit_code == 0 and "1 brought back" in deleted.output
    assert hidden_titles(db) == set()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["add", "--block", "title", "(?<=a)b"], "invalid pattern: invalid perl operator"),
        (["add", "--block", "title"], "--block needs FIELD and PATTERN"),
        (["add", "title", "x"], "give one of"),
        (["add", "--keep", "body", "x"], "the field must be one of"),
        (["add", "--max-age", "-1"], "days must be"),
        (["add", "--source", "999", "--block", "title", "x"], "no source with id 999"),
        (["test", "title", "(unclosed"], "missing )"),
        (["delete", "41"], "no rule with id 41"),
    ],
)
def test_cli_refusals_say_why(runner: FlaskCliRunner, args: list[str], words: str) -> None:
    result = invoke(runner, "rules", *args)
    assert result.exit_code != 0 and words in result.output, result.output


def test_admin_editor_previews_saves_and_deletes(
    client: FlaskClient, db: Database, stored: int
) -> None:
    make_admin(db)
    sign_in(client)
    form = {"source_id": str(stored), "action": "block", "field": "title", "pattern": "^Buy",
            "days": ""}  # fmt: skip
    preview = post_form(client, "/admin/rules", "/admin/rules", {**form, "intent": "preview"})
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Preview (nothing saved)" in page
    assert "Buy now" in page and "Buy later" in page and "Real news" not in page
    assert "2 would be hidden" in page
    assert hidden_titles(db) == set()

    refused = post_form(client, "/admin/rules", "/admin/rules",
                        {**form, "pattern": "(?=x)", "intent": "save"})  # fmt: skip
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'id="pattern-error">invalid pattern: invalid perl operator' in page

    saved = post_form(client, "/admin/rules", "/admin/rules", {**form, "intent": "save"})
    assert saved.status_code == 303
    listing = client.get("/admin/rules").get_data(as_text=True)
    assert "2 stored posts hidden" in listing and "block title ~ /^Buy/" in listing
    assert hidden_titles(db) == {"Buy now", "Buy later"}
    posts = client.get("/admin/posts?state=hidden").get_data(as_text=True)
    assert posts.count('<span class="state state-paused">hidden</span> by rule 1') == 2

    confirm = client.get("/admin/rules/1/delete").get_data(as_text=True)
    assert "2 would be hidden" not in confirm and "0 would be hidden, 2 brought back" in confirm
    deleted = post_form(client, "/admin/rules/1/delete", "/admin/rules/1/delete", {})
    assert deleted.status_code == 303 and hidden_titles(db) == set()
    assert client.get("/admin/rules/1/delete").status_code == 404


def test_admin_date_rule_needs_days(client: FlaskClient, db: Database) -> None:
    make_admin(db)
    sign_in(client)
    refused = post_form(client, "/admin/rules", "/admin/rules",
                        {"source_id": "", "action": "max_age", "days": "soon",
                         "intent": "save"})  # fmt: skip
    assert refused.status_code == 422
    assert 'id="days-error">give a whole number of days' in refused.get_data(as_text=True)
    saved = post_form(client, "/admin/rules", "/admin/rules",
                      {"source_id": "", "action": "max_age", "days": "14", "field": "title",
                       "pattern": "", "intent": "save"})  # fmt: skip
    assert saved.status_code == 303
    assert "more than 14 days" in client.get("/admin/rules").get_data(as_text=True)
