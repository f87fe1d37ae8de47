"""Pure text work: sanitizing, plain text, summaries, slugs."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.content import (
    ELLIPSIS,
    choose_summary,
    demote_headings,
    first_image,
    html_to_text,
    sanitize_html,
    sanitized_leading_text,
    sanitized_text,
    slugify,
    strip_xml_illegal,
    summarize,
    truncate_text,
)


def test_sanitize_keeps_structure_and_drops_danger() -> None:
    cleaned = sanitize_html(
        '<p class="x" onclick="evil()">Hi <em>there</em></p>'
        '<object data="x.swf"></object><embed src="y"><form action="/"><input></form>'
        '<a href="https://ok.test/" target="_blank">ok</a>',
        "https://base.test/",
    )
    assert cleaned.startswith("<p>Hi <em>there</em></p>")
    assert "<object" not in cleaned and "<embed" not in cleaned and "<form" not in cleaned
    assert '<a href="https://ok.test/" rel="noopener noreferrer nofollow">ok</a>' in cleaned


def test_tracking_pixels_are_removed() -> None:
    cleaned = sanitize_html(
        '<p>x</p><img src="https://t.test/p.gif" width="1" height="1">'
        '<img src="https://img.test/real.png" width="640" height="480" alt="real">'
    )
    assert "p.gif" not in cleaned and "real.png" in cleaned


def test_srcset_is_made_absolute() -> None:
    cleaned = sanitize_html('<img src="a.png" srcset="a.png 1x, b.png 2x">', "https://s.test/d/")
    assert 'srcset="https://s.test/d/a.png 1x, https://s.test/d/b.png 2x"' in cleaned


def test_html_to_text_separates_blocks_and_skips_scripts() -> None:
    text = html_to_text("<h1>Title</h1><p>One&amp;two</p><script>x()</script><ul><li>a</li></ul>")
    assert text == "Title One&two a"


def test_summary_prefers_real_own_summary() -> None:
    own = "A proper summary written by the author of the post."
    assert summarize(own, "<p>Long body</p>", 300) == own
    assert summarize("Short", "<p>The content is what we use then.</p>", 300) == (
        "The content is what we use then."
    )


def test_truncate_at_sentence_or_word() -> None:
    text = "First sentence here. Second sentence is much longer than the limit allows."
    assert truncate_text(text, 30) == "First sentence here."
    assert truncate_text("alpha beta gamma delta", 15) == "alpha beta" + ELLIPSIS
    assert truncate_text("short", 15) == "short"
    assert truncate_text("Supercalifragilistic", 10) == ELLIPSIS


def test_slugify() -> None:
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("Ünïcödé Çafé") == "unicode-cafe"
    assert slugify("日本語") == "post"
    assert len(slugify("word " * 100)) <= 80


def test_first_image_and_illegal_characters() -> None:
    assert first_image('<p><img src="https://a.test/x.png?a=1&amp;b=2"></p>') == (
        "https://a.test/x.png?a=1&b=2"
    )
    assert strip_xml_illegal("a\x00b\x0bc\ud7ffd") == "abc\ud7ffd"


ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@settings(max_examples=500)
@given(st.text(alphabet=st.one_of(st.characters(max_codepoint=0x7F), st.characters()), max_size=40))
def test_strip_xml_illegal_drops_exactly_what_xml_cannot_carry(text: str) -> None:
    # ASCII text takes a path of its own: every character, each way.
    stripped = strip_xml_illegal(text)
    assert stripped == ILLEGAL.sub("", text)
    if stripped == text:
        assert stripped is text  # clean text is not copied


def test_strip_xml_illegal_on_every_ascii_character() -> None:
    for code in range(0x80):
        legal = code >= 0x20 or chr(code) in "\t\n\r"
        assert strip_xml_illegal(f"a{chr(code)}b") == ("a" + chr(code) + "b" if legal else "ab")


words = st.lists(
    st.text(alphabet=st.characters(categories=["L", "N", "P"]), min_size=1, max_size=15),
    min_size=1,
    max_size=80,
)


@settings(max_examples=300)
@given(words=words, limit=st.integers(min_value=2, max_value=400))
def test_truncate_properties(words: list[str], limit: int) -> None:
    text = " ".join(words)
    result = truncate_text(text, limit)
    assert len(result) <= limit
    if len(text) <= limit:
        assert result == text
        return
    body = result.removesuffix(ELLIPSIS)
    # Never a cut word: what is kept is whole words of the original, in order
    # (the last one may lose trailing punctuation before the ellipsis).
    kept = body.split()
    original = text.split()[: len(kept)]
    assert kept[:-1] == original[:-1]
    if kept:
        assert kept[-1] in (original[-1], original[-1].rstrip(" ,;:-–—"))
    assert result.endswith(ELLIPSIS) or result.endswith((".", "!", "?", "…", '"', "'", ")", "]"))


markup = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(categories=["L", "N", "Zs"]), max_size=20),
        st.sampled_from(
            [
                "<p>",
                "</p>",
                "<br>",
                "<b>",
                "</b>",
                "<script>x()</script>",
                '<img src="a.png" alt="a">',
                "<style>p{}</style>",
                "&amp;",
                "\n\t",
            ]
        ),
    ),
    max_size=60,
).map("".join)


@settings(max_examples=200)
@given(markup, st.integers(min_value=2, max_value=300))
def test_summaries_hold_no_markup(html: str, limit: int) -> None:
    summary = summarize(None, html, limit)
    assert len(summary) <= limit
    assert "  " not in summary and summary == summary.strip()
    assert "<" not in summary and ">" not in summary and "x()" not in summary


def test_a_long_post_is_summarized_as_if_converted_whole() -> None:
    # Only the start of a long post is converted; the summary must not show it.
    paragraph = "<p>Words &amp; more <a href='/x'>words</a>, then a sentence ends. </p>"
    for cut_at in range(0, 40, 7):
        body = "<p>" + "x" * cut_at + "</p>" + paragraph * 200
        assert summarize(None, body, 300) == truncate_text(html_to_text(body), 300)
    sparse = "<div><span></span></div>" * 400 + "<p>Finally some text here.</p>"
    assert summarize(None, sparse, 300) == "Finally some text here."


# Sanitized HTML with long text, inline tags that split words (so a slice's last
# word may be cut), escapes, attributes holding "<" and ">", and sparse markup.
long_markup = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(categories=["L", "N", "Zs", "P"]), max_size=30),
        st.sampled_from(
            [
                "<p>",
                "</p>",
                "<b>",
                "</b>",
                "<br>",
                "&amp;",
                "&lt;",
                " ",
                ". ",
                '<a href="/x?a>b" title="1 < 2">',
                "</a>",
                "<div><span></span></div>",
                "word" * 20,
                "Sentence ends here. ",
            ]
        ),
    ),
    min_size=20,
    max_size=300,
).map(lambda pieces: "".join(pieces) * 8)


@settings(max_examples=300)
@given(long_markup, st.integers(min_value=2, max_value=400))
def test_a_summary_from_the_leading_text_is_the_summary_from_the_whole(
    html: str, limit: int
) -> None:
    sanitized = sanitize_html(html, "https://base.test/")
    leading = sanitized_leading_text(sanitized, limit)
    whole = sanitized_text(sanitized)
    # Its last word may be cut, nothing before it.
    assert whole.startswith(leading.rpartition(" ")[0])
    for own in ("", "An own summary of more than twenty characters."):
        assert choose_summary(own, leading, limit) == choose_summary(own, whole, limit)


def test_only_the_start_of_a_long_sanitized_post_is_converted() -> None:
    post = sanitize_html("<p>Words &amp; more <b>wor</b>ds, then a sentence ends. </p>" * 500)
    leading = sanitized_leading_text(post, 300)
    assert 400 < len(leading) < len(sanitized_text(post)) // 10
    assert choose_summary("", leading, 300) == truncate_text(sanitized_text(post), 300)


def test_demote_headings_keeps_content_below_the_page_title() -> None:
    assert demote_headings("<h1>A</h1><h2>B</h2><h6>C</h6>") == "<h2>A</h2><h3>B</h3><h6>C</h6>"
    assert demote_headings("<H1>A</H1>") == "<h2>A</h2>"
    # Already below the title, or no heading at all: untouched.
    assert demote_headings("<h3>A</h3><h2>B</h2>") == "<h3>A</h3><h2>B</h2>"
    assert (
        demote_headings("<p>plain</p><hr><header>x</header>")
        == "<p>plain</p><hr><header>x</header>"
    )
    # What looks like a heading in text or an attribute is escaped by sanitizing: left alone.
    hostile = sanitize_html('<p title="<h1>">&lt;h1&gt;</p><h1>Real</h1>')
    assert demote_headings(hostile) == '<p title="&lt;h1&gt;">&lt;h1&gt;</p><h2>Real</h2>'


_HEADING_PARTS = st.sampled_from(
    ["<h1>", "</h1>", "<H2 title='<h1>'>", "</h2>", "<h6>", "</h6>", "<h3 class=x>", "</H3>",
     "<p>", "</p>", "&lt;h1&gt;", "<!-- <h1> -->", "<svg><title><h1>", "<pre>", "<div>", "x"]
)  # fmt: skip


@given(st.lists(_HEADING_PARTS, max_size=30))
@settings(max_examples=300, deadline=None)
def test_no_nesting_or_markup_puts_a_heading_at_the_titles_level(parts: list[str]) -> None:
    demoted = demote_headings(sanitize_html("".join(parts))).lower()
    assert "<h1" not in demoted and "</h1" not in demoted
    for level in range(2, 7):  # every heading opened is closed at its own level
        assert demoted.count(f"<h{level}") == demoted.count(f"</h{level}")


# Markup meant to trip a tag-dropping shortcut: ">" and "<" inside attribute
# values and text, comments, raw-text elements, entities, unclosed and stray tags.
tricky_markup = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(categories=["L", "N", "Zs", "P", "S"]), max_size=12),
        st.sampled_from(
            [
                "<p>",
                "</p>",
                "<div>",
                "<li>",
                "<br>",
                "<b>",
                "</b>",
                "<a href='x>y'>",
                '<a title="1 > 0" href="/a">',
                "</a>",
                '<img alt="<b>" src="i.png">',
                "<!-- <p>hidden</p> -->",
                "<script>if (a < b) x()</script>",
                "<style>p>a{}</style>",
                "<textarea><b></textarea>",
                "<pre>  a\n b</pre>",
                "&lt;",
                "&gt;",
                "&amp;",
                "&nbsp;",
                "&quot;",
                "&#60;",
                "<",
                ">",
                "&",
                "<title>t</title>",
                "<h2>",
                "</h2>",
                "<td>",
                "<table>",
                "<iframe>f</iframe>",
                "<noscript>n</noscript>",
                "</",
            ]
        ),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=400)
@given(tricky_markup)
def test_sanitized_text_is_html_to_text_of_sanitized_html(html: str) -> None:
    sanitized = sanitize_html(html, "https://base.test/")
    assert sanitized_text(sanitized) == html_to_text(sanitized)


def test_sanitized_text_keeps_what_attributes_hide() -> None:
    sanitized = sanitize_html('<p title="a > b">one</p><p><a href="/x?a>b">two</a>&lt;3</p>')
    assert sanitized_text(sanitized) == "one two<3" == html_to_text(sanitized)


def test_character_references_to_what_xml_cannot_carry_are_dropped() -> None:
    """Escaped upstream HTML may name control characters and non-characters by
    reference; the sanitizer would turn them back into characters."""
    sanitized = sanitize_html("<p>a&#1;b&#12;c&#xFFFF;d</p>")
    assert sanitized == "<p>abcd</p>"
    assert sanitized_text(sanitized) == "abcd"


def test_each_thread_sanitizes_against_its_own_base() -> None:
    """The sanitizer is built once and shared; the base a relative link is
    resolved against is each call's own, whatever other threads are doing."""

    def sanitize_many(n: int) -> set[str]:
        base = f"https://site{n}.test/posts/"
        return {
            sanitize_html(f'<p><a href="a{i}">x</a><img src="/i{i}.png"></p>', base)
            for i in range(300)
        } ^ {
            f'<p><a href="{base}a{i}" rel="noopener noreferrer nofollow">x</a>'
            f'<img src="https://site{n}.test/i{i}.png"></p>'
            for i in range(300)
        }

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(sanitize_many, range(8))) == [set()] * 8
    # And a call without a base, after them, leaves relative links as they are.
    assert sanitize_html('<a href="x">y</a>') == (
        '<a href="x" rel="noopener noreferrer nofollow">y</a>'
    )
