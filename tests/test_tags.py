"""Tags: variants in case and spacing are one tag; the sidebar shows a few."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient

from feedsvc.db import Database
from feedsvc.models import Post, Tag
from feedsvc.posts import create_local_post
from feedsvc.tags import sidebar_tags, tag_by_slug, tag_ids, tags_named

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def test_case_and_spacing_variants_find_the_first_tag(db: Database) -> None:
    with db.session() as session:
        (first,) = tag_ids(session, ["Giant Bomb"]).values()
        found = tag_ids(session, ["GiantBomb", "giant bomb", "GIANT-BOMB", " Giant  Bomb "])
        assert set(found.values()) == {first}
        # Two new variants in one call make one tag, named by the first.
        made = tag_ids(session, ["Retro Games", "RetroGames"])
        assert len(set(made.values())) == 1
        names = session.query(Tag.name).order_by(Tag.id).all()
        assert [name for (name,) in names] == ["Giant Bomb", "Retro Games"]
        # Different words stay different tags.
        assert tag_ids(session, ["Giant Bombs"])["Giant Bombs"] != first


def test_a_feeds_hostile_unicode_makes_one_visible_tag(db: Database) -> None:
    """A feed's categories are not checked as a person's are: a right-to-left
    override or a zero-width space is dropped from the name stored and shown
    (it would turn the page's text around it); full-width letters and
    ligatures find the same tag; joiners that scripts need are kept."""
    with db.session() as session:
        hostile = ["Giant\u202eBomb", "\u200bGiant\u200b Bomb\u2066", "ＧＩＡＮＴ ＢＯＭＢ",
                   "Giant\ufeffBomb", "ﬁsh\u200dtank"]  # fmt: skip
        found = tag_ids(session, hostile)
        assert len(set(found.values())) == 2
        names = [name for (name,) in session.query(Tag.name).order_by(Tag.id)]
        assert names == ["GiantBomb", "ﬁsh\u200dtank"]


def test_a_post_with_two_variants_is_tagged_once(db: Database) -> None:
    with db.session() as session:
        post = create_local_post(session, title="Both", body_html="<p>x</p>", now=NOW,
                                 summary_length=300, tags=["Giant Bomb", "GiantBomb"])  # fmt: skip
        assert [tag.name for tag in post.tags] == ["Giant Bomb"]


def add_tagged(db: Database, tags: list[str], count: int = 1) -> None:
    with db.session() as session:
        for n in range(count):
            create_local_post(session, title=f"{tags[0]} {n}", body_html="<p>x</p>", now=NOW,
                              summary_length=300, tags=tags)  # fmt: skip


def test_the_sidebar_merges_variants_stored_before_and_shows_fifteen(
    db: Database, client: FlaskClient
) -> None:
    add_tagged(db, ["Giant Bomb"], 2)
    with db.session() as session:
        # A variant stored before variants were merged: a tag of its own.
        older = Tag(slug="giantbomb", name="GiantBomb")
        post = create_local_post(session, title="Old", body_html="<p>x</p>", now=NOW,
                                 summary_length=300)  # fmt: skip
        post.tags = [older]
    for n in range(20):
        add_tagged(db, [f"Topic {n:02d}"])
    with db.session() as session:
        shown = sidebar_tags(session, 15)
        assert len(shown) == 15
        assert shown[0] == ("giant-bomb", "Giant Bomb", 3)
        assert "GiantBomb" not in [name for _, name, _ in shown]
        assert session.query(Post).count() == 23
    html = client.get("/").get_data(as_text=True)
    tags = html.split('<section aria-labelledby="tags-heading">', 1)[1].split("</section>", 1)[0]
    assert tags.count("<li>") == 15
    assert 'href="/tags/giant-bomb">Giant Bomb</a> <span class="meta">(3)</span>' in tags


def test_the_tags_named_are_made_once_and_found_by_slug(db: Database) -> None:
    with db.session() as session:
        assert tags_named(session, []) == [] and tags_named(session, ["  "]) == []
        (made,) = tags_named(session, ["Giant Bomb", "GiantBomb"])
        assert made.name == "Giant Bomb"
        assert [tag.id for tag in tags_named(session, ["giant bomb"])] == [made.id]
        assert tag_by_slug(session, made.slug) is made
        assert tag_by_slug(session, "no-such-tag") is None
