"""The vocabulary's words are the strings already stored: no migration, no new spelling."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, get_args

import click
import pytest

from feedsvc import cli
from feedsvc.vocabulary import (
    ArticleState,
    CommentState,
    DeliveryState,
    FetchErrorKind,
    JobKind,
    JobState,
    PostMode,
    Result,
    SourceState,
    SourceStatus,
    WebhookEvent,
)
from feedsvc.web import api_models

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


def _literal(model: Any, field: str) -> Any:
    return model.model_fields[field].annotation


# The API's words for each part of the vocabulary (its schema lists them), beside
# the vocabulary's: a word added to one must be added to the other.
API_WORDS = {
    "mode": (api_models.Mode, PostMode),
    "source state": (api_models.State, SourceState),
    "article state": (_literal(api_models.ArticleOut, "state"), ArticleState),
    "job kind": (_literal(api_models.JobOut, "kind"), JobKind),
    "job state": (_literal(api_models.JobOut, "state"), JobState),
    "comment state": (api_models.CommentStateName, CommentState),
    "webhook event": (api_models.WebhookEventName, WebhookEvent),
    "delivery state": (_literal(api_models.WebhookAttemptOut, "state"), DeliveryState),
}


@pytest.mark.parametrize("literal, words", list(API_WORDS.values()), ids=list(API_WORDS))
def test_the_api_speaks_the_vocabulary(literal: Any, words: type[StrEnum]) -> None:
    assert set(get_args(literal)) == {str(member) for member in words}


def test_the_cli_offers_the_modes_there_are() -> None:
    (mode,) = [p for p in cli.sources_add.params if p.name == "mode"]
    assert isinstance(mode.type, click.Choice)
    assert set(mode.type.choices) == {str(member) for member in PostMode}
