"""Ranking popular posts at scale: 100,000 posts and a year of daily view
counters (about 3.6 million rows), on SQLite and PostgreSQL. Prints the median
time of each window's ranking, uncached (`feedsvc.popularity.rank`)."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TODAY = dt.date(2026, 11, 24)
NOW = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)


def rows(posts: int, days: int, per_day: int, seed: int = 7) -> list[tuple[int, str, int]]:
    """(post, day, views): each day, `per_day` posts read, newer and luckier ones more."""
    rng = random.Random(seed)
    out = []
    for age in range(days):
        day = (TODAY - dt.timedelta(days=age)).isoformat()
        for post_id in rng.sample(range(1, posts + 1), per_day):
            out.append((post_id, day, 1 + int(rng.paretovariate(1.5))))
    return out


def load(url: str, posts: int, views: list[tuple[int, str, int]]) -> None:
    from feedsvc.migrate import upgrade

    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    stamp = dt.datetime(2025, 1, 1)
    no = "f" if engine.dialect.name == "postgresql" else 0
    post_rows = []
    for n in range(1, posts + 1):
        when = str(stamp + dt.timedelta(minutes=n))
        post_rows.append((n, f"{n:032x}", f"local:{n}", f"Post {n}", f"post-{n}", "s", "", "",
                          when, when, when, when, "[]", no, no))  # fmt: skip
    columns = (
        "id, uid, entry_key, title, slug, summary, content, content_hash, published_at,"
        " updated_at, created_at, modified_at, enclosures, hidden, popular_excluded"
    )
    raw = engine.raw_connection()
    cursor = raw.cursor()
    if engine.dialect.name == "postgresql":
        _copy(cursor, f"posts ({columns})", post_rows)
        _copy(cursor, "post_views (post_id, day, count)", views)
    else:
        marks = ",".join("?" * 15)
        cursor.executemany(f"INSERT INTO posts ({columns}) VALUES ({marks})", post_rows)
        cursor.executemany("INSERT INTO post_views (post_id, day, count) VALUES (?,?,?)", views)
    cursor.execute(
        "INSERT INTO post_view_totals (post_id, count)"
        " SELECT post_id, SUM(count) FROM post_views GROUP BY post_id"
    )
    raw.commit()
    raw.close()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def _copy(cursor: object, target: str, data: list[tuple[object, ...]]) -> None:
    buffer = io.StringIO("".join("\t".join(map(str, row)) + "\n" for row in data))
    with cursor.copy(f"COPY {target} FROM STDIN") as copy:  # type: ignore[attr-defined]
        copy.write(buffer.getvalue())


def measure(url: str, rounds: int) -> dict[str, float]:
    from feedsvc import popularity
    from feedsvc.db import Database

    db = Database(url)
    with db.session() as session:  # the day's roll (first use: a rebuild) happens once
        popularity.rank(session, "7d", 10, NOW)
    medians = {}
    for window in popularity.WINDOWS:
        timings = []
        for _ in range(rounds):
            with db.session() as session:
                started = time.perf_counter()
                ranked = popularity.rank(session, window, 10, NOW)
                timings.append((time.perf_counter() - started) * 1000)
            assert len(ranked) == 10
        medians[window] = statistics.median(timings)
    db.dispose()
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--per-day", type=int, default=10_000, help="posts read each day")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench")
    args = parser.parse_args()
    views = rows(args.posts, 365, args.per_day)
    folder = Path(tempfile.mkdtemp(prefix="bench-popular-"))
    targets = {"7d": 10, "30d": 10, "all": 50, "trending": None}
    try:
        results = {}
        for name, url in (
            ("SQLite", f"sqlite:///{folder}/feedsvc.db"),
            ("PostgreSQL", args.postgres),
        ):
            started = time.perf_counter()
            load(url, args.posts, views)
            print(f"{name}: loaded in {time.perf_counter() - started:.0f} s", flush=True)
            results[name] = measure(url, args.rounds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{args.posts:,} posts, {len(views):,} daily counters; median of {args.rounds}, ms")
    print(f"{'window':<10}{'SQLite':>10}{'PostgreSQL':>12}  target")
    for window, target in targets.items():
        goal = f"<= {target} ms" if target else "(none)"
        lite, pg = results["SQLite"][window], results["PostgreSQL"][window]
        print(f"{window:<10}{lite:>10.2f}{pg:>12.2f}  {goal}")


if __name__ == "__main__":
    main()
