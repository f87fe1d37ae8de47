"""Long admin work out of the request: a large OPML import is a job the worker
runs, with its progress in the API and the admin; leases keep it to one runner
and bring it back when its runner dies."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedsvc import jobs
from feedsvc.db import Database
from feedsvc.jobs import JobRunner, LeaseLost
from feedsvc.models import Job, Source, WorkerHeartbeat
from feedsvc.scheduler import Worker
from feedsvc.sources import add_source
from feedsvc.vocabulary import JobKind, JobState
from tests.admin_helpers import make_admin, post_form, sign_in
from tests.configured import reconfigure, settings_of
from tests.ingesting import housekeep
from tests.test_api import Api

T0 = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
LEASE = 300
LIMIT = 40


def big_opml(count: int) -> bytes:
    """`count` entries: good ones in a folder, plus one bad URL, one repeat, one
    feed that is a source already (https://known.example/feed.xml)."""
    good = "".join(
        f'<outline type="rss" text="Feed {n}" xmlUrl="https://h{n % 7}.example/{n}.xml"/>\n'
        for n in range(count - 3)
    )
    return (
        '<?xml version="1.0"?>\n<opml version="2.0"><head><title>Many</title></head><body>\n'
        f'<outline text="News">\n{good}</outline>\n'
        '<outline type="rss" text="Bad" xmlUrl="ftp://files.example/feed"/>\n'
        '<outline type="rss" text="Again" xmlUrl="https://h0.example/0.xml"/>\n'
        '<outline type="rss" text="Known" xmlUrl="https://known.example/feed.xml"/>\n'
        "</body></opml>\n"
    ).encode()


@pytest.fixture
def limited(app: Flask, db: Database) -> Flask:
    reconfigure(app, OPML_SYNC_LIMIT=LIMIT)
    with db.session() as session:
        add_source(session, "https://known.example/feed.xml", T0)
    return app


@pytest.fixture
def api(client: FlaskClient, db: Database) -> Api:
    from tests.admin_helpers import make_token

    make_admin(db)
    return Api(client, make_token(db))


def runner(db: Database, owner: str, at: dt.datetime = T0, chunk: int = 25) -> JobRunner:
    return JobRunner(db, owner, LEASE, now=lambda: at, chunk=chunk)


def job_row(db: Database, job_id: int) -> Job:
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def source_count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Source)) or 0


def queue(db: Database, count: int = 100) -> int:
    from feedsvc.opml import parse_opml

    entries, problems = parse_opml(big_opml(count))
    with db.session() as session:
        return jobs.enqueue_opml_import(session, entries, problems, T0).id


def test_a_large_api_import_is_a_job_the_worker_runs(
    limited: Flask, api: Api, db: Database
) -> None:
    answer = api("POST", "/opml", data=big_opml(100), content_type="text/x-opml")
    assert answer.status_code == 202, answer.get_json()
    job = answer.get_json()
    assert answer.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["state"] == "queued" and job["total"] == 100 and job["done"] == 0
    assert source_count(db) == 1  # nothing imported in the request

    # A runner takes one chunk: the job shows how far it is.
    partial = runner(db, "runner-a")
    assert partial.claim() == job["id"]
    assert partial.step(job["id"]) is False
    location = answer.headers["Location"].removeprefix("/api/v1")
    progress = api("GET", location).get_json()
    assert progress["state"] == "running" and progress["done"] == 25
    assert progress["result"] == {"added": 25, "skipped": 0, "errors": []}
    assert progress["started_at"] and progress["finished_at"] is None
    partial.stopping.set()
    partial.run(job["id"])  # asked to stop: gives it back after its chunk
    assert job_row(db, job["id"]).state == JobState.QUEUED

    worker = Worker(db, settings_of(limited), name="test-worker")
    try:
        assert worker.run_jobs() == 1
    finally:
        worker.shutdown()
    done = api("GET", location).get_json()
    assert done["state"] == "done" and done["done"] == 100 and done["error"] is None
    assert done["result"]["added"] == 97 and done["result"]["skipped"] == 2
    assert len(done["result"]["errors"]) == 1 and "line 102" in done["result"]["errors"][0]
    assert source_count(db) == 98
    sources = api("GET", "/sources?per_page=500").get_json()["items"]
    assert {tuple(s["tags"]) for s in sources if s["feed_url"].startswith("https://h")} == {
        ("News",)
    }
    assert job_row(db, job["id"]).payload == ""  # the file is dropped once done


