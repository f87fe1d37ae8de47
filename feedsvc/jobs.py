"""Long admin work out of the request: jobs in the `jobs` table, and their runner.

An OPML import of thousands of outlines outlives gunicorn's 30 s timeout, so
the request stores a job (the file's entries, parsed) and answers at once;
so does applying changed filter rules to a large scope of stored posts. The
worker (`feedsvc worker`, or the scheduler `feedsvc serve` embeds) runs it.
Nothing runs in a web process, which gunicorn may recycle or kill at any
moment: the table outlives every process.

A runner claims a job with a lease, as the worker claims sources: `FOR UPDATE
SKIP LOCKED` on PostgreSQL, so two runners never take one job. The work goes
in chunks, each one transaction together with the job's progress (`done` and
the result so far), under the job's row lock and only while the job is still
the runner's. Each entry is still added whole or not at all (a savepoint
each). A runner that dies loses the chunk in hand and nothing else; once its
lease has run out the next claim resumes from the last commit. A job
interrupted MAX_INTERRUPTIONS times is marked failed with the reason, not
retried for ever; an error of ours fails it at once, with the error.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from feedsvc.db import Database
from feedsvc.dbfaults import DatabaseUnavailable, is_database_fault
from feedsvc.heartbeats import worker_health
from feedsvc.models import Job
from feedsvc.opml import ImportReport, OpmlEntry, import_entries
from feedsvc.rules import reapply_chunk
from feedsvc.vocabulary import JobKind, JobState

log = logging.getLogger(__name__)

# Entries per transaction: small enough to lose little, large enough to be quick.
CHUNK = 100
# Posts per transaction when applying filter rules again: CHUNK times this.
RULES_CHUNKS = 5
# A job whose runner stopped this many times without finishing has failed.
MAX_INTERRUPTIONS = 3


class LeaseLost(Exception):
    """The job is no longer this runner's: another took it over, or it ended."""


def enqueue_opml_import(
    session: Session,
    entries: Sequence[OpmlEntry],
    problems: Sequence[tuple[int | None, str]],
    now: dt.datetime,
    user_id: int | None = None,
) -> Job:
    """A queued job importing these entries; the file's own problems are its first errors."""
    job = Job(
        kind=JobKind.OPML_IMPORT, state=JobState.QUEUED,
        payload=json.dumps([asdict(e) for e in entries]),
        options={}, total=len(entries), done=0, user_id=user_id, created_at=now,
        result=summary(ImportReport(errors=list(problems))),
    )  # fmt: skip
    session.add(job)
    session.flush()
    return job


