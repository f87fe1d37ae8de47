"""The one rule for URLs from outside: absolute http(s) with a host, or nothing."""

from __future__ import annotations

import pytest

from feedsvc import urls
from feedsvc.urls import (
    MAX_URL_LENGTH,
    NotWebUrl,
    check_web_url,
    host_name,
    stored_url,
    web_url,
)
from tests.url_samples import generated_web_urls

GOOD = [
    "http://example.org",
    "https://example.org/",
    "HTTPS://Example.org/Path?q=1#frag",
    "https://example.org:8443/feed.xml",
    "http://example.org:1/",
    "http://example.org:65535/",
    "http://example.org:/empty-port",
    "https://user:secret@example.org/",
    "http://127.0.0.1/",
    "http://[::1]/",
    "http://[2001:db8::1]:8080/x",
    "https://bücher.example/straße",
    "https://☃.net/",
    "https://example.org/caf%C3%A9",
    "https://example.org/café?q=ü",
    "https://example.org/" + "a" * (MAX_URL_LENGTH - len("https://example.org/")),
]


@pytest.mark.parametrize("url", GOOD)
def test_absolute_http_urls_are_kept_as_given(url: str) -> None:
    assert web_url(url) == url


def test_surrounding_space_is_stripped() -> None:
    assert web_url("  https://example.org/ \n") == "https://example.org/"
    assert web_url("\u00a0https://example.org/\u3000") == "https://example.org/"


# (url, words the reason must contain)
BAD = [
    ("javascript:alert(1)", "not an http(s) URL"),
    ("JavaScript:alert(1)", "not an http(s) URL"),
    (" javascript:alert(1)", "not an http(s) URL"),
    ("java\tscript:alert(1)", "not an http(s) URL"),
    ("java\nscript:alert(1)", "not an http(s) URL"),
    ("\x01javascript:alert(1)", "not an http(s) URL"),
    ("javascript://example.org/%0Aalert(1)", "not an http(s) URL"),
    ("data:text/html,<script>alert(1)</script>", "not an http(s) URL"),
    ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "not an http(s) URL"),
    ("vbscript:msgbox(1)", "not an http(s) URL"),
    ("file:///etc/passwd", "not an http(s) URL"),
    ("ftp://files.example/feed", "not an http(s) URL"),
    ("mailto:someone@example.org", "not an http(s) URL"),
    ("//evil.example/x", "not an http(s) URL"),
    ("/relative/path", "not an http(s) URL"),
    ("example.org/feed", "not an http(s) URL"),
    ("not a url", "not an http(s) URL"),
    ("http:/x", "no host"),
    ("http:x", "no host"),
    ("https://", "no host"),
    ("http://:80/", "no host"),
    ("http://user@/", "no host"),
    ("http:\\\\evil.example\\x", "no host"),
    ("ht\ttp://example.org/", "spaces or control characters"),
    ("https://exa mple.org", "spaces or control characters"),
    ("https://example.org/a b", "spaces or control characters"),
    ("https://example.org/\x00", "spaces or control characters"),
    ("https://example.org/\x7f", "spaces or control characters"),
    ("https://exa\u00a0mple.org/", "spaces or control characters"),
    ("https://exa\u200bmple.org/", "spaces or control characters"),
    ("https://example.org/\u202egnp.exe", "spaces or control characters"),
    ("https://example.org/\u2028x", "spaces or control characters"),
    ("https://example.org/\ud800", "spaces or control characters"),
    ("https://exa<mple.org/", "not a valid host name"),
    ("https://exa%41mple.org/", "not a valid host name"),
    ("https://evil.example\\@good.example/", "not a valid host name"),
    ("https://evil.example\\.good.example/", "not a valid host name"),
    ("http://a|b.example/", "not a valid host name"),
    ("http://example.org:99999/", "port must be a whole number from 1 to 65535"),
    ("http://example.org:65536/", "port must be a whole number from 1 to 65535"),
    ("http://example.org:0/", "port must be a whole number from 1 to 65535"),
    ("http://example.org:-1/", "port must be"),
    ("http://example.org:http/", "port must be"),
    ("http://[::1]:65536/", "port must be a whole number from 1 to 65535"),
    ("http://[::1]:0/", "port must be"),
    ("http://[::1", "Invalid IPv6 URL"),
    ("http://[not-an-address]/", "not a valid URL"),
    ("https://example.org/" + "a" * MAX_URL_LENGTH, "longer than 2048 characters"),
    ("   ", "empty"),
]


@pytest.mark.parametrize(("url", "reason"), BAD)
def test_anything_else_is_refused_saying_why(url: str, reason: str) -> None:
    assert web_url(url) is None
    with pytest.raises(NotWebUrl, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_web_url(url)


def test_nothing_is_nothing() -> None:
    assert web_url(None) is None and web_url("") is None


def test_an_error_quotes_a_long_url_cut_short() -> None:
    with pytest.raises(NotWebUrl) as caught:
        check_web_url("javascript:" + "x" * 1_000_000)
    assert len(str(caught.value)) < 200 and str(caught.value).endswith("…'")


def _answers(url: str) -> tuple[object, ...]:
    try:
        checked = ("kept", check_web_url(url))
    except NotWebUrl as exc:
        checked = ("refused", str(exc))
    return checked, web_url(url), stored_url(url)


def test_the_fast_path_answers_as_all_the_checks_do(monkeypatch: pytest.MonkeyPatch) -> None:
    samples = GOOD + [url for url, _ in BAD] + generated_web_urls(50_000, MAX_URL_LENGTH)
    fast = [_answers(url) for url in samples]
    taken = sum(map(urls._is_plain_web_url, samples))
    monkeypatch.setattr(urls, "_is_plain_web_url", lambda url: False)
    for url, answers in zip(samples, fast, strict=True):
        assert _answers(url) == answers, url
    assert len(samples) // 5 < taken < len(samples) // 2  # the samples try both paths


@pytest.mark.parametrize(
    "url",
    [url for url, _ in BAD] + [
        "HTTPS://example.org/", "https://Example.org/", "http://[::1]/", "https://u:p@example.org/",
        "http://evil\\@good/", "http://example.org:/", "http://example.org:0080/x\\y",
        "https://example.org/caf\u00e9", "https://b\u00fccher.example/", " https://example.org/",
        "https://example.org/" + "a" * (MAX_URL_LENGTH - len("https://example.org/") + 1),
    ],
)  # fmt: skip
def test_only_plain_urls_take_the_fast_path(url: str) -> None:
    assert not urls._is_plain_web_url(url)


def test_plain_entry_links_take_the_fast_path() -> None:
    for url in ["http://example.org/3/7", "https://a-b.example.org:8443/a;b?c=d&e=%20#f",
                "http://127.0.0.1:1", "https://example.org/" + "a" * 2028]:  # fmt: skip
        assert urls._is_plain_web_url(url) and check_web_url(url) == url


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.Example.org/feed.xml", "example.org"),
        ("http://blog.example.org:8080/", "blog.example.org"),
        ("https://user:pw@example.org/x", "example.org"),
        ("not a url", ""),
        ("http://[::1", ""),  # unbalanced bracket: urlsplit raises
        (None, ""),
    ],
)
def test_host_name_is_what_a_person_names_a_site_by(url: str | None, host: str) -> None:
    assert host_name(url) == host
