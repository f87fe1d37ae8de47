"""A comment's text shown as text, and the form's token: pure functions."""

from __future__ import annotations

import datetime as dt

import pytest

from feedsvc import comment_text, comment_tokens
from feedsvc.comment_tokens import BadToken

NOW = dt.datetime(2026, 11, 24, 12, 0, 3, tzinfo=dt.UTC)
DAY = dt.timedelta(hours=24)


def test_paragraphs_lines_and_links() -> None:
    text = comment_text.normalize(
        "One\r\nline two\r\n\r\n\r\n\r\nSee https://example.org/a_(b), ok."
    )
    assert text == "One\nline two\n\nSee https://example.org/a_(b), ok."
    assert comment_text.to_html(text) == (
        "<p>One<br>line two</p><p>See "
        '<a href="https://example.org/a_(b)" rel="nofollow ugc noopener noreferrer">'
        "https://example.org/a_(b)</a>, ok.</p>"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ('http://x.example/"onmouseover="alert(1)',
         '<p><a href="http://x.example/" rel="nofollow ugc noopener noreferrer">'
         "http://x.example/</a>&quot;onmouseover=&quot;alert(1)</p>"),
        ("javascript:alert(1)", "<p>javascript:alert(1)</p>"),
        ("a\x00b\x1bc", None),
    ],
)  # fmt: skip
def test_nothing_a_commenter_writes_becomes_markup(text: str, expected: str | None) -> None:
    shown = comment_text.to_html(comment_text.normalize(text))
    if expected is not None:
        assert shown == expected
    else:
        assert shown == "<p>abc</p>"


def test_links_are_counted_however_written() -> None:
    assert comment_text.count_links("no links here") == 0
    assert comment_text.count_links('http://a https://b www.c <a href="d">') == 4


def test_a_token_is_good_from_its_step_until_it_expires() -> None:
    token = comment_tokens.issue("secret", 7, NOW, min_seconds=3)
    with pytest.raises(BadToken, match="too quickly"):
        comment_tokens.check("secret", token, 7, NOW + dt.timedelta(seconds=2), DAY)
    # Rounded up to the step: 12:00:03 + 3 s → 12:00:10.
    comment_tokens.check("secret", token, 7, NOW + dt.timedelta(seconds=7), DAY)
    comment_tokens.check("secret", token, 7, NOW + DAY, DAY)
    with pytest.raises(BadToken, match="expired"):
        comment_tokens.check("secret", token, 7, NOW + DAY + dt.timedelta(seconds=10), DAY)


def test_a_token_is_the_same_within_a_step() -> None:
    assert comment_tokens.issue("s", 1, NOW, 3) == comment_tokens.issue(
        "s", 1, NOW + dt.timedelta(seconds=4), 3
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("7.", "8.", 1),
        lambda t: t[:-2] + "xx",
        lambda t: "",
        lambda t: "7.0",
        lambda t: comment_tokens.issue("other secret", 7, NOW, 3),
        lambda t: "\udcff" + t,
    ],
)
def test_a_tampered_token_is_refused(tamper: object) -> None:
    token = comment_tokens.issue("secret", 7, NOW, 3)
    with pytest.raises(BadToken):
        comment_tokens.check("secret", tamper(token), 7, NOW + dt.timedelta(minutes=1), DAY)  # type: ignore[operator]


def test_a_token_for_another_post_is_refused() -> None:
    token = comment_tokens.issue("secret", 7, NOW, 3)
    with pytest.raises(BadToken, match="another post"):
        comment_tokens.check("secret", token, 8, NOW + dt.timedelta(minutes=1), DAY)
