"""Ingest benchmark: `feedsvc worker` (what production runs) against the peer
`reader`, on the same feeds in the same run, with `feedsvc fetch --all` beside.

200 generated feeds of 20–50 entries are served on 127.0.0.1 by nginx (Debian's
nginx-light; a Python server is the fallback, and the bottleneck), with
ETag/304. Its access log tells when each pass's first fetch began, the same
way for every contender. Each round, on fresh databases (SQLite, and
PostgreSQL when reachable):

- feedsvc worker: `feedsvc db upgrade`, the feeds imported from an OPML file
  with `feedsvc sources import-opml` (all due at once), then `feedsvc worker`
  started. Cold: from the process's start until the last entry is stored (the
  harness counts posts every 50 ms on a connection of its own), reported with
  and without the start-up (start → first fetch). The peak memory of
  the worker and all its child processes, summed, is sampled during the cold
  pass: RSS (shared pages counted in each process) and PSS (split between them).
  Warm (every feed answers 304), several times with the worker still running:
  one UPDATE makes every source due; timed from the first fetch to the last
  check stored, and from the UPDATE.
- feedsvc fetch --all: the same set-up, then the command run as a process —
  cold once, then warm, timed like the worker's, and each run whole.
- reader: the feeds added by `add_feed` (a new user's import, not timed), then
  one process runs make_reader and update_feeds(workers=16, scheduled=False),
  cold and then warm, timed from the process's start, or the first fetch, to
  update_feeds' return.

feedsvc runs with FEEDSVC_ENV=production and its defaults, except
FEEDSVC_DISPATCH_SECONDS=1 and FEEDSVC_FETCH_ALLOW_PRIVATE=1 (the feeds are on
loopback). Medians over the rounds are printed, with each figure's ratio to
reader's (reader's time ÷ feedsvc's, the median of the rounds' ratios: above 1
is faster), and the targets: through the worker, cold ≥ 2× reader, warm ≥ 1.5×,
RSS ≤ 300 MB.

    .venv/bin/python bench/ingest.py [--feeds 200] [--rounds 3] [--warm 5]
        [--hosts 1] [--tree DIR] [--timeout 300] [--rules 50] [--without-index]

--rules N adds a second worker pass on each database, with N filter rules
made by `feedsvc rules add` before the worker starts (half global, half for
one source each; none hides anything, so every rule runs on every entry), and
prints the cold pass's wall and CPU time beside the pass without rules (the
target: at most 10 % slower).

The search index follows ingest (feedsvc/search_index.py): the worker's cold
pass also reports how long after the last entry was stored the last one
became searchable ("indexed").

--without-index adds a worker pass on each database with the full-text search
index dropped after `feedsvc db upgrade` (feedsvc.search_index.drop of the tree
under test), and prints what keeping the index costs the cold pass (issue 20's
target: at most 15 %).

--hosts spreads the feeds over that many loopback addresses (the per-host
fetch limit then stops being the ceiling); --tree runs the feedsvc commands
from another source tree with this venv, e.g. a commit unpacked by
`git archive COMMIT | tar -x -C DIR`, to compare code in one run's conditions.
The PostgreSQL database is dropped and created again for every pass
($FEEDSVC_BENCH_DATABASE_URL, default bench_ingest on 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _proctree import PeakMemory, cpu_seconds, postmaster, stop_group
from _upstream import Upstream, count_entries, generate_feeds, opml, serve_feeds

ROOT = Path(__file__).resolve().parent.parent
FEEDSVC = str(Path(sys.executable).parent / "feedsvc")
PG_URL = os.environ.get(
    "FEEDSVC_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_ingest"
)
COLD_POLL = 0.05
WARM_POLL = 0.02
MB = 1024 * 1024

# The product's tables, named here rather than imported: the harness watches
# the database from outside, as an operator would.
SOURCES = sa.table(
    "sources", sa.column("next_check_at", sa.DateTime), sa.column("lease_owner", sa.String)
)
POSTS = sa.table("posts", sa.column("id", sa.Integer))
ATTEMPTS = sa.table("fetch_attempts", sa.column("id", sa.Integer), sa.column("outcome", sa.String))


class BenchError(RuntimeError):
    """A pass could not be measured; the message says why."""


@dataclass(frozen=True)
class Round:
    """What every pass of one round shares."""

    upstream: Upstream
    entries: int
    warm: int  # warm passes after the cold one
    timeout: float  # seconds allowed per pass
    tree: Path  # the feedsvc source tree to run
    scratch: Path  # this round's temporary folder
    opml_file: Path
    rules: int = 0  # filter rules made before the worker's pass "with rules"
    without_index: bool = False  # also a worker pass with no search index

    @property
    def urls(self) -> list[str]:
        return self.upstream.urls

    def first_fetch(self, after: float) -> float:
        """When the first request at or after `after` reached the upstream server."""
        began = self.upstream.first_request(after)
        if began is None:
            raise BenchError("the upstream server saw no request in this pass")
        return began


@dataclass
class Figures:
    """One pass of one contender, in seconds (None: does not apply)."""

    startup: float  # process start → first fetch (as the upstream server saw it)
    cold_total: float  # process start → last entry stored
    cold: float  # first fetch → last entry stored
    warm: float  # median over warm passes: first fetch → last check stored
    warm_total: float | None  # worker: UPDATE → last stored; fetch --all: the whole process
    peak_rss_mb: float  # during the cold pass, the process and its children summed
    peak_pss_mb: float  # the same, each shared page split between its sharers
    cold_cpu: float | None = None  # worker: CPU seconds of its processes, start → last stored
    # PostgreSQL: CPU seconds of the server's processes over the same span
    # (backends that ended included: the postmaster waits for them).
    server_cpu: float | None = None
    # Worker: last entry stored → no post waiting for the search index.
    indexed: float | None = None


# ---------------------------------------------------------------- the database


class Probe:
    """Reads the feedsvc database from outside, on a connection of its own."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)

    def posts(self) -> int:
        return self._scalar(sa.select(sa.func.count()).select_from(POSTS))

    def last_attempt_id(self) -> int:
        return self._scalar(sa.select(sa.func.coalesce(sa.func.max(ATTEMPTS.c.id), 0)))

    def attempts_since(self, after_id: int) -> int:
        query = sa.select(sa.func.count()).where(ATTEMPTS.c.id > after_id)
        return self._scalar(query)

    def unindexed(self) -> int | None:
        """Posts waiting for the search index; None for a tree that indexes
        them as they are written (or has no index)."""
        waiting = {
            "postgresql": "SELECT count(*) FROM posts WHERE search_vector IS NULL",
            "sqlite": "SELECT count(*) FROM posts_fts_pending",
        }[self.engine.dialect.name]
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(sa.text(waiting)).scalar_one())
        except sa.exc.DBAPIError:
            return None  # no such column or table: an older tree, or no index

    def leased(self) -> int:
        query = sa.select(sa.func.count()).where(SOURCES.c.lease_owner.is_not(None))
        return self._scalar(query)

    def outcomes(self, after_id: int) -> dict[str, int]:
        query = (
            sa.select(ATTEMPTS.c.outcome, sa.func.count())
            .where(ATTEMPTS.c.id > after_id)
            .group_by(ATTEMPTS.c.outcome)
        )
        with self.engine.connect() as conn:
            return {outcome: count for outcome, count in conn.execute(query)}

    def make_all_due(self) -> tuple[float, float]:
        """Every source due now, in one UPDATE; (when it was sent, committed)."""
        sent = time.time()
        now = dt.datetime.fromtimestamp(sent, dt.UTC).replace(tzinfo=None)
        with self.engine.begin() as conn:
            conn.execute(sa.update(SOURCES).values(next_check_at=now))
        return sent, time.time()

    def dispose(self) -> None:
        self.engine.dispose()

    def _scalar(self, query: sa.Select[Any]) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def reset_postgres(url: str) -> str | None:
    """Drop and create the benchmark's database; None if done, else why not."""
    try:
        import psycopg

        plain = url.replace("postgresql+psycopg", "postgresql")
        admin, name = plain.rsplit("/", 1)
        with psycopg.connect(admin + "/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()


# ---------------------------------------------------------------- feedsvc


def feedsvc_env(database_url: str, tree: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FEEDSVC_ENV": "production",
        "FEEDSVC_SECRET_KEY": "bench-" + "x" * 40,
        "FEEDSVC_DATABASE_URL": database_url,
        "FEEDSVC_FETCH_ALLOW_PRIVATE": "1",
        "FEEDSVC_DISPATCH_SECONDS": "1",
        "FEEDSVC_SHUTDOWN_SECONDS": "5",
        # Ahead of the editable install: --tree picks which code runs.
        "PYTHONPATH": str(tree),
    }


def cli(env: dict[str, str], log: Path, *args: str) -> None:
    """Run a feedsvc command to the end; its output goes to `log`."""
    with log.open("ab") as out:
        done = subprocess.run([FEEDSVC, *args], env=env, cwd=env["PYTHONPATH"], stdout=out,
                              stderr=out)  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"feedsvc {' '.join(args)} exited {done.returncode}:\n{tail(log)}")


