"""Curation, rewrite and each story once: tracking parameters off, a proxy's
link replaced by the publisher's, elements removed by selector, and the same
story from several sources published once, with the others as "also reported by"."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from feedsvc import links, selectors, stories
from feedsvc.db import Database
from feedsvc.models import Post, Source
from feedsvc.sources import add_source
from feedsvc.urls import is_plain_link
from tests.ingesting import store_feed
from tests.publish_helpers import ATOM_NS, check_feed
from tests.url_samples import JOIN_URIS, generated_uris, generated_web_urls

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)

WORDS = (  # noqa: SIM905
    "the city council voted on tuesday to expand the riverside park after months of debate "
    "residents who packed the hall argued that the green space would ease flooding while "
    "opponents warned about the cost of maintenance and the loss of parking near the market "
    "the plan now goes to the mayor who has two weeks to sign or veto the measure"
).split()
OTHER_WORDS = (  # noqa: SIM905
    "a new study of migrating birds found that songbirds crossing the desert fly higher at "
    "night than anyone expected riding strong tailwinds at altitudes above four kilometres "
    "the researchers fitted tiny trackers to dozens of warblers and followed them for three "
    "seasons recording temperature pressure and flight speed every few minutes "
    "their data show that the birds climb steeply at dusk level off once they find the best "
    "winds and descend again before dawn to rest in the shade of rocks and scattered shrubs "
    "the team says the findings could change how conservation groups protect stopover sites"
).split()


def text(words: list[str], edits: dict[int, str] | None = None) -> str:
    changed = list(words)
    for index, word in (edits or {}).items():
        changed[index] = word
    return " ".join(changed)


def rss_feed(title: str, items: list[dict[str, str]]) -> bytes:
    """RSS with FeedBurner's namespace, content:encoded and what else an item needs."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>',
        f"<title>{title}</title><link>http://example.org/</link><description>d</description>",
    ]
    for item in items:
        parts.append("<item>")
        for tag, value in item.items():
            parts.append(f"<{tag}>{value}</{tag}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def source(db: Database, url: str, **values: object) -> int:
    with db.session() as session:
        added = add_source(session, url, NOW, title=url.split("/")[2])
        for name, value in values.items():
            setattr(added, name, value)
        session.flush()
        return added.id


def ingest(db: Database, source_id: int, body: bytes, now: dt.datetime = NOW) -> None:
    store_feed(db, source_id, body, now)


def all_posts(db: Database) -> list[Post]:
    with db.session() as session:
        found = list(session.scalars(select(Post).order_by(Post.id)))
        for post in found:
            _ = post.source
        return found


# --- rewrite ---------------------------------------------------------------------


def test_tracking_parameters_are_recognised_from_the_data_file() -> None:
    for name in ("utm_source", "UTM_Campaign", "fbclid", "gclid", "dclid", "mc_cid", "mc_eid",
                 "igshid", "_hsenc", "_hsmi", "yclid"):  # fmt: skip
        assert links.is_tracking_param(name), name
    for name in ("id", "page", "q", "utm", "source"):
        assert not links.is_tracking_param(name), name
    url = "https://example.org/a?id=3&utm_source=rss&fbclid=x#frag"
    assert links.without_tracking(url) == "https://example.org/a?id=3#frag"
    untouched = "https://example.org/a?b=1&a=2;c"
    assert links.without_tracking(untouched) is untouched


def test_canonical_links_ignore_case_default_port_fragment_and_tracking() -> None:
    same = {
        links.canonical_link("HTTPS://News.Example.org:443/story?id=1&utm_medium=feed#top"),
        links.canonical_link("https://news.example.org/story?id=1"),
        links.canonical_link("https://news.example.org/story?gclid=9&id=1"),
    }
    assert same == {"https://news.example.org/story?id=1"}
    assert links.canonical_link("http://example.org:8080/a") == "http://example.org:8080/a"
    assert links.canonical_link("http://example.org/A") != links.canonical_link(
        "http://example.org/a"
    )
    assert links.canonical_link(None) is None


def test_a_link_already_canonical_is_given_back_as_rebuilding_it_would() -> None:
    """Most links take a shortcut (no urlsplit); it must answer as the rebuild does."""
    picked = ["http://example.org", "https://a-b.c-d.org/x/y;z", "http://e.org./a",
              "http://-x.org/", "http://x..org/", "http://e.org//a", "http://e.org/@x"]  # fmt: skip
    samples = [*picked, *JOIN_URIS, *generated_uris(20_000), *generated_web_urls(50_000, 2048)]
    shortcut = 0
    for url in samples:
        assert links.canonical_link(url) == links._rebuilt_canonical_link(url), url
        shortcut += is_plain_link(url)
    assert shortcut > 5_000  # the shortcut was taken, and checked, often


def test_ingest_takes_tracking_off_links_and_prefers_the_original_link(db: Database) -> None:
    feed = source(db, "http://proxy.example/feed")
    body = rss_feed("F", [
        {"guid": "a", "title": "Tracked",
         "link": "http://example.org/a?utm_source=rss&amp;utm_medium=feed&amp;id=1",
         "description": '&lt;p&gt;See &lt;a href="http://example.org/b?fbclid=XYZ&amp;amp;x=1"&gt;'
                        'this&lt;/a&gt; and &lt;img src="http://example.org/i.png?mc_cid=1"&gt;'
                        '&lt;a href="http://example.org/plain?keep=1"&gt;that&lt;/a&gt;&lt;/p&gt;'},
        {"guid": "b", "title": "Proxied",
         "link": "http://feedproxy.google.com/~r/Example/~3/abc/",
         "feedburner:origLink": "http://example.org/real?utm_campaign=x",
         "description": "Body"},
    ])  # fmt: skip
    ingest(db, feed, body)
    tracked, proxied = all_posts(db)
    assert tracked.link == "http://example.org/a?id=1"
    assert 'href="http://example.org/b?x=1"' in tracked.content
    assert 'src="http://example.org/i.png"' in tracked.content
    assert 'href="http://example.org/plain?keep=1"' in tracked.content
    assert "fbclid" not in tracked.content and "mc_cid" not in tracked.content
    assert proxied.link == "http://example.org/real"
    assert proxied.canonical_link == "http://example.org/real"


def test_selectors_remove_elements_before_sanitizing(db: Database) -> None:
    feed = source(db, "http://shares.example/feed",
                  strip_selectors=[".share-bar", "aside#related", "div.ad > p"])  # fmt: skip
    html = (
        '<p>Story text.</p><div class="share-bar">Share on <a href="http://x.test/">X</a></div>'
        '<aside id="related">Related posts</aside><div class="ad"><p>Buy now</p></div>'
        "<p>The end.</p>"
    )
    body = rss_feed("F", [{"guid": "a", "title": "T", "link": "http://shares.example/a",
                           "content:encoded": f"<![CDATA[{html}]]>"}])  # fmt: skip
    ingest(db, feed, body)
    (post,) = all_posts(db)
    assert "Story text." in post.content and "The end." in post.content
    for gone in ("Share on", "Related posts", "Buy now"):
        assert gone not in post.content


def test_a_bad_selector_is_refused_with_the_engines_reason() -> None:
    with pytest.raises(selectors.BadSelector, match="is not a CSS selector"):
        selectors.check_selectors([".ok", "div[unclosed"])
    assert selectors.check_selectors([" .a ", "", "#b"]) == [".a", "#b"]


# --- each story once -------------------------------------------------------------


def story_items(prefix: str, variant: int) -> list[dict[str, str]]:
    """The same two stories as three sources write them."""
    link_forms = [
        "https://news.example.org/park?utm_source=a",
        "HTTPS://NEWS.example.org:443/park#comments",
        "https://news.example.org/park?fbclid=zz",
    ]
    titles = ["Birds fly higher than thought", "Birds Fly Higher Than Thought!",
              "birds fly higher than thought"]  # fmt: skip
    edits = [{}, {5: "at"}, {40: "dozen"}]
    return [
        {"guid": f"{prefix}-park", "title": "Council expands riverside park",
         "link": link_forms[variant], "description": text(WORDS)},
        {"guid": f"{prefix}-birds", "title": titles[variant],
         "link": f"http://{prefix}.example/birds",
         "description": text(OTHER_WORDS, edits[variant])},
    ]  # fmt: skip


def test_the_same_stories_from_three_sources_are_published_once(db: Database) -> None:
    ids = [source(db, f"http://{name}.example/feed") for name in ("one", "two", "three")]
    for variant, (source_id, name) in enumerate(zip(ids, ("one", "two", "three"), strict=True)):
        ingest(db, source_id, rss_feed(name, story_items(name, variant)),
               NOW + dt.timedelta(minutes=variant))  # fmt: skip
    posts = all_posts(db)
    visible = [p for p in posts if not p.hidden]
    assert {(p.source_id, p.title) for p in visible} == {
        (ids[0], "Council expands riverside park"),
        (ids[0], "Birds fly higher than thought"),
    }
    by_id = {p.id: p for p in posts}
    for post in posts:
        if post.source_id == ids[0]:
            assert post.duplicate_of_id is None
        else:
            original = by_id[post.duplicate_of_id]  # type: ignore[index]
            assert original.source_id == ids[0] and post.hidden
            assert stories.title_key(original.title) == stories.title_key(post.title)


def test_one_group_of_sources_keeps_the_first_of_a_story(db: Database) -> None:
    from feedsvc.fetched import FetchResult
    from feedsvc.ingest.load import load_target
    from feedsvc.ingest.pipeline import Fetched, record
    from feedsvc.ingest.settings import IngestSettings
    from feedsvc.ingest.types import PrepareSettings
    from feedsvc.ingest.work import work

    ids = [source(db, f"http://{name}.example/feed") for name in ("one", "two")]
    fetched = []
    with db.session(write=False) as session:
        for name, source_id in zip(("one", "two"), ids, strict=True):
            target = load_target(session, source_id)
            result = FetchResult(
                target.feed_url,
                target.feed_url,
                200,
                {},
                rss_feed(name, story_items(name, ids.index(source_id))),
            )
            fetched.append(Fetched(target, result, work(result, target, PrepareSettings(),
                                                       frozenset())))  # fmt: skip
    record(db, fetched, NOW, IngestSettings())
    posts = all_posts(db)
    assert sorted((p.source_id, p.hidden) for p in posts) == [
        (ids[0], False),
        (ids[0], False),
        (ids[1], True),
        (ids[1], True),
    ]
    assert all(p.duplicate_of_id is not None for p in posts if p.source_id == ids[1])


def test_similar_but_different_stories_are_never_merged(db: Database) -> None:
    first = source(db, "http://first.example/feed")
    second = source(db, "http://second.example/feed")
    ingest(db, first, rss_feed("A", [
        {"guid": "a1", "title": "Weekly update", "link": "http://first.example/w",
         "description": text(WORDS)},
        {"guid": "a2", "title": "Council expands riverside park", "link": "http://first.example/p",
         "description": text(WORDS)},
    ]))  # fmt: skip
    ingest(db, second, rss_feed("B", [
        # The same title, another text.
        {"guid": "b1", "title": "Weekly update", "link": "http://second.example/w",
         "description": text(OTHER_WORDS)},
        # The same text under another title.
        {"guid": "b2", "title": "Park vote", "link": "http://second.example/p",
         "description": text(WORDS)},
        # The same title and a text a fifth rewritten (Jaccard well below 0.9).
        {"guid": "b3", "title": "Council expands riverside park",
         "link": "http://second.example/p2",
         "description": text(WORDS, {i: f"changed{i}" for i in range(0, len(WORDS), 5)})},
    ]), NOW + dt.timedelta(minutes=1))  # fmt: skip
    # Within one source: the same story twice is the ingest's business, never merged here.
    ingest(db, first, rss_feed("A", [
        {"guid": "a3", "title": "Council expands riverside park", "link": "http://first.example/p3",
         "description": text(WORDS)},
    ]), NOW + dt.timedelta(minutes=2))  # fmt: skip
    assert [p for p in all_posts(db) if p.hidden or p.duplicate_of_id] == []


def test_text_older_than_the_window_is_not_compared(db: Database) -> None:
    first = source(db, "http://first.example/feed")
    second = source(db, "http://second.example/feed")
    ingest(db, first, rss_feed("A", [{"guid": "a", "title": "Council expands riverside park",
                                      "link": "http://first.example/p",
                                      "description": text(WORDS)}]))  # fmt: skip
    later = NOW + dt.timedelta(days=stories.WINDOW_DAYS, hours=1)
    ingest(db, second, rss_feed("B", [{"guid": "b", "title": "Council expands riverside park",
                                       "link": "http://second.example/p",
                                       "description": text(WORDS)}]), later)  # fmt: skip
    assert not any(p.hidden for p in all_posts(db))


def merged(db: Database) -> None:
    ids = [source(db, f"http://{name}.example/feed") for name in ("one", "two", "three")]
    for variant, (source_id, name) in enumerate(zip(ids, ("one", "two", "three"), strict=True)):
        ingest(db, source_id, rss_feed(name, story_items(name, variant)),
               NOW + dt.timedelta(minutes=variant))  # fmt: skip


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_feeds_carry_also_reported_by_and_stay_valid(
    client: FlaskClient, db: Database, fmt: str
) -> None:
    merged(db)
    response = client.get(f"/feeds/posts.{fmt}")
    assert response.status_code == 200
    parsed = check_feed(fmt, response.data)
    if fmt == "json":
        items = {item["title"]: item for item in parsed["items"]}
        assert len(items) == 2
        birds = items["Birds fly higher than thought"]["_also_reported_by"]
        assert [(o["title"], o["url"]) for o in birds] == [
            ("two.example", "http://two.example/birds"),
            ("three.example", "http://three.example/birds"),
        ]
    elif fmt == "atom":
        from lxml import etree

        root = etree.fromstring(response.data)
        entries = root.findall(ATOM_NS + "entry")
        assert len(entries) == 2
        related = {
            entry.findtext(ATOM_NS + "title"): [
                (link.get("title"), link.get("href"))
                for link in entry.findall(ATOM_NS + "link")
                if link.get("rel") == "related"
            ]
            for entry in entries
        }
        assert related["Council expands riverside park"] == [
            ("two.example", "HTTPS://NEWS.example.org:443/park#comments"),
            ("three.example", "https://news.example.org/park"),
        ]
    else:
        assert len(parsed.entries) == 2


def test_the_post_page_lists_the_other_sources(client: FlaskClient, db: Database) -> None:
    merged(db)
    original = next(p for p in all_posts(db) if p.title == "Birds fly higher than thought")
    page = client.get(f"/posts/{original.id}-{original.slug}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Also reported by" in html
    assert 'href="http://two.example/birds"' in html and "three.example" in html
    duplicate = next(p for p in all_posts(db) if p.duplicate_of_id == original.id)
    assert client.get(f"/posts/{duplicate.id}-{duplicate.slug}").status_code == 404


def test_deleting_the_original_takes_its_duplicates(db: Database) -> None:
    merged(db)
    with db.session() as session:
        first = session.scalars(select(Source).order_by(Source.id)).first()
        session.execute(Post.__table__.delete().where(Post.source_id == first.id))  # type: ignore[union-attr]
    assert all_posts(db) == []


def test_a_duplicate_an_admin_shows_is_a_post_of_its_own(db: Database) -> None:
    from feedsvc.posts import also_reported_by, set_visibility

    merged(db)
    duplicate = next(p for p in all_posts(db) if p.duplicate_of_id is not None)
    original_id = duplicate.duplicate_of_id
    with db.session() as session:
        post = session.get(Post, duplicate.id)
        assert post is not None
        set_visibility(session, post, NOW, hidden=False)
    with db.session() as session:
        shown = session.get(Post, duplicate.id)
        assert shown is not None and not shown.hidden and shown.duplicate_of_id is None
        assert original_id is not None
        others = also_reported_by(session, [original_id]).get(original_id, [])
        assert duplicate.id not in [p.id for p in others]


def test_posts_stored_before_canonical_links_get_one_when_seen_again(db: Database) -> None:
    first = source(db, "http://first.example/feed")
    second = source(db, "http://second.example/feed")
    item = {"guid": "a", "title": "Park", "link": "http://news.example/park?utm_source=x",
            "description": text(WORDS)}  # fmt: skip
    ingest(db, first, rss_feed("A", [item]))
    with db.session() as session:
        # As a post stored before this version: no canonical link, an older entry hash.
        session.execute(Post.__table__.update().values(canonical_link=None, entry_hash="old"))  # type: ignore[attr-defined]
    ingest(db, first, rss_feed("A", [item]), NOW + dt.timedelta(hours=1))
    (post,) = all_posts(db)
    assert post.canonical_link == "http://news.example/park"
    ingest(db, second, rss_feed("B", [{**item, "guid": "b", "title": "Another title"}]),
           NOW + dt.timedelta(hours=2))  # fmt: skip
    assert [p.duplicate_of_id for p in all_posts(db)] == [None, post.id]


def test_a_story_is_looked_up_by_its_title_in_words() -> None:
    key = stories.story_bands("Storm closes the harbour")
    assert len(key) == 1 and key == stories.story_bands("  storm CLOSES the harbour!")
    assert not set(key) & set(stories.story_bands("Storm closes the airport"))
    assert stories.story_bands("?!") == ()


def test_an_atom_entry_links_each_other_address_once() -> None:
    from lxml import etree

    from feedsvc.publish.feeds import ATOM, AlsoReported, FeedEntry, FeedSpec, render

    entry = FeedEntry(
        id="urn:uuid:00000000-0000-0000-0000-000000000001", title="T", url="http://h.test/p",
        published=NOW, updated=NOW, summary="S",
        also_reported_by=(AlsoReported("A", "http://a.test/f", "http://x.test/1"),
                          AlsoReported("B", "http://b.test/f", "http://x.test/1"),
                          AlsoReported("C", "http://c.test/f", None)),
    )  # fmt: skip
    spec = FeedSpec(id="http://h.test/feeds/posts", title="F", subtitle="S",
                    self_url="http://h.test/feeds/posts.atom", alternate_url="http://h.test/",
                    updated=NOW, author="a")  # fmt: skip
    body = render(ATOM, spec, [entry])
    check_feed("atom", body)
    links = etree.fromstring(body).findall(f"{ATOM_NS}entry/{ATOM_NS}link[@rel='related']")
    assert [(link.get("href"), link.get("title")) for link in links] == [("http://x.test/1", "A")]