def test_a_job_is_in_the_openapi_document_and_unknown_jobs_are_404(api: Api) -> None:
    document = api("GET", "/openapi.json").get_json()
    assert "get" in document["paths"]["/jobs/{job_id}"]
    assert "202" in document["paths"]["/opml"]["post"]["responses"]
    missing = api("GET", "/jobs/999")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_a_small_import_stays_in_the_request(limited: Flask, api: Api, db: Database) -> None:
    answer = api("POST", "/opml", data=big_opml(LIMIT), content_type="text/x-opml")
    assert answer.status_code == 200, answer.get_json()
    assert len(answer.get_json()["added"]) == LIMIT - 3
    assert source_count(db) == LIMIT - 2
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


@pytest.fixture
def admin(limited: Flask, db: Database) -> Iterator[FlaskClient]:
    make_admin(db)
    client = limited.test_client()
    sign_in(client)
    yield client


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_the_admin_follows_a_large_import(admin: FlaskClient, db: Database) -> None:
    answer = post_form(admin, "/admin/opml/import", "/admin/opml/import",
                       {"file": (BytesIO(big_opml(100)), "many.opml")},
                       content_type="multipart/form-data")  # fmt: skip
    assert answer.status_code == 303
    page_path = answer.headers["Location"]
    job_id = int(page_path.rsplit("/", 1)[1])
    assert page_path == f"/admin/jobs/{job_id}"
    page = admin.get(page_path)
    assert page.status_code == 200
    assert "queued" in text(page) and "0 of 100 entries done" in text(page)
    assert "No worker is running" in text(page)
    assert '<meta http-equiv="refresh"' in text(page)
    assert source_count(db) == 1

    runner(db, "runner-a").run_pending()
    page = admin.get(page_path)
    assert "done" in text(page) and "100 of 100 entries done" in text(page)
    assert "97 added, 2 skipped" in text(page) and "line 102" in text(page)
    assert '<meta http-equiv="refresh"' not in text(page)
    listing = admin.get("/admin/opml/import")
    assert f'href="/admin/jobs/{job_id}"' in text(listing)
    assert admin.get("/admin/jobs/999").status_code == 404


def test_a_small_admin_import_is_answered_at_once(admin: FlaskClient, db: Database) -> None:
    answer = post_form(admin, "/admin/opml/import", "/admin/opml/import",
                       {"file": (BytesIO(big_opml(10)), "few.opml")},
                       content_type="multipart/form-data")  # fmt: skip
    assert answer.status_code == 200
    assert "7 added, 2 duplicates skipped, 1 errors" in text(answer)
    assert source_count(db) == 8


def test_two_runners_never_run_one_job(app: Flask, db: Database) -> None:
    with db.session() as session:
        add_source(session, "https://known.example/feed.xml", T0)
    job_id = queue(db)
    start = threading.Barrier(2)
    taken: dict[str, int] = {}

    def run(owner: str) -> None:
        one = runner(db, owner)
        start.wait()
        taken[owner] = one.run_pending()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken.values()) == [0, 1]
    job = job_row(db, job_id)
    assert job.state == JobState.DONE
    # Run twice, the second run would have found every source there already.
    assert job.result is not None and "interrupted" not in job.result
    assert (job.result["added"], job.result["skipped"], len(job.result["errors"])) == (97, 2, 1)