def new_user_setup(run: Round, database_url: str, log: Path) -> dict[str, str]:
    """A fresh schema and the feeds imported from OPML, as a new user does it;
    return the environment every feedsvc command of the pass runs with."""
    env = feedsvc_env(database_url, run.tree)
    cli(env, log, "db", "upgrade")
    cli(env, log, "sources", "import-opml", str(run.opml_file))
    return env


def start(env: dict[str, str], log: Path, *args: str) -> tuple[subprocess.Popen[bytes], float]:
    """Start a feedsvc command in a process group of its own; (process, when)."""
    with log.open("ab") as out:
        started = time.time()
        process = subprocess.Popen([FEEDSVC, *args], env=env, cwd=env["PYTHONPATH"],
                                   stdout=out, stderr=out, start_new_session=True)  # fmt: skip
    return process, started


@dataclass(frozen=True)
class Goal:
    """What a pass waits for: `count()` reaching `total`."""

    count: Callable[[], int]
    total: int
    what: str  # e.g. "entries stored"

    def progress(self) -> str:
        return f"{self.count()} of {self.total} {self.what}"


def entries_stored(probe: Probe, entries: int) -> Goal:
    return Goal(probe.posts, entries, "entries stored")


def sources_checked(probe: Probe, after_id: int, feeds: int) -> Goal:
    return Goal(lambda: probe.attempts_since(after_id), feeds, "sources checked")


