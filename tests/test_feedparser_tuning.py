"""feedparser, tuned for speed (feedsvc/ingest/feedparser_tuning.py), gives the
answers it gave untuned: lookups key by key, and whole feeds parsed both ways."""

from __future__ import annotations

import copy
import xml.sax

import feedparser
import feedparser.api
import feedparser.mixin
import pytest
from feedparser.util import FeedParserDict

from feedsvc.ingest import feedparser_tuning as tuning
from feedsvc.urls import joins_to_itself
from tests.url_samples import JOIN_BASES, JOIN_URIS, generated_uris

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Show &amp; tell</title><link>http://example.org/</link>
<description>About &lt;b&gt;things&lt;/b&gt;</description><itunes:explicit>true</itunes:explicit>
<image><url>http://example.org/i.png</url><title>i</title><link>http://example.org/</link></image>
<item><title>One &lt;em&gt;two&lt;/em&gt;</title><link>/posts/1?a=1&amp;b=2</link>
<guid isPermaLink="false">tag:example.org,2026:1</guid><category domain="d">news</category>
<category>tech</category><dc:creator>Ann</dc:creator>
<pubDate>Sun, 01 Nov 2026 08:00:00 GMT</pubDate>
<description>&lt;p&gt;Hello &amp;amp; &lt;a href="/x"&gt;world&lt;/a&gt;&lt;/p&gt;</description>
<content:encoded><![CDATA[<p>Full <img src="a.png"> text</p>]]></content:encoded>
<enclosure url="http://example.org/a.mp3" length="12" type="audio/mpeg"/>
<itunes:duration>01:02:03</itunes:duration></item>
<item><title>Plain</title><description>just text</description></item>
<item><title>Quotes \xc2\x93so\xc2\x94 \xe2\x80\x9cso\xe2\x80\x9d</title>
<description>caf\xc3\xa9 \xc2\x80 &#128; &#x9f; \xe6\x97\xa5\xe6\x9c\xac</description></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en" xml:base="http://example.org/blog/">
<title type="html">A &lt;i&gt;blog&lt;/i&gt;</title><id>urn:x</id>
<updated>2026-11-01T00:00:00Z</updated>
<link rel="self" href="feed.atom"/><link rel="hub" href="http://hub.example.org/"/>
<author><name>Bo</name><email>bo@example.org</email></author>
<entry><title>E</title><id>urn:e1</id><updated>2026-11-02T00:00:00Z</updated>
<published>2026-11-01T00:00:00Z</published><link href="e1"/><link rel="enclosure" href="v.mp4"/>
<link rel="license" href="http://creativecommons.org/licenses/by/4.0/"/>
<category term="t1" label="T one"/><summary type="text">short</summary>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x <b>y</b></p></div></content>
<source><id>urn:src</id><title>Src</title><updated>2026-10-01T00:00:00Z</updated></source></entry>
<entry><title>F</title><id>urn:e2</id><updated>2026-11-03T00:00:00Z</updated>
<content type="html" xml:lang="fr">&lt;p&gt;Bonjour&lt;/p&gt;</content></entry>
</feed>"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="http://example.org/"><title>R</title><link>http://example.org/</link>
<description>d</description></channel>
<item rdf:about="http://example.org/1"><title>I</title><link>http://example.org/1</link></item>
</rdf:RDF>"""


@pytest.fixture
def untuned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FeedParserDict, "__getitem__", tuning._ruled_getitem)
    monkeypatch.setattr(FeedParserDict, "get", tuning._ruled_get)
    monkeypatch.setattr(FeedParserDict, "__contains__", tuning._ruled_contains)
    monkeypatch.setattr(feedparser.mixin, "copy", copy)
    monkeypatch.setattr(feedparser.api, "PREFERRED_XML_PARSERS", ["drv_libxml2"])
    monkeypatch.setattr(feedparser.mixin, "_cp1252", tuning.UNTUNED_CP1252)
    monkeypatch.setattr(feedparser.mixin, "_urljoin", tuning.UNTUNED_URLJOIN)


def _parse(body: bytes) -> dict:
    result = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    return {key: result[key] for key in ("feed", "entries", "version", "namespaces", "bozo")}


@pytest.mark.parametrize("body", [RSS, ATOM, RDF], ids=["rss", "atom", "rdf"])
def test_feeds_parse_the_same_tuned_and_untuned(body: bytes, request: pytest.FixtureRequest):
    tuned = _parse(body)
    request.getfixturevalue("untuned")
    assert FeedParserDict.get is tuning._ruled_get  # the originals are back
    assert _parse(body) == tuned
    assert tuned["entries"]  # the fixtures are feeds, not errors


def test_windows_1252_code_points_are_mapped_as_untuned():
    entry = _parse(RSS)["entries"][2]
    # U+0093/U+0094 are Windows-1252's curly quotes; U+0080 its euro sign.
    assert entry["title"] == "Quotes \u201cso\u201d \u201cso\u201d"
    assert entry["summary"] == "caf\u00e9 \u20ac \u20ac \u0178 \u65e5\u672c"
    text = "".join(map(chr, range(0x2FF)))
    assert text.translate(feedparser.mixin._cp1252) == text.translate(tuning.UNTUNED_CP1252)


def test_feedparser_reads_text_buffered():
    parser = xml.sax.make_parser(feedparser.api.PREFERRED_XML_PARSERS)
    pieces: list[str] = []

    class Texts(xml.sax.handler.ContentHandler):
        def characters(self, content: str) -> None:
            pieces.append(content)

    parser.setContentHandler(Texts())
    parser.feed(b"<a>&lt;p&gt;one &amp; two&lt;/p&gt;</a>")
    parser.close()
    assert pieces == ["<p>one & two</p>"]  # one piece, not one per entity


KEYS = ["title", "missing", "guid", "id", "category", "enclosures", "license", "updated",
        "updated_parsed", "description", "description_detail", "url", "href", "channel",
        "items", "date", "modified", "copyright", "tagline"]  # fmt: skip
DICTS = [
    FeedParserDict(),
    FeedParserDict(
        title="t",
        id="i",
        href="h",
        summary="s",
        published="p",
        published_parsed=1,
        rights="r",
        subtitle="sub",
        feed={},
        entries=[],
    ),
    FeedParserDict(
        tags=[{"term": "a"}],
        links=[{"rel": "enclosure", "href": "e"}, {"rel": "license", "href": "l"}],
        updated="u",
        updated_parsed=2,
    ),
    FeedParserDict(tags=[], links=[], subtitle_detail={"type": "text/plain"}),
]


def _answer(call):
    try:
        return ("value", call())
    except Exception as exc:  # the kind of failure is part of the answer
        return ("raises", type(exc))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("data", DICTS)
@pytest.mark.parametrize("key", KEYS)
def test_lookups_answer_as_the_originals(data: FeedParserDict, key: str):
    assert _answer(lambda: data[key]) == _answer(lambda: tuning._ruled_getitem(data, key))
    assert data.get(key, "d") == tuning._ruled_get(data, key, "d")
    assert (key in data) == tuning._ruled_contains(data, key)


def test_content_parameters_are_copied_not_shared():
    params = FeedParserDict(type="text/html", language="en", base="http://example.org/")
    copied = tuning._deepcopy(params)
    assert copied == params and type(copied) is FeedParserDict and copied is not params
    copied["value"] = "x"
    assert "value" not in params


def test_nested_values_still_copied_deeply():
    params = FeedParserDict(type="text/html", nested={"a": [1]})
    copied = tuning._deepcopy(params)
    copied["nested"]["a"].append(2)
    assert params["nested"] == {"a": [1]}


@pytest.mark.parametrize("base", JOIN_BASES)
def test_joins_answer_as_the_original(base: str) -> None:
    for uri in JOIN_URIS + generated_uris(20_000):
        assert tuning._urljoin(base, uri) == tuning.UNTUNED_URLJOIN(base, uri), (base, uri)


def test_plain_web_urls_and_opaque_ids_take_the_fast_path() -> None:
    base = "http://example.org/"
    for uri in ["http://example.org/0/0", "urn:bench:3:7", "tag:example.org,2024:/posts/1"]:
        assert joins_to_itself(base, uri) and joins_to_itself("", uri)
        assert not joins_to_itself("http://[::1", uri)  # which urljoin raises for
    for uri in ["HTTP://example.org/0/0", "URN:x", "urn://x", "ftp:x", " urn:x", "ur\tn:x"]:
        assert not joins_to_itself(base, uri)