def test_a_job_whose_runner_died_is_resumed_after_its_lease(app: Flask, db: Database) -> None:
    job_id = queue(db)
    dead = runner(db, "dead")
    assert dead.claim() == job_id
    assert dead.step(job_id) is False  # 25 done, then the runner dies
    assert runner(db, "early", T0 + dt.timedelta(seconds=LEASE - 1)).claim() is None

    later = runner(db, "later", T0 + dt.timedelta(seconds=LEASE + 1))
    assert later.run_pending() == 1
    job = job_row(db, job_id)
    assert job.state == JobState.DONE and job.done == 100
    assert job.result is not None and job.result["interrupted"] == 1
    # Resumed where the dead runner's last commit left it: nothing counted twice.
    assert job.result["added"] == 98 and job.result["skipped"] == 1
    assert source_count(db) == 98
    # The dead runner come back to life writes nothing more.
    with pytest.raises(LeaseLost):
        dead.step(job_id)


def test_a_job_interrupted_again_and_again_fails_saying_why(app: Flask, db: Database) -> None:
    job_id = queue(db)
    for n in range(jobs.MAX_INTERRUPTIONS):
        at = T0 + n * dt.timedelta(seconds=LEASE + 1)
        assert runner(db, f"r{n}", at).claim() == job_id
    last = T0 + jobs.MAX_INTERRUPTIONS * dt.timedelta(seconds=LEASE + 1)
    assert runner(db, "last", last).claim() is None
    job = job_row(db, job_id)
    assert job.state == JobState.FAILED and job.lease_owner is None
    assert job.error is not None and "stopped 3 times" in job.error


def test_an_error_mid_chunk_fails_the_job_and_keeps_the_chunk_whole(
    app: Flask, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = queue(db)
    one = runner(db, "one")
    assert one.claim() == job_id
    assert one.step(job_id) is False
    real = jobs.import_entries

    def breaks_after_adding(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jobs, "import_entries", breaks_after_adding)
    one.run(job_id)
    job = job_row(db, job_id)
    assert job.state == JobState.FAILED and job.error is not None and "disk on fire" in job.error
    assert job.done == 25 and source_count(db) == 25  # the broken chunk added nothing
    assert job.finished_at is not None and job.lease_owner is None


def test_a_worker_stopping_gives_its_job_back_at_once(app: Flask, db: Database) -> None:
    job_id = queue(db)
    stopping = runner(db, "stopping")
    stopping.stopping.set()
    assert stopping.claim() == job_id
    stopping.run(job_id)
    job = job_row(db, job_id)
    assert job.state == JobState.QUEUED and job.done == 25 and job.lease_owner is None
    # Claimed again straight away, not after the lease, and not as an interruption.
    resumed = runner(db, "next")
    assert resumed.run_pending() == 1
    job = job_row(db, job_id)
    assert job.state == JobState.DONE and job.result is not None
    assert "interrupted" not in job.result and job.result["added"] == 98


def test_housekeeping_forgets_old_jobs(app: Flask, db: Database) -> None:
    old, recent = queue(db, 10), queue(db, 10)
    runner(db, "r", T0 - dt.timedelta(days=40)).run_pending()
    with db.session() as session:
        session.get(Job, recent).finished_at = dt.datetime.now(dt.UTC)  # type: ignore[union-attr]
    housekeep(db, settings_of(app))
    with db.session() as session:
        assert session.get(Job, old) is None and session.get(Job, recent) is not None


def test_a_queued_job_waits_for_a_worker_only_while_none_beats(db: Database) -> None:
    now = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    later = now + dt.timedelta(minutes=5)
    with db.session() as session:
        job = Job(kind=JobKind.OPML_IMPORT, state=JobState.QUEUED, payload="[]", created_at=now)
        session.add(job)
        session.flush()
        assert job.in_progress
        assert jobs.waits_for_worker(session, job, now, stale_seconds=60)  # none ever beat
        session.add(WorkerHeartbeat(name="w1", beat_at=now, started_at=now))
        session.flush()
        assert not jobs.waits_for_worker(session, job, now, stale_seconds=60)
        assert jobs.waits_for_worker(session, job, later, stale_seconds=60)  # it stopped
        job.state = JobState.RUNNING
        assert job.in_progress
        assert not jobs.waits_for_worker(session, job, later, stale_seconds=60)
        job.state = JobState.DONE
        assert not job.in_progress