# Patterns that match none of the generated entries (they are made of bench
# words), so that every rule runs on every entry: the most a rule can cost.
RULE_PATTERNS = [
    ("title", r"(?i)\bsponsored\b"), ("link", r"[?&]utm_[a-z]+="), ("author", "^Advert"),
    ("tags", "^(casino|crypto)$"), ("content", r"(?i)buy now|limited offer|click here"),
    ("any", r"\bgiveaway\b"), ("content", r"\$[0-9]+\.[0-9]{2}"), ("title", "^\\[AD\\]"),
]  # fmt: skip


def make_rules(env: dict[str, str], log: Path, count: int, feeds: int) -> None:
    """`count` filter rules by `feedsvc rules add`: half global, half for one
    source each, the last global one a date rule."""
    for n in range(count):
        field, pattern = RULE_PATTERNS[n % len(RULE_PATTERNS)]
        if n % 2 == 0 and n == count - 2:
            cli(env, log, "rules", "add", "--max-age", "36500")
        elif n % 2 == 0:
            cli(env, log, "rules", "add", "--block", field, pattern)
        else:
            cli(env, log, "rules", "add", "--source", str(n // 2 % feeds + 1), "--block", field,
                pattern)  # fmt: skip


# The index dropped by the tree's own code, whatever shape it has there.
DROP_INDEX = """
import os
from sqlalchemy import create_engine
from feedsvc import search_index
with create_engine(os.environ["FEEDSVC_DATABASE_URL"]).begin() as connection:
    search_index.drop(connection)
"""


def run_worker(run: Round, database_url: str, rules: int = 0, index: bool = True) -> Figures:
    log = run.scratch / "worker.log"
    env = new_user_setup(run, database_url, log)
    if not index:
        subprocess.run([sys.executable, "-c", DROP_INDEX], env=env, cwd=env["PYTHONPATH"],
                       check=True, capture_output=True)  # fmt: skip
    if rules:
        make_rules(env, log, rules, len(run.urls))
    probe = Probe(database_url)
    before = probe.last_attempt_id()
    server = postmaster() if database_url.startswith("postgresql") else None
    server_before = cpu_seconds(server) if server else 0.0
    worker, started = start(env, log, "worker")
    try:
        with PeakMemory(worker.pid) as memory:
            goal = entries_stored(probe, run.entries)
            stored = wait_until(goal, COLD_POLL, run.timeout, worker, log)
            cpu = cpu_seconds(worker.pid)
            server_cpu = cpu_seconds(server) - server_before if server else None
        indexed = None
        if index and probe.unindexed() is not None:
            caught_up = Goal(lambda: run.entries - (probe.unindexed() or 0), run.entries,
                             "entries indexed for search")  # fmt: skip
            indexed = wait_until(caught_up, COLD_POLL, run.timeout, worker, log) - stored
        expect_outcomes(probe.outcomes(before), "ok", "worker, cold")
        first = run.first_fetch(started)
        spans, totals = [], []
        for _ in range(run.warm):
            span, total = warm_pass(run, probe, worker, log)
            spans.append(span)
            totals.append(total)
    finally:
        stop_group(worker)
        probe.dispose()
    return Figures(
        startup=first - started, cold_total=stored - started, cold=stored - first,
        warm=statistics.median(spans), warm_total=statistics.median(totals),
        peak_rss_mb=memory.rss / MB, peak_pss_mb=memory.pss / MB, cold_cpu=cpu,
        server_cpu=server_cpu, indexed=indexed,
    )  # fmt: skip


def warm_pass(
    run: Round, probe: Probe, worker: subprocess.Popen[bytes], log: Path
) -> tuple[float, float]:
    """Make every source due; (first check → last stored, UPDATE → last stored)."""
    feeds, timeout = len(run.urls), run.timeout
    # The previous pass must be over: no source still leased.
    free = Goal(lambda: feeds - probe.leased(), feeds, "sources free of a lease")
    wait_until(free, WARM_POLL, timeout, worker, log)
    before = probe.last_attempt_id()
    sent, due = probe.make_all_due()
    stored = wait_until(sources_checked(probe, before, feeds), WARM_POLL, timeout, worker, log)
    expect_outcomes(probe.outcomes(before), "not_modified", "worker, warm")
    return stored - run.first_fetch(sent), stored - due


def run_batch(run: Round, database_url: str) -> Figures:
    log = run.scratch / "fetch-all.log"
    env = new_user_setup(run, database_url, log)
    probe = Probe(database_url)
    try:
        before = probe.last_attempt_id()
        started, stored, _, memory = fetch_all(
            env, log, entries_stored(probe, run.entries), COLD_POLL, run.timeout
        )
        expect_outcomes(probe.outcomes(before), "ok", "fetch --all, cold")
        first = run.first_fetch(started)
        spans, totals = [], []
        for _ in range(run.warm):
            before = probe.last_attempt_id()
            goal = sources_checked(probe, before, len(run.urls))
            began, checked, ended, _ = fetch_all(env, log, goal, WARM_POLL, run.timeout)
            expect_outcomes(probe.outcomes(before), "not_modified", "fetch --all, warm")
            spans.append(checked - run.first_fetch(began))
            totals.append(ended - began)
    finally:
        probe.dispose()
    return Figures(
        startup=first - started, cold_total=stored - started, cold=stored - first,
        warm=statistics.median(spans), warm_total=statistics.median(totals),
        peak_rss_mb=memory.rss / MB, peak_pss_mb=memory.pss / MB,
    )  # fmt: skip


def fetch_all(
    env: dict[str, str], log: Path, goal: Goal, every: float, timeout: float
) -> tuple[float, float, float, PeakMemory]:
    """`feedsvc fetch --all` as a process, watched like the worker:
    (started, goal reached, exited, its peak memory)."""
    process, started = start(env, log, "fetch", "--all")
    try:
        with PeakMemory(process.pid) as memory:
            reached = wait_until(goal, every, timeout, process, log)
            code = process.wait(timeout=timeout)
        ended = time.time()
    except subprocess.TimeoutExpired:
        raise BenchError(f"fetch --all still running after {timeout:.0f} s:\n{tail(log)}") from None
    finally:
        stop_group(process)
    if code != 0:
        raise BenchError(f"fetch --all exited {code}:\n{tail(log)}")
    return started, reached, ended, memory


def expect_outcomes(outcomes: dict[str, int], wanted: str, what: str) -> None:
    """A pass where some feed did not answer as planned measures something else."""
    if set(outcomes) != {wanted}:
        raise BenchError(f"{what}: expected every outcome {wanted!r}, got {outcomes}")


def wait_until(
    goal: Goal, every: float, timeout: float, process: subprocess.Popen[bytes], log: Path
) -> float:
    """Poll until the goal is reached; return when it was first seen (time.time()).
    The process ending before it is reached is an error."""
    deadline = time.monotonic() + timeout
    while goal.count() < goal.total:
        if process.poll() is not None and goal.count() < goal.total:
            name = " ".join(str(arg) for arg in process.args[1:])  # type: ignore[index]
            raise BenchError(f"feedsvc {name} exited ({process.returncode}) with "
                             f"{goal.progress()}; its log ends:\n{tail(log)}")  # fmt: skip
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s with {goal.progress()}; "
                             f"the log ends:\n{tail(log)}")  # fmt: skip
        time.sleep(every)
    return time.time()


