"""The vocabulary's words are the strings already stored: no migration, no new spelling."""

from __future__ import annotations

from enum import StrEnum

import pytest

from feedsvc.vocabulary import (
    ArticleState,
    FetchErrorKind,
    JobState,
    PostMode,
    Result,
    SourceStatus,
)

STORED = {
    Result: {"ok", "not_modified", "error", "gone", "throttled", "refused"},
    FetchErrorKind: {"timeout", "connection", "tls", "refused", "too_large", "redirects",
                     "bad_url", "parse", "internal"},
    SourceStatus: {"active", "paused", "gone"},
    PostMode: {"full", "summary", "link"},
    JobState: {"queued", "running", "done", "failed"},
    ArticleState: {"pending", "fetched", "failed"},
}  # fmt: skip


@pytest.mark.parametrize("words", list(STORED), ids=lambda words: words.__name__)
def test_each_word_is_the_string_stored(words: type[StrEnum]) -> None:
    assert {str(member) for member in words} == STORED[words]
    assert all(member == member.value for member in words)


def test_a_result_says_whether_the_refresh_succeeded() -> None:
    assert {result for result in Result if result.succeeded} == {"ok", "not_modified"}
