"""Bounded sanitizing: hostile markup is flattened, cut and kept linear.

Each test asserts on the structure of the result (nesting depth, what is kept,
well-formedness), never on time; bench/content.py measures the time.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feedsvc.content import (
    ALLOWED_TAGS,
    MAX_CONTENT_BYTES,
    cap_html,
    first_image,
    html_to_text,
    sanitize_html,
    summarize,
)
from feedsvc.html_depth import MAX_DEPTH, MAX_OPEN_FORMATTING, flatten_nesting

VOID = {"area", "br", "col", "embed", "hr", "img", "input", "source", "track", "wbr"}


class _Structure(HTMLParser):
    """Nesting depth and balance of HTML, read by the standard library's parser
    (not ours): every end tag must close the element opened last."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.depth = 0
        self.balanced = True

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in VOID:
            self.open.append(tag)
            self.depth = max(self.depth, len(self.open))

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()
        else:
            self.balanced = False


def structure(markup: str) -> tuple[int, bool]:
    """(deepest nesting, every element closed in order)."""
    parser = _Structure()
    parser.feed(markup)
    parser.close()
    return parser.depth, parser.balanced and not parser.open


def words(markup: str) -> list[str]:
    return sorted(html_to_text(markup).split())


HOSTILE = {
    "div": "<div>" * 40_000 + "deep text" + "</div>" * 40_000,
    "div unclosed": "<div>" * 40_000 + "deep text",
    "b i alternating": "<b><i>" * 20_000 + "deep text",
    "sections and list ends": "<section></li>" * 40_000 + "deep text",
    "tables": "<table><tr><td>" * 13_000 + "deep text",
    "forms": "<form><span></form>" * 20_000 + "deep text",
    "blocks under a table cell": "<div><table><td></div>" * 10_000 + "deep text",
    "spans": "<span>" * 40_000 + "deep text",
    "select": "<select><div>" * 20_000 + "deep text",
}


@pytest.mark.parametrize("markup", HOSTILE.values(), ids=HOSTILE.keys())
def test_deep_nesting_is_flattened_and_its_text_kept(markup: str) -> None:
    cleaned = sanitize_html(markup)
    depth, balanced = structure(cleaned)
    assert depth <= MAX_DEPTH and balanced
    assert "deep text" in cleaned
    assert html_to_text(markup).endswith("deep text")
    assert summarize(None, markup, 300) == "deep text"


ADOPTED = {
    "nobr in blocks": "<nobr><blockquote><blockquote><blockquote>" * 20_000,
    "links in blocks": "<a><div>x<a>" * 20_000,
    "bold across blocks": "<b><div>x</b>" * 20_000,
}


@pytest.mark.parametrize("markup", [*HOSTILE.values(), *ADOPTED.values()])
def test_what_reaches_the_parser_is_already_shallow(markup: str) -> None:
    # The parser's work grows with the square of the depth it builds, so the
    # flattening before it must hold too, not just the exact pass after it.
    # (It may go past the bound by the formatting elements HTML5 re-opens.)
    every_tag = set(ALLOWED_TAGS) | {"nobr", "form", "select", "button"}
    parsed = nh3.clean(flatten_nesting(markup), tags=every_tag, attributes={})
    assert structure(parsed)[0] <= MAX_DEPTH + MAX_OPEN_FORMATTING


def test_unclosed_paragraphs_keep_every_paragraph() -> None:
    markup = "".join(f"<p>word{i}" for i in range(40_000))
    cleaned = sanitize_html(markup)
    assert structure(cleaned) == (1, True)
    assert cleaned.count("<p>") == 40_000
    assert html_to_text(cleaned).split() == [f"word{i}" for i in range(40_000)]


def test_long_sloppy_lists_and_tables_are_not_flattened() -> None:
    # Unclosed items, rows and cells close each other: shallow, however many.
    rows = "<table>" + "<tr><td>a<td>b" * 2_000 + "</table>"
    items = "<ul>" + "<li>item" * 2_000 + "</ul>"
    terms = "<dl>" + "<dt>term<dd>definition" * 2_000 + "</dl>"
    for markup in (rows, items, terms):
        assert flatten_nesting(markup) is markup
    assert sanitize_html(rows).count("<tr>") == 2_000
    assert sanitize_html(items).count("<li>") == 2_000


def test_a_dropped_block_still_separates_words() -> None:
    markup = "<div>" * 1_000 + "<div>one</div><div>two</div>" + "</div>" * 1_000
    assert html_to_text(sanitize_html(markup)) == "one two"


def test_markup_inside_text_is_not_counted() -> None:
    # Tags inside script, comments, attribute values and raw text are text to
    # HTML5: nothing around them may be dropped because of them.
    after = "<div><p>after</p></div>" * 300
    for inside in (
        "<script>" + 'document.write("<div>");' * 1_000 + "</script>",
        "<!--" + "<div>" * 1_000 + "-->",
        '<p title="' + "<div>" * 1_000 + '">x</p>',
        "<textarea>" + "<div>" * 1_000 + "</textarea>",
        "<script><!--<script>" + "<div>" * 600 + "</script>" + "<div>" * 600 + "</script>",
    ):
        markup = inside + after
        assert flatten_nesting(markup) is markup


def test_never_closed_formatting_elements_do_not_multiply() -> None:
    # HTML5 re-opens every unclosed formatting element in each later block:
    # 300 of them and 2,000 paragraphs made 600,000 elements.
    opened = "".join(f'<b title="{i}">' for i in range(300))
    markup = "<p>" + opened + "</p><p>x" * 2_000
    cleaned = sanitize_html(markup)
    assert cleaned.count("<b") <= (MAX_OPEN_FORMATTING + 1) * 2_001
    assert structure(cleaned)[1]
    assert html_to_text(cleaned).split() == ["x"] * 2_000