def tail(log: Path, lines: int = 25) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text[-lines:]) or "    (empty log)"


# ---------------------------------------------------------------- reader


def run_reader(run: Round) -> Figures:
    db, urls_file = run.scratch / "reader.sqlite", run.scratch / "urls.txt"
    urls_file.write_text("\n".join(run.urls))
    reader_process(["add", str(db), str(urls_file)], run.timeout)
    started = time.time()
    result, memory = reader_process(["update", str(db), str(run.warm)], run.timeout)
    cold, passes = result["cold"], result["warm"]
    if cold["error_count"] or result["entries"] != run.entries:
        raise BenchError(f"reader stored {result['entries']} of {run.entries} entries; "
                         f"errors: {cold['errors']}")  # fmt: skip
    if any(p["not_modified"] != len(run.urls) for p in passes):
        raise BenchError(f"reader's warm passes were not all 304: {passes}")
    first = run.first_fetch(started)
    return Figures(
        startup=first - started, cold_total=cold["ended"] - started, cold=cold["ended"] - first,
        warm=statistics.median(p["ended"] - run.first_fetch(p["began"]) for p in passes),
        warm_total=None, peak_rss_mb=memory.rss / MB, peak_pss_mb=memory.pss / MB,
    )  # fmt: skip


def reader_process(args: list[str], timeout: float) -> tuple[dict, PeakMemory]:  # type: ignore[type-arg]
    """Run bench/_reader_pass.py; (what it printed, its peak memory)."""
    script = Path(__file__).with_name("_reader_pass.py")
    process = subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        with PeakMemory(process.pid) as memory:
            out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"reader {args[0]} still running after {timeout:.0f} s") from None
    finally:
        stop_group(process)
    if process.returncode != 0:
        raise BenchError(f"reader {args[0]} exited {process.returncode}:\n{err.decode()[-2000:]}")
    return json.loads(out), memory


