"""A source's upstream categories as tags: kept or not, renamed or dropped —
the process step, the checks, and every door (admin, API, CLI)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner

from feedsvc.db import Database
from feedsvc.fields import FieldError, category_lines, check_category_names, parse_category_lines
from feedsvc.filtering import Rule
from feedsvc.ingest.prepare import PreparedEntry
from feedsvc.ingest.process import STEPS, run_steps, upstream_categories
from feedsvc.ingest.types import Target
from feedsvc.models import Post, Source
from feedsvc.sources import add_source, update_source
from tests.admin_helpers import bearer, make_admin, make_token, post_form, sign_in
from tests.feedserver import rss
from tests.ingesting import store_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
TAGS = ("Giant Bomb", "GiantBomb", "Uncategorized", "Games")


def entry(tags: tuple[str, ...] = TAGS) -> PreparedEntry:
    values: dict[str, Any] = {"link": "http://a.test/1", "image_url": None, "title": "T",
                              "content": "", "summary": "", "enclosures": [],
                              "author": None}  # fmt: skip
    return PreparedEntry(key="k", values=values, tags=tags, entry_hash="h")


def target(keep: bool = True, **names: str) -> Target:
    return Target(1, "http://a.test/feed", keep_categories=keep,
                  category_names=tuple(names.items()))  # fmt: skip


def test_categories_are_kept_renamed_dropped_or_not_kept() -> None:
    assert upstream_categories(entry(), target()).tags == TAGS
    renamed = upstream_categories(
        entry(), Target(1, "http://a.test/feed",
                        category_names=(("giant bomb", "Video games"), ("UNCATEGORIZED", "")))
    )  # fmt: skip
    # Matched in any case and spacing; two categories renamed alike become one tag.
    assert renamed.tags == ("Video games", "Games")
    assert upstream_categories(entry(), target(keep=False)).tags == ()
    assert upstream_categories(entry(()), target(keep=False)).tags == ()


def test_the_filter_rules_see_the_tags_as_they_will_be_stored() -> None:
    assert STEPS.index(upstream_categories) < [step.__name__ for step in STEPS].index(
        "filter_rules"
    )
    rule = Rule(id=7, action="block", field="tags", pattern="^Video games$")
    names = (("GiantBomb", "Video games"),)
    hidden = run_steps(entry(), Target(1, "http://a.test/feed", rules=(rule,),
                                       category_names=names), STEPS)  # fmt: skip
    assert hidden is not None and hidden.values["hidden_by_rule"] == 7


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        (["a"], "an object"),
        ({"a": 1}, "is text"),
        ({1: "a"}, "is text"),
        ({"Giant Bomb": "x", "GiantBomb": "y"}, "are one category"),
        ({"a\u202eb": "x"}, "invisible control character"),
        ({"x": "b\u200b"}, "invisible control character"),
        ({"!!!": "x"}, "a letter or a digit"),
        ({"x": "???"}, "a letter or a digit"),
        ({"x" * 201: ""}, "at most 200 characters"),
        ({f"c{n}": "" for n in range(201)}, "at most 200 categories"),
    ],
)
def test_bad_category_names_are_refused_saying_why(names: object, reason: str) -> None:
    with pytest.raises(FieldError, match=reason) as refused:
        check_category_names(names)
    assert refused.value.field == "category_names"


def test_category_lines_as_typed() -> None:
    typed = "GiantBomb = Giant Bomb\n\n  Uncategorized =  \nA=B=C\n"
    names = parse_category_lines(typed)
    assert names == {"GiantBomb": "Giant Bomb", "Uncategorized": "", "A": "B=C"}
    assert parse_category_lines(category_lines(names)) == names
    for bad in ("no equals sign", " = New name"):
        with pytest.raises(FieldError, match="line 1: write 'category = new name'"):
            parse_category_lines(bad)
    # Named twice: refused, not the last line silently taken.
    with pytest.raises(FieldError, match="line 3: 'Games' is named on line 1 already"):
        parse_category_lines("Games = Play\nNews = \n Games = Fun")


def test_renames_apply_once_a_swap_is_no_loop() -> None:
    swapped = upstream_categories(entry(("Games", "News")), target(Games="News", News="Games"))
    assert swapped.tags == ("News", "Games")
    chained = upstream_categories(entry(("A1",)), target(A1="B1", B1="C1"))
    assert chained.tags == ("B1",)


def tags_of(db: Database) -> dict[str, list[str]]:
    with db.session() as session:
        return {post.title: sorted(tag.name for tag in post.tags)
                for post in session.query(Post)}  # fmt: skip


def test_changed_options_apply_to_the_entries_of_the_next_fetch(db: Database) -> None:
    body = rss("Casts", [{"guid": f"e{n}", "title": f"Episode {n}", "link": f"http://a.test/{n}",
                          "category": "Giant Bomb</category><category>Uncategorized"}
                         for n in range(2)])  # fmt: skip
    with db.session() as session:
        source_id = add_source(session, "http://a.test/feed.xml", NOW).id
    store_feed(db, source_id, body, NOW)
    assert tags_of(db)["Episode 0"] == ["Giant Bomb", "Uncategorized"]
    with db.session() as session:
        update_source(session, session.get(Source, source_id), NOW,
                      category_names={"Uncategorized": "", "GiantBomb": "Games"})  # fmt: skip
    # The same body again: its entries are processed again, not skipped as unchanged.
    store_feed(db, source_id, body, NOW + dt.timedelta(hours=1))
    assert tags_of(db) == {"Episode 0": ["Games"], "Episode 1": ["Games"]}
    with db.session() as session:
        update_source(session, session.get(Source, source_id), NOW, keep_categories=False)
    store_feed(db, source_id, body, NOW + dt.timedelta(hours=2))
    assert tags_of(db) == {"Episode 0": [], "Episode 1": []}


def test_the_admin_sets_them_and_keeps_a_bad_line_as_typed(
    client: FlaskClient, db: Database
) -> None:
    make_admin(db)
    sign_in(client)
    with db.session() as session:
        source_id = add_source(session, "http://a.test/feed.xml", NOW).id
    page = f"/admin/sources/{source_id}"
    html = client.get(page).get_data(as_text=True)
    assert 'name="keep_categories" value="1" checked' in html
    form = {
        "title": "Casts",
        "keep_categories": ["0"],
        "category_names": "GiantBomb = Giant Bomb\nOld =",
    }
    saved = post_form(client, page, page, form)
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None and source.keep_categories is False
        assert source.category_names == {"GiantBomb": "Giant Bomb", "Old": ""}
    html = client.get(page).get_data(as_text=True)
    assert 'name="keep_categories" value="1" >' in html.replace("  ", " ")
    assert "GiantBomb = Giant Bomb\nOld =</textarea>" in html
    typed = "Fine = Good\nno equals here"
    refused = post_form(client, page, page, {"title": "Casts", "keep_categories": ["0", "1"],
                                             "category_names": typed})  # fmt: skip
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert f"{typed}</textarea>" in html and "line 2: write" in html
    assert 'name="keep_categories" value="1" checked' in html
    with db.session() as session:  # nothing saved
        assert session.get(Source, source_id).keep_categories is False  # type: ignore[union-attr]


def test_the_api_sets_them_and_refuses_bad_ones(client: FlaskClient, db: Database) -> None:
    make_admin(db)
    headers = bearer(make_token(db))
    with db.session() as session:
        source_id = add_source(session, "http://a.test/feed.xml", NOW).id
    path = f"/api/v1/sources/{source_id}"
    before = client.get(path, headers=headers).get_json()
    assert (before["keep_categories"], before["category_names"]) == (True, {})
    changed = client.patch(path, headers=headers, json={
        "keep_categories": False, "category_names": {"Uncategorized": ""}}).get_json()  # fmt: skip
    assert (changed["keep_categories"], changed["category_names"]) == (False, {"Uncategorized": ""})
    for bad in ({"category_names": {"a": "x", "A": "y"}}, {"category_names": {"!!": ""}},
                {"category_names": ["a"]}, {"keep_categories": "yes"}):  # fmt: skip
        refused = client.patch(path, headers=headers, json=bad)
        assert 400 <= refused.status_code < 500 and refused.status_code != 404, bad
        assert refused.mimetype == "application/problem+json"
        field = refused.get_json().get("field") or ""
        assert field.startswith(next(iter(bad))), refused.get_json()
    assert client.get(path, headers=headers).get_json()["category_names"] == {"Uncategorized": ""}


def test_the_cli_sets_them(runner: FlaskCliRunner, db: Database) -> None:
    with db.session() as session:
        source_id = add_source(session, "http://a.test/feed.xml", NOW).id
    result = runner.invoke(args=["sources", "set", str(source_id), "--no-keep-categories",
                                 "--category", "GiantBomb = Giant Bomb",
                                 "--category", "Uncategorized ="])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "categories not kept" in result.output
    with db.session() as session:
        source = session.get(Source, source_id)
        assert source is not None and source.keep_categories is False
        assert source.category_names == {"GiantBomb": "Giant Bomb", "Uncategorized": ""}
    result = runner.invoke(args=["sources", "set", str(source_id), "--keep-categories",
                                 "--clear-categories"])  # fmt: skip
    assert result.exit_code == 0 and "categories kept, as they are" in result.output
    refused = runner.invoke(args=["sources", "set", str(source_id), "--category", "no sign"])
    assert refused.exit_code == 1 and "line 1: write 'category = new name'" in refused.output


def test_categories_in_other_scripts_become_tags_with_pages_and_feeds(
    client: FlaskClient, db: Database
) -> None:
    """A Russian or Japanese feed's categories are tags too (they were dropped,
    having no Latin letter to make an address of): one tag per name in any case."""
    from feedsvc.fields import tag_slug
    from feedsvc.models import Tag

    with db.session() as session:
        source_id = add_source(session, "http://a.test/feed.xml", NOW).id
    body = rss("Новости", [{"guid": "r1", "title": "Выборы", "link": "http://a.test/r1",
                            "category": "Россия</category><category>日本語"},
                           {"guid": "r2", "title": "Погода", "link": "http://a.test/r2",
                            "category": "РОССИЯ"}])  # fmt: skip
    store_feed(db, source_id, body, NOW)
    tags = tags_of(db)
    (russia,) = tags["Погода"]  # one tag, spelt as one of its entries first had it
    assert russia in ("Россия", "РОССИЯ") and tags["Выборы"] == sorted([russia, "日本語"])
    slug = tag_slug("Россия")
    assert slug == tag_slug("РОССИЯ") != tag_slug("日本語") != ""
    with db.session() as session:
        assert session.query(Tag).filter_by(slug=slug).one().name == russia
    page = client.get(f"/tags/{slug}")
    assert page.status_code == 200
    assert "Выборы" in page.get_data(as_text=True) and "Погода" in page.get_data(as_text=True)
    feed = client.get(f"/feeds/tags/{slug}.atom").get_data(as_text=True)
    assert "Выборы" in feed and "Погода" in feed