def summary(report: ImportReport, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """The job's result: counts of sources added and skipped, the errors in words,
    added to what earlier chunks found."""
    before = before or {}
    return {
        **before,
        "added": before.get("added", 0) + len(report.added),
        "skipped": before.get("skipped", 0) + len(report.duplicates),
        "errors": [*before.get("errors", []), *report.describe_errors()],
    }


def recent_jobs(session: Session, limit: int = 10, kind: str | None = None) -> list[Job]:
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(Job.kind == kind)
    return list(session.scalars(query))


def claim_job(session: Session, now: dt.datetime, owner: str, lease_seconds: int) -> Job | None:
    """Lease the oldest job waiting, or one whose runner's lease ran out, to `owner`."""
    while True:
        abandoned = and_(Job.state == JobState.RUNNING, Job.lease_until < now)
        job = session.scalar(
            select(Job)
            .where(or_(Job.state == JobState.QUEUED, abandoned))
            .order_by(Job.created_at, Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if job is None:
            return None
        if job.state == JobState.RUNNING:
            interrupted = int((job.result or {}).get("interrupted", 0)) + 1
            job.result = {**(job.result or {}), "interrupted": interrupted}
            if interrupted >= MAX_INTERRUPTIONS:
                _end(job, now, JobState.FAILED, f"its runner stopped {interrupted} times before it "
                     f"finished; {job.done} of {job.total} entries were done")  # fmt: skip
                log.error("job %s: failed: %s", job.id, job.error)
                continue
            log.warning("job %s: %s stopped running it; resuming at entry %s of %s",
                        job.id, job.lease_owner, job.done, job.total)  # fmt: skip
        job.state = JobState.RUNNING
        job.lease_owner = owner
        job.lease_until = now + dt.timedelta(seconds=lease_seconds)
        job.started_at = job.started_at or now
        return job


def _end(job: Job, now: dt.datetime, state: str, error: str | None = None) -> None:
    job.state, job.error, job.finished_at = state, error, now
    job.lease_owner = job.lease_until = None
    # The file is not needed any more, and may be megabytes.
    job.payload = ""


def waits_for_worker(session: Session, job: Job, now: dt.datetime, stale_seconds: int) -> bool:
    """Whether the job is queued and no worker beat lately to run it."""
    return job.state == JobState.QUEUED and not worker_health(session, now, stale_seconds).beating


def prune_jobs(session: Session, before: dt.datetime) -> int:
    """Forget jobs that ended before `before`."""
    ended = session.execute(
        delete(Job).where(Job.state.in_([JobState.DONE, JobState.FAILED]), Job.finished_at < before)
    )
    return int(ended.rowcount or 0)  # type: ignore[attr-defined]


class JobRunner:
    """Claims jobs and runs them a chunk at a time, renewing the lease with each."""

    def __init__(
        self,
        db: Database,
        owner: str,
        lease_seconds: int,
        *,
        now: Callable[[], dt.datetime],
        stopping: threading.Event | None = None,
        chunk: int = CHUNK,
    ) -> None:
        self.db, self.owner, self.lease_seconds, self.now = db, owner, lease_seconds, now
        self.stopping = stopping or threading.Event()
        self.chunk = chunk
        self._entries: tuple[int, list[OpmlEntry]] | None = None

    def run_pending(self) -> int:
        """Run jobs until none is waiting, or until asked to stop; how many were taken."""
        taken = 0
        while not self.stopping.is_set():
            job_id = self.claim()
            if job_id is None:
                break
            taken += 1
            self.run(job_id)
        return taken

    def claim(self) -> int | None:
        with self.db.session() as session:
            job = claim_job(session, self.now(), self.owner, self.lease_seconds)
            return job.id if job is not None else None

    def run(self, job_id: int) -> None:
        """Step a claimed job to its end. Asked to stop, give it back to be
        claimed at once; the database away, leave it to be resumed when the
        lease runs out; anything else fails it, saying why."""
        try:
            while not self.step(job_id):
                if self.stopping.is_set():
                    self._give_back(job_id)
                    return
        except LeaseLost:
            log.warning("job %s: no longer %s's; stopped", job_id, self.owner)
        except Exception as exc:
            if not is_database_fault(exc):
                log.exception("job %s failed", job_id)
                self._fail(job_id, f"stopped by an error: {type(exc).__name__}: {exc}")
                return
            log.warning("job %s: the database is unavailable (%s); it will be resumed",
                        job_id, DatabaseUnavailable.because(exc))  # fmt: skip
        finally:
            self._entries = None

    def step(self, job_id: int) -> bool:
        """Do the next chunk of a job this runner holds, in one transaction with
        its progress; True once the job has ended."""
        with self.db.session() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None or job.state != JobState.RUNNING or job.lease_owner != self.owner:
                raise LeaseLost(job_id)
            now = self.now()
            step = self._step_rules if job.kind == JobKind.RULES_APPLY else self._step_opml
            finished = step(job, session, now)
            job.lease_until = now + dt.timedelta(seconds=self.lease_seconds)
            if finished:
                _end(job, now, JobState.DONE)
                log.info("job %s: done: %s", job.id, job.result)
            return finished

    def _step_opml(self, job: Job, session: Session, now: dt.datetime) -> bool:
        entries = self._load(job)
        chunk = entries[job.done : job.done + self.chunk]
        done_before = (entry.url for entry in entries[: job.done] if entry.url)
        report = import_entries(session, chunk, now, seen=done_before)
        job.done += len(chunk)
        job.result = summary(report, job.result)
        return job.done >= len(entries)

    def _step_rules(self, job: Job, session: Session, now: dt.datetime) -> bool:
        """Apply the rules again to the next posts of the job's scope."""
        result = dict(job.result or {})
        limit = self.chunk * RULES_CHUNKS
        done = reapply_chunk(session, now, job.options.get("source_id"),
                             int(result.get("after_id", 0)), limit)  # fmt: skip
        job.done += done.scanned
        job.result = {**result, "after_id": done.last_id,
                      "hidden": int(result.get("hidden", 0)) + done.hidden,
                      "shown": int(result.get("shown", 0)) + done.shown}  # fmt: skip
        return done.scanned < limit

    def _load(self, job: Job) -> list[OpmlEntry]:
        if job.kind != JobKind.OPML_IMPORT:
            raise ValueError(f"no runner for jobs of kind {job.kind!r}")
        if self._entries is None or self._entries[0] != job.id:
            entries = [
                OpmlEntry(item["url"], item["title"], tuple(item["tags"]), item["line"])
                for item in json.loads(job.payload)
            ]
            self._entries = (job.id, entries)
        return self._entries[1]

    def _give_back(self, job_id: int) -> None:
        with self.db.session() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.lease_owner == self.owner)
                .where(Job.state == JobState.RUNNING)
                .values(state=JobState.QUEUED, lease_owner=None, lease_until=None)
            )
        log.info("job %s: given back, to be resumed", job_id)

    def _fail(self, job_id: int, reason: str) -> None:
        with self.db.session() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is not None and job.lease_owner == self.owner:
                _end(job, self.now(), JobState.FAILED, reason)