# ---------------------------------------------------------------- the report


def print_round(name: str, figures: Figures) -> None:
    total = f", {figures.warm_total:.2f} s whole" if figures.warm_total is not None else ""
    cpu = f" (CPU {figures.cold_cpu:.2f} s)" if figures.cold_cpu is not None else ""
    if figures.server_cpu is not None:
        cpu = cpu[:-1] + f", database server {figures.server_cpu:.2f} s)"
    if figures.indexed is not None:
        cpu += f", all searchable {figures.indexed:.2f} s later"
    print(f"  {name:<38} start-up {figures.startup:5.2f} s, cold {figures.cold_total:6.2f} s "
          f"({figures.cold:.2f} s after start-up){cpu}, warm {figures.warm:.2f} s{total}, "
          f"peak RSS {figures.peak_rss_mb:.0f} MB (PSS {figures.peak_pss_mb:.0f})",
          flush=True)  # fmt: skip


COLUMNS = (  # heading, second line, width
    ("", "", 38), ("start-up", "", 9), ("cold", "with start", 11), ("cold", "after start", 12),
    ("warm", "1st→last", 9), ("warm", "whole", 7), ("peak RSS", "MB", 9), ("PSS", "MB", 6),
    ("cold CPU", "s", 9), ("server CPU", "s", 11), ("indexed", "+s", 8),
    ("cold ×reader", "with start", 13), ("cold ×reader", "after start", 13),
    ("warm ×reader", "1st→last", 13),
)  # fmt: skip
RATIOS = ("cold_total", "cold", "warm")


