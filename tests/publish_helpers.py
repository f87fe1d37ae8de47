"""Posts that make feed writers stumble, and checks that a feed is well formed."""

from __future__ import annotations

import datetime as dt
import json
import re
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedparser
from jsonschema import Draft202012Validator, FormatChecker
from lxml import etree
from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.models import Post
from feedsvc.popularity import record_view
from feedsvc.posts import create_local_post
from feedsvc.sources import add_source
from tests.feedserver import rss
from tests.ingesting import store_feed

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
ATOM_NS = "{http://www.w3.org/2005/Atom}"
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "jsonfeed-1.1.json").read_text())
UPSTREAM_URL = "http://upstream.example/feed.xml"

TRICKY_ITEMS = [
    {
        "guid": "urn:tricky:cdata",
        "title": "Ends with ]]&gt; and &amp;amp; entities",
        "link": "http://upstream.example/cdata",
        # "]]>" inside CDATA has to be split across two sections.
        "description": "<![CDATA[<p>Code: <code>a]]]]><![CDATA[>b</code>"
        " &amp;copy; &lt;tag&gt;</p>]]>",
        "pubDate": "Mon, 23 Nov 2026 09:00:00 GMT",
        "category": "Python",
    },
    {
        "guid": "urn:tricky:nodate",
        "title": "No date at all, emoji 🎉 and עברית",
        "link": "http://upstream.example/nodate",
        "description": "&lt;p dir=&quot;rtl&quot;&gt;שלום עולם 🎉&lt;/p&gt;",
    },
    {
        "guid": "urn:tricky:german",
        "title": "Tagged in German",
        "link": "http://upstream.example/german",
        "description": "Ein Beitrag.",
        "pubDate": "Sun, 22 Nov 2026 09:00:00 GMT",
        "category": "Über uns",
    },
]


def add_tricky_posts(db: Database) -> None:
    """Ingested and local posts with entities, ]]>, control characters, emoji,
    right-to-left text, a 500-character title and a missing date."""
    body = rss("Upstream & Co", TRICKY_ITEMS, link="http://upstream.example/")
    with db.session() as session:
        source = add_source(session, UPSTREAM_URL, NOW, title="Upstream & Co")
        source.site_url = "http://upstream.example/"
    store_feed(db, source.id, body, NOW)
    with db.session() as session:
        create_local_post(
            session,
            title="Long\x01 &copy; " + "title " * 98,
            # "x < y" and "&copy;" are text that reads like markup (the W3C
            # validator's NotHtml and ContainsUndeclaredHTML).
            body_html="<p>Local ]]> &amp; <b>bold</b> \x02 text</p>"
            "<p><code>x &lt; y &amp;copy;</code></p>",
            now=NOW - dt.timedelta(hours=1),
            summary_length=300,
            tags=["Python"],
        )
        create_local_post(
            session,
            title="Plain local post",
            body_html="<p>Nothing odd.</p>",
            now=NOW - dt.timedelta(hours=2),
            summary_length=300,
        )
    with db.session() as session:
        # Every post read at least once, so the popular feeds have them all.
        for post_id in session.scalars(select(Post.id)).all():
            for reader in range(post_id):
                record_view(session, post_id, f"reader-{reader}", dt.datetime.now(dt.UTC).date())


def check_feed(fmt: str, body: bytes) -> Any:
    """Assert the document is clean for its format; return it parsed."""
    if fmt == "json":
        document = json.loads(body)
        Draft202012Validator(SCHEMA, format_checker=FormatChecker()).validate(document)
        for item in document["items"]:
            for key in ("date_published", "date_modified"):
                assert dt.datetime.fromisoformat(item[key]).tzinfo is not None
        return document
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    root = etree.fromstring(body)
    if fmt == "atom":
        check_atom(root)
    else:
        check_rss(root)
        # The W3C validator's CharacterData (the RSS Best Practices Profile):
        # "&", "<" and ">" in RSS are written as hexadecimal character references.
        for entity in (b"&amp;", b"&lt;", b"&gt;"):
            assert entity not in body, f"RSS writes {entity!r}, not a hexadecimal reference"
    return parsed


# What the W3C validator takes for HTML in text: an end tag or an entity.
LOOKS_LIKE_HTML = re.compile(r"</\w+>|&#?\w+")
# "<" that starts no tag, comment or end tag: not HTML (the validator's NotHtml).
STRAY_LESS_THAN = re.compile(r"<(?![A-Za-z/!])")


def check_text_construct(element: etree._Element) -> None:
    """Atom text that reads like markup is declared html (ContainsUndeclaredHTML);
    html is HTML, a plain "<" escaped."""
    kind = element.get("type", "text")
    text = element.text or ""
    if kind == "text":
        assert not LOOKS_LIKE_HTML.search(text), f"undeclared HTML in {element.tag}: {text!r}"
    elif kind == "html":
        assert not STRAY_LESS_THAN.search(text), f"not HTML in {element.tag}: {text!r}"


def check_atom(feed: etree._Element) -> None:
    """The structure RFC 4287 requires of a feed and its entries."""
    assert feed.tag == ATOM_NS + "feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(ATOM_NS + name)) == 1, name
    selfs = [link for link in feed.findall(ATOM_NS + "link") if link.get("rel") == "self"]
    assert len(selfs) == 1
    feed_has_author = feed.find(ATOM_NS + "author") is not None
    ids = []
    for entry in feed.findall(ATOM_NS + "entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(ATOM_NS + name)) == 1, name
        for name in ("title", "summary", "content"):
            for construct in entry.findall(ATOM_NS + name):
                check_text_construct(construct)
        ids.append(entry.findtext(ATOM_NS + "id"))
        assert feed_has_author or entry.find(ATOM_NS + "author") is not None
        links = entry.findall(ATOM_NS + "link")
        alternates = [link for link in links if link.get("rel", "alternate") == "alternate"]
        assert len(alternates) <= 1
        assert entry.find(ATOM_NS + "content") is not None or alternates
        for stamp in ("updated", "published"):
            text = entry.findtext(ATOM_NS + stamp)
            if text is not None:
                assert dt.datetime.fromisoformat(text).tzinfo is not None
        # The W3C validator's MissingSourceElement: a source names id, title and updated.
        for origin in entry.findall(ATOM_NS + "source"):
            for name in ("id", "title", "updated"):
                assert len(origin.findall(ATOM_NS + name)) == 1, f"atom:source lacks {name}"
            assert dt.datetime.fromisoformat(origin.findtext(ATOM_NS + "updated")).tzinfo
    assert len(ids) == len(set(ids))


def check_rss(rss_root: etree._Element) -> None:
    channel = rss_root.find("channel")
    assert channel is not None
    for name in ("title", "link", "description"):
        assert channel.find(name) is not None, name
    selfs = [link for link in channel.findall(ATOM_NS + "link") if link.get("rel") == "self"]
    assert len(selfs) == 1
    for item in channel.findall("item"):
        guid = item.find("guid")
        assert guid is not None and guid.text
        # Our guids are urn:uuid ids, not addresses: say so.
        assert guid.get("isPermaLink") == "false"
        assert parsedate_to_datetime(item.findtext("pubDate") or "").tzinfo is not None
        # description is HTML, so a plain "<" comes escaped.
        description = item.findtext("description") or ""
        assert not STRAY_LESS_THAN.search(description), description