def test_a_smaller_bound_holds_too() -> None:
    markup = "<blockquote><p><em>" * 50 + "quoted"
    cleaned = sanitize_html(markup, max_depth=8)
    assert structure(cleaned)[0] <= 8
    assert "quoted" in cleaned


markup_pieces = st.sampled_from(
    [
        "<p>", "</p>", "<div>", "</div>", "<b>", "</b>", "<i>", "</i>", "<a href=x>", "</a>",
        "<span>", "</span>", "<li>", "</li>", "<ul>", "</ul>", "<table>", "</table>", "<tr>",
        "<td>", "</td>", "<h2>", "</h2>", "<blockquote>", "</blockquote>", "<section>",
        "<dl>", "<dt>", "<dd>", "<em>", "</em>", "<br>", "<img src=y>", "<select>",
        "<option>", "</select>", "<form>", "</form>", "<nobr>", "<code>", "<s>", "<u>",
        "<pre>", "</pre>", "<button>", "<script>x<div></script>", "<!-- c -->",
        "<style>p{}</style>", "<textarea><b></textarea>", "one ", "two ", "&amp;",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(markup_pieces, max_size=150).map("".join), st.integers(2, 12))
def test_any_markup_stays_within_the_bound_and_keeps_its_words(markup: str, max_depth: int) -> None:
    bounded = sanitize_html(markup, max_depth=max_depth)
    depth, balanced = structure(bounded)
    assert depth <= max_depth and balanced
    # Every character of text kept, none added. Where soup leaves an end tag
    # to the parser ("<p><select><p><textarea>…"), dropping the start tag too
    # deep may put two words together (a space stands for the start only).
    assert letters(bounded) == letters(sanitize_html(markup, max_depth=10_000))


def letters(markup: str) -> list[str]:
    return sorted("".join(html_to_text(markup).split()))


def test_content_over_the_cap_is_cut_at_a_tag_boundary() -> None:
    paragraph = '<p>Words é and <a href="/x">a link</a> &amp; more.</p>'
    markup = "<div>" + paragraph * (3 * MAX_CONTENT_BYTES // len(paragraph)) + "</div>"
    capped, cut = cap_html(markup)
    assert cut
    assert len(capped.encode()) <= MAX_CONTENT_BYTES
    assert markup.startswith(capped)
    assert capped.rfind("<") < capped.rfind(">")  # no tag cut in two
    cleaned = sanitize_html(markup)
    assert structure(cleaned) == (3, True)
    assert cleaned.endswith("</div>")
    assert html_to_text(cleaned, max_bytes=4 * MAX_CONTENT_BYTES) == html_to_text(capped)


def test_cap_keeps_whole_characters_and_entities() -> None:
    capped, cut = cap_html("é" * 10, max_bytes=5)
    assert (capped, cut) == ("éé", True)
    assert cap_html("ab &amp; cd", max_bytes=6) == ("ab ", True)
    assert cap_html("<p>ab</p><b", max_bytes=10) == ("<p>ab</p>", True)
    assert cap_html("a single text node " * 10, max_bytes=30)[0] == "a single text node a single te"
    assert cap_html("fits", max_bytes=4) == ("fits", False)
    with pytest.raises(ValueError, match="at least 1"):
        cap_html("x", max_bytes=0)


def test_hostile_shapes_keep_their_text() -> None:
    long_value = "x" * 500_000
    cleaned = sanitize_html(f'<a title="{long_value}" href="/y">link</a>', "https://b.test/")
    assert cleaned.endswith('rel="noopener noreferrer nofollow">link</a>')
    # A tag longer than the cap is cut whole.
    big = "x" * 4_000_000
    assert sanitize_html(f'<p>kept</p><a title="{big}">link</a>') == "<p>kept</p>"
    assert sanitize_html("<p>kept</p><a href='" + big) == "<p>kept</p>"
    assert sanitize_html("<p>kept</p><!--" + "<div>" * 10_000) == "<p>kept</p>"
    assert html_to_text("<" * 100_000) == "<" * 100_000
    many = '<img src="https://i.test/a.png" width="1" height="1">' * 15_000
    assert sanitize_html(many + '<img src="https://i.test/b.png">') == (
        '<img src="https://i.test/b.png">'
    )


def test_first_image_reads_past_a_quoted_angle_bracket() -> None:
    cleaned = sanitize_html('<img alt="a>b" src="x.png">', "https://s.test/")
    assert first_image(cleaned) == "https://s.test/x.png"


@settings(max_examples=200)
@given(st.text(alphabet="ab<>&;é\u00a0 #x", max_size=40))
@example(";&#xb<")  # a vertical tab by reference: a space, though XML cannot carry it
def test_html_to_text_reads_entities_as_html_does(text: str) -> None:
    serialized = nh3.clean(text, tags=set())
    assert html_to_text(text) == " ".join(html.unescape(serialized).split())


def test_text_of_entities_is_exact() -> None:
    assert html_to_text("a&lt;b&gt;c &amp;amp; d&nbsp;e &copy;") == "a<b>c &amp; d e ©"
    assert re.fullmatch(r"<+", html_to_text("<" * 10))


def test_text_is_read_from_the_first_mebibyte() -> None:
    markup = "<p>" + "word " * (MAX_CONTENT_BYTES // 5) + "</p><p>past the cap</p>"
    assert "past the cap" not in html_to_text(markup)
    assert html_to_text(markup, max_bytes=2 * MAX_CONTENT_BYTES).endswith("past the cap")