def print_table(results: dict[str, list[Figures]], rounds: int) -> None:
    base = results["reader"]

    def ratio(runs: list[Figures], field: str) -> float:
        """Pair by pair within a round, so a machine's drift between rounds cancels."""
        pairs = zip(base, runs, strict=True)
        return statistics.median(getattr(b, field) / getattr(r, field) for b, r in pairs)

    print(f"\nmedians of {rounds} round(s); seconds; ×reader = reader's time ÷ this one's")
    print_row([heading for heading, _, _ in COLUMNS])
    print_row([second for _, second, _ in COLUMNS])
    for name, runs in results.items():
        cells = [name]
        for field in fields(Figures):
            value = median(runs, field.name)
            digits = 0 if field.name.endswith("_mb") else 2
            cells.append("–" if value is None else f"{value:.{digits}f}")
        cells += [f"{ratio(runs, field):.2f}" for field in RATIOS]
        print_row(cells)
    print("start-up: from the process's start to its first fetch (seen by the upstream "
          "server). warm 1st→last: first fetch\nto last check stored. warm whole: worker, "
          "from the UPDATE (which adds up to DISPATCH_SECONDS=1 before the\nnext claim); "
          "fetch --all, the whole process.")  # fmt: skip
    for name, runs in results.items():
        if name.startswith("feedsvc worker"):
            cold, cold_all = ratio(runs, "cold"), ratio(runs, "cold_total")
            warm, rss = ratio(runs, "warm"), median(runs, "peak_rss_mb") or 0.0
            pss = median(runs, "peak_pss_mb") or 0.0
            if name.endswith((" rules", NO_INDEX)):
                continue
            print(f"targets, {name}: cold ≥ 2× reader {verdict(cold >= 2)} "
                  f"({cold:.2f}× after start-up, {cold_all:.2f}× with it); warm ≥ 1.5× reader "
                  f"{verdict(warm >= 1.5)} ({warm:.2f}×); RSS ≤ 300 MB "
                  f"{verdict(rss <= 300)} ({rss:.0f} MB; PSS {pss:.0f} MB)")  # fmt: skip
    print_costs(results)


NO_INDEX = ", no search index"


def print_costs(results: dict[str, list[Figures]]) -> None:
    """What the rules cost the worker's cold pass (with rules against without),
    and what the search index costs it (with the index against without), pair
    by pair in a round."""
    for name, runs in results.items():
        variant = name.endswith(" rules") or name.endswith(NO_INDEX)
        plain = results.get(name.rsplit(", ", 1)[0]) if variant else None
        if plain is None:
            continue
        # Rules: their pass against the plain one; the index: the plain pass
        # (which keeps it) against the one without.
        slow, fast, words, limit = ((runs, plain, "against none", 0.10) if name.endswith(" rules")
                                    else (plain, runs, "for the index", 0.15))  # fmt: skip
        for field, what in (("cold", "wall after start-up"), ("cold_total", "wall with it"),
                            ("cold_cpu", "CPU"),
                            ("all_cpu", "CPU, the database server's too")):  # fmt: skip
            if field == "all_cpu" and runs[0].server_cpu is None:
                continue
            ratios = [_figure(s, field) / _figure(f, field)
                      for s, f in zip(slow, fast, strict=True)]  # fmt: skip
            slower = statistics.median(ratios) - 1
            print(f"{name}: cold {what} {slower:+.1%} {words} (median of "
                  f"{', '.join(f'{x - 1:+.1%}' for x in ratios)}); ≤ +{limit:.0%} "
                  f"{verdict(slower <= limit)}")  # fmt: skip


def _figure(figures: Figures, field: str) -> float:
    if field == "all_cpu":
        return (figures.cold_cpu or 0.0) + (figures.server_cpu or 0.0)
    return float(getattr(figures, field))


def print_row(cells: list[str]) -> None:
    print("".join(
        f"{cell:<{width}}" if i == 0 else f"{cell:>{width}}"
        for i, (cell, (_, _, width)) in enumerate(zip(cells, COLUMNS, strict=True))
    ))  # fmt: skip


