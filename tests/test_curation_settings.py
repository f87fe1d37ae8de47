"""A source's curation settings (selectors, retention) through the API, its
OpenAPI document and the admin form; bad values refused with the reason."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient

from feedsvc.db import Database
from feedsvc.models import Source
from feedsvc.sources import add_source
from tests.admin_helpers import make_admin, post_form, sign_in
from tests.test_api import Api, assert_problem
from tests.test_api import api as api  # the fixture


def test_the_api_reads_and_writes_curation_settings(api: Api) -> None:
    created = api("POST", "/sources", json={"url": "http://example.org/feed", "check": False})
    source = created.get_json()
    assert (source["strip_selectors"], source["retain_days"], source["retain_per_source"]) == (
        [], None, None)  # fmt: skip
    changed = api("PATCH", f"/sources/{source['id']}", json={
        "strip_selectors": [".share", "aside.related"], "retain_days": 30,
        "retain_per_source": 0}).get_json()  # fmt: skip
    assert changed["strip_selectors"] == [".share", "aside.related"]
    assert (changed["retain_days"], changed["retain_per_source"]) == (30, 0)
    # Left out: unchanged; null: back to the global setting.
    again = api("PATCH", f"/sources/{source['id']}", json={"retain_days": None}).get_json()
    assert (again["retain_days"], again["retain_per_source"]) == (None, 0)
    assert again["strip_selectors"] == [".share", "aside.related"]
    bad = api("PATCH", f"/sources/{source['id']}", json={"strip_selectors": ["div["]})
    body = assert_problem(bad, 422, "strip_selectors")
    assert "is not a CSS selector" in body["detail"]
    assert_problem(api("PATCH", f"/sources/{source['id']}", json={"retain_days": -1}), 422)


def test_the_openapi_document_names_the_settings(api: Api) -> None:
    document = api("GET", "/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    for name in ("strip_selectors", "retain_days", "retain_per_source"):
        assert name in schemas["SourceUpdate"]["properties"]
        assert name in schemas["SourceOut"]["properties"]


def test_the_admin_form_saves_curation_settings(client: FlaskClient, db: Database) -> None:
    make_admin(db)
    sign_in(client)
    with db.session() as session:
        source_id = add_source(session, "http://example.org/feed", dt.datetime.now(dt.UTC)).id
    page = f"/admin/sources/{source_id}"
    assert 'name="strip_selectors"' in client.get(page).get_data(as_text=True)
    form = {"title": "T", "site_url": "", "tags": "", "mode": "full", "interval": "",
            "strip_selectors": ".share\r\n\r\n#ads", "retain_days": "14",
            "retain_per_source": ""}  # fmt: skip
    saved = post_form(client, page, page, form)
    assert saved.status_code == 302
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        assert (source.strip_selectors, source.retain_days, source.retain_per_source) == (
            [".share", "#ads"], 14, None)  # fmt: skip
    refused = post_form(client, page, page, {**form, "strip_selectors": "p[x"},
                        follow_redirects=True)  # fmt: skip
    assert "is not a CSS selector" in refused.get_data(as_text=True)
    with db.session() as session:
        assert session.get(Source, source_id).strip_selectors == [".share", "#ads"]  # type: ignore[union-attr]
