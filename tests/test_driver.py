"""The concurrent driver: a parse that never ends, and a stage that raises,
cost that one source alone; every other source is recorded as usual."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from feedsvc.db import Database
from feedsvc.fetched import FetchResult
from feedsvc.fetcher import Fetcher, FetchSettings
from feedsvc.ingest import driver
from feedsvc.ingest.driver import refresh_many
from feedsvc.ingest.load import load_targets
from feedsvc.ingest.settings import IngestSettings
from feedsvc.ingest.types import Parsed
from feedsvc.sources import add_source
from tests.feedserver import ATOM_TYPE, RSS_TYPE, FeedServer, Reply, rss

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
GOOD = rss("Good", [{"guid": "urn:g1", "title": "Fine", "link": "http://example.org/1"}])
# feedparser re-resolves every xml:base above an element at each element: quadratic.
SLOW_ATOM = (
    b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id>'
    b'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
    + b'<span xml:base="a/">' * 20000
    + b"</div></content></entry></feed>"
)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(timeout=5, allow_private=True)) as instance:
        yield instance


def sources(db: Database, server: FeedServer, *paths: str) -> list[int]:
    with db.session() as session:
        return [add_source(session, server.url(path), NOW).id for path in paths]


def test_a_parse_past_its_timeout_is_given_up_and_the_others_are_recorded(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.routes["/slow"] = Reply(200, SLOW_ATOM, ATOM_TYPE)
    for n in range(4):
        feed_server.routes[f"/good{n}"] = Reply(200, GOOD, RSS_TYPE)
    ids = sources(db, feed_server, "/slow", *(f"/good{n}" for n in range(4)))
    with driver.Refresher(db, fetcher, IngestSettings(), now=lambda: NOW, processes=2,
                          parse_timeout=1.0) as refresher:  # fmt: skip
        with db.session(write=False) as session:
            targets = load_targets(session, ids)
        for target in targets:
            refresher.submit(target)
        reports = {report.source_id: report for report in refresher.drain()}
    assert sorted(reports) == sorted(ids)
    assert reports[ids[0]].result == "error"
    assert "parsing took longer than 1 s" in (reports[ids[0]].detail or "")
    assert "could not be read (parsing took longer than 1 s" in (reports[ids[0]].error or "")
    assert [reports[i].new for i in ids[1:]] == [1, 1, 1, 1]


def test_a_stage_that_raises_costs_only_its_source(
    db: Database, fetcher: Fetcher, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.routes["/good"] = Reply(200, GOOD, RSS_TYPE)
    feed_server.routes["/odd"] = Reply(200, GOOD, RSS_TYPE)
    good, odd = sources(db, feed_server, "/good", "/odd")
    real_fetch = fetcher.fetch

    def fetch(url: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if url.endswith("/odd"):
            raise ValueError("a bug of ours")
        return real_fetch(url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fetcher, "fetch", fetch)
    done = refresh_many(db, [good, odd], fetcher=fetcher, now=lambda: NOW,
                        settings=IngestSettings())  # fmt: skip
    reports = {report.source_id: report for report in done}
    assert reports[good].new == 1
    assert reports[odd].result == "error" and "internal error" in (reports[odd].error or "")


def test_sources_waiting_for_their_host_are_recorded_with_the_rest(
    db: Database, fetcher: Fetcher, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One host, one fetch at a time: the next source's fetch is started by the
    thread that ended the last, and the group waits for it, not recorded each
    time the dispatcher sees no fetch of its own under way."""
    for n in range(6):
        feed_server.routes[f"/same{n}"] = Reply(304, b"", {})
    ids = sources(db, feed_server, *(f"/same{n}" for n in range(6)))
    groups: list[int] = []
    real_record = driver.record

    def record(db: Database, items, *args, **kwargs):  # type: ignore[no-untyped-def]
        groups.append(len(items))
        return real_record(db, items, *args, **kwargs)

    monkeypatch.setattr(driver, "record", record)
    monkeypatch.setattr(driver, "GROUP_WAIT", 30.0)
    done = refresh_many(db, ids, fetcher=fetcher, now=lambda: NOW, settings=IngestSettings(),
                        per_host=1)  # fmt: skip
    assert sorted(report.source_id for report in done) == sorted(ids)
    assert {report.result for report in done} == {"not_modified"}
    assert groups == [6]


def test_answers_without_a_body_do_not_count_against_a_claim(
    db: Database, fetcher: Fetcher, feed_server: FeedServer
) -> None:
    """A 304 waiting for its group holds next to nothing: the worker goes on
    claiming and fetching while it waits (`load`), rather than stopping once a
    group's worth fills its room."""
    feed_server.routes["/body"] = Reply(200, GOOD, RSS_TYPE)
    ids = sources(db, feed_server, "/body", *(f"/same{n}" for n in range(3)))
    with db.session(write=False) as session:
        body, *unchanged = load_targets(session, ids)
    with driver.Refresher(db, fetcher, IngestSettings(), now=lambda: NOW,
                          processes=1) as refresher:  # fmt: skip
        for target in unchanged:
            refresher._add_ready(driver.Fetched(target, FetchResult(target.feed_url,
                                                                    target.feed_url, 304)))
        assert (refresher.in_flight, refresher.load) == (3, 0)
        refresher._add_ready(driver.Fetched(body, FetchResult(body.feed_url, body.feed_url, 200),
                                            Parsed(error="x")))  # fmt: skip
        assert (refresher.in_flight, refresher.load) == (4, 1)