def median(runs: list[Figures], field: str) -> float | None:
    values = [getattr(run, field) for run in runs]
    return None if None in values else statistics.median(values)


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=5, help="warm passes per round")
    parser.add_argument(
        "--hosts",
        type=int,
        default=1,
        help="loopback addresses the feeds are spread over (nginx only)",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed per pass")
    parser.add_argument("--rules", type=int, default=0,
                        help="also run the worker with this many filter rules")  # fmt: skip
    parser.add_argument("--without-index", action="store_true",
                        help="also run the worker with no full-text search index")  # fmt: skip
    parser.add_argument(
        "--tree",
        type=Path,
        default=ROOT,
        help="run feedsvc from this source tree (e.g. an unpacked "
        "`git archive`) with this venv; default: this checkout",
    )
    args = parser.parse_args()  # fmt: skip
    if args.feeds < 1 or args.rounds < 1 or args.warm < 1 or not 1 <= args.hosts <= 254:
        parser.error("--feeds, --rounds and --warm must be at least 1; --hosts 1 to 254")
    if args.rules < 0:
        parser.error("--rules must be 0 or more")
    tree = args.tree.resolve()
    if not (tree / "feedsvc" / "__init__.py").is_file():
        parser.error(f"--tree {args.tree}: no feedsvc package there")
    # An installed package has its byte-code; without it every start compiles.
    compileall.compile_dir(tree / "feedsvc", quiet=1)
    compileall.compile_file(tree / "config.py", quiet=1)

    feeds = generate_feeds(args.feeds)
    entries = count_entries(feeds)
    problem = reset_postgres(PG_URL)
    if problem:
        print(f"PostgreSQL skipped ({PG_URL}): {problem}", file=sys.stderr)
    databases = ["SQLite"] if problem else ["SQLite", "PostgreSQL"]
    results: dict[str, list[Figures]] = {"reader": []}
    try:
        with serve_feeds(feeds, args.hosts) as upstream:
            print(f"{args.feeds} feeds, {entries} entries, {args.rounds} round(s) of a cold "
                  f"pass and {args.warm} warm, {os.cpu_count()} cores, served by "
                  f"{upstream.server}; feedsvc from {tree}", flush=True)  # fmt: skip
            for number in range(1, args.rounds + 1):
                print(f"round {number}", flush=True)
                with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
                    scratch = Path(folder)
                    run = Round(upstream, entries, args.warm, args.timeout, tree, scratch,
                                scratch / "feeds.opml", args.rules, args.without_index)  # fmt: skip
                    run.opml_file.write_bytes(opml(run.urls))
                    run_round(run, databases, results)
    except BenchError as exc:
        sys.exit(f"bench/ingest.py: {exc}")
    print_table(results, args.rounds)


def run_round(run: Round, databases: list[str], results: dict[str, list[Figures]]) -> None:
    """reader, then on each database the worker (plain, with rules, without the
    search index, in turns) and then fetch --all."""
    keep(results, "reader", run_reader(run))
    for database in databases:
        url = fresh_database(database, run, "worker")
        keep(results, f"feedsvc worker, {database}", run_worker(run, url))
        if run.rules:
            url = fresh_database(database, run, "worker-rules")
            keep(results, f"feedsvc worker, {database}, {run.rules} rules",
                 run_worker(run, url, run.rules))  # fmt: skip
        if run.without_index:
            url = fresh_database(database, run, "worker-no-index")
            keep(results, f"feedsvc worker, {database}{NO_INDEX}",
                 run_worker(run, url, index=False))  # fmt: skip
        url = fresh_database(database, run, "batch")
        keep(results, f"feedsvc fetch --all, {database}", run_batch(run, url))


def keep(results: dict[str, list[Figures]], name: str, figures: Figures) -> None:
    results.setdefault(name, []).append(figures)
    print_round(name, figures)


def fresh_database(database: str, run: Round, name: str) -> str:
    if database == "SQLite":
        return f"sqlite:///{run.scratch / name}.db"
    problem = reset_postgres(PG_URL)
    if problem:
        raise BenchError(f"could not recreate the PostgreSQL database: {problem}")
    return PG_URL


if __name__ == "__main__":
    main()
