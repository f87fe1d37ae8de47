"""Search benchmark: one-to-three-word searches over 1,000,000 posts, on SQLite
and PostgreSQL, through `feedsvc.search.search` (the /search page's service:
ranked ids, the posts, titles and snippets marked), with no render cache.

The posts are made up from a Zipf vocabulary of 50,000 words (a title of 6
words, a summary of 25, content of 120 in paragraphs; 1 % hidden) and loaded
the fast way each database allows — SQLite: executemany in 10,000-row
transactions (its triggers queue each post, as ingest's inserts do), then the
queue indexed by `search_index.catch_up`, as the worker does after ingest;
PostgreSQL: COPY, then the vectors filled in one pass and the GIN index
built. The databases are kept (`--reuse` times the searches again without
loading).

Queries, each class `--queries` long, after a warm-up:

- words of a post: 1, 2 or 3 words taken from one random post's text, so at
  least that post matches and common words come up as often as they are
  used (the 100 most frequent words, the stand-in for stop words, left out);
- any word: 1 word drawn evenly from the vocabulary below the top 100.

    .venv/bin/python bench/search.py [--posts 1000000] [--queries 200]
        [--databases sqlite,postgresql] [--dir /tmp/feedsvc-bench-search] [--reuse]

PostgreSQL: $FEEDSVC_BENCH_DATABASE_URL, default bench_search on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from feedsvc import search, search_index  # noqa: E402
from feedsvc.db import Database  # noqa: E402
from feedsvc.ingest.bulk import COLUMNS  # noqa: E402
from feedsvc.migrate import upgrade  # noqa: E402
from feedsvc.models import Post  # noqa: E402

PG_URL = os.environ.get(
    "FEEDSVC_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_search"
)
VOCABULARY = 50_000
STOP = 100  # the most frequent words: what a real text's stop words are
BATCH = 10_000
START = dt.datetime(2020, 1, 1)
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pe", "dra", "ul", "ix", "om",
             "be", "zan", "qui", "fer", "tol", "gra", "sen"]  # fmt: skip


# The columns' own defaults, for the columns a made-up post leaves alone.
DEFAULTS = {
    column.name: column.default.arg if column.default is not None and column.default.is_scalar
    else None
    for column in Post.__table__.columns
    if column.name in COLUMNS
}  # fmt: skip


def vocabulary(seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    # Shuffled from sorted order: a set's own order changes with each process's
    # hash seed, and the ranks must be the same when --reuse reads them again.
    ranked = sorted(words)
    rng.shuffle(ranked)
    return ranked


class Corpus:
    """Made-up posts, as rows of `COLUMNS` in order.

    Word rank r is drawn in proportion to 1/r (Zipf) from a list that holds it
    round(VOCABULARY / r) times: a uniform draw from a list is the fastest way
    Python has to draw, and a post's 151 words are drawn in one call."""

    def __init__(self, seed: int = 11) -> None:
        words = vocabulary()
        self.pool = [w for r, w in enumerate(words, 1) for _ in range(round(VOCABULARY / r))]
        self.rng = random.Random(seed)
        self.template = [DEFAULTS[name] for name in COLUMNS]
        self.at = {name: COLUMNS.index(name) for name in COLUMNS}

    def row(self, number: int, sqlite: bool) -> list[object]:
        words = self.rng.choices(self.pool, k=151)
        title = " ".join(words[:6]).capitalize()
        content = "".join(f"<p>{' '.join(words[i : i + 30])}.</p>" for i in range(31, 151, 30))
        when: object = START + dt.timedelta(minutes=3 * number)
        if sqlite:
            when = when.isoformat(" ")  # type: ignore[attr-defined]
        row = self.template.copy()
        at = self.at
        row[at["uid"]] = f"{number + 1:032x}"
        row[at["entry_key"]] = f"bench:{number}"
        row[at["title"]] = title
        row[at["slug"]] = title.lower().replace(" ", "-")[:80]
        row[at["summary"]] = " ".join(words[6:31])
        row[at["content"]] = content
        row[at["content_hash"]] = ""
        row[at["enclosures"]] = "[]"
        for name in ("published_at", "updated_at", "created_at", "modified_at"):
            row[at[name]] = when
        row[at["hidden"]] = number % 100 == 99
        row[at["popular_excluded"]] = False
        row[at["article_tries"]] = 0
        return row


def load_sqlite(db: Database, total: int) -> None:
    raw = db.engine.raw_connection()
    cursor = raw.cursor()
    # A loss on a crash costs nothing here: the load is redone.
    cursor.execute("PRAGMA synchronous=OFF")
    corpus = Corpus()
    sql = f"INSERT INTO posts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    for start in range(0, total, BATCH):
        cursor.execute("BEGIN")
        cursor.executemany(
            sql, [corpus.row(n, True) for n in range(start, min(total, start + BATCH))]
        )
        cursor.execute("COMMIT")
        if (start + BATCH) % (BATCH * 10) == 0:
            print(f"  {start + BATCH:,} of {total:,} posts", file=sys.stderr, flush=True)
    raw.close()
    # What the worker's catch-up does after ingest, in batches of the load's size.
    while True:
        with db.session() as session:
            if not search_index.catch_up(session.connection(), BATCH):
                break
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA optimize")


def load_postgresql(db: Database, total: int) -> None:
    from feedsvc.search_index import PENDING_INDEX, VECTOR_COLUMN, VECTOR_FUNCTION, VECTOR_INDEX

    raw = db.engine.raw_connection()
    driver = raw.driver_connection
    corpus = Corpus()
    with driver.cursor() as cursor:
        cursor.execute(f"DROP INDEX {VECTOR_INDEX}")
        cursor.execute(f"DROP INDEX {PENDING_INDEX}")
        for start in range(0, total, BATCH * 10):
            with cursor.copy(f"COPY posts ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for number in range(start, min(total, start + BATCH * 10)):
                    copy.write_row(corpus.row(number, False))
            driver.commit()
            print(f"  {start + BATCH * 10:,} posts", file=sys.stderr, flush=True)
        # The vectors the worker would fill after ingest (search_index.catch_up), in one pass.
        cursor.execute(
            f"UPDATE posts SET {VECTOR_COLUMN} = {VECTOR_FUNCTION}(title, summary, content)"
        )
        driver.commit()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(f"CREATE INDEX {VECTOR_INDEX} ON posts USING gin ({VECTOR_COLUMN})")
        cursor.execute(
            f"CREATE INDEX {PENDING_INDEX} ON posts (id) WHERE {VECTOR_COLUMN} IS NULL"
        )
        driver.commit()
    driver.autocommit = True
    driver.execute("VACUUM ANALYZE posts")
    raw.close()


def queries(db: Database, count: int, seed: int = 5) -> dict[str, list[str]]:
    words = vocabulary()
    common = set(words[:STOP])
    rng = random.Random(seed)
    with db.session(write=False) as session:
        last = session.execute(text("SELECT max(id) FROM posts")).scalar() or 1

        def from_a_post(length: int) -> str:
            found = session.execute(
                text("SELECT title, summary, content FROM posts WHERE id = :id"),
                {"id": rng.randint(1, last)},
            ).one()
            plain = re.sub(r"<[^>]+>|[.]", " ", " ".join(found))
            kept = [w for w in plain.lower().split() if w not in common]
            start = rng.randrange(max(1, len(kept) - length))
            return " ".join(kept[start : start + length])

        return {
            "1 word of a post": [from_a_post(1) for _ in range(count)],
            "2 words of a post": [from_a_post(2) for _ in range(count)],
            "3 words of a post": [from_a_post(3) for _ in range(count)],
            "1 word, any": [rng.choice(words[STOP:]) for _ in range(count)],
        }


def time_searches(
    db: Database, classes: dict[str, list[str]]
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Each search's wall time (ms), and each class's CPU time per search (ms):
    this process's, plus on PostgreSQL the server process's (from /proc), so a
    figure that waited for a core on a busy machine can be told apart."""
    timings: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    with db.session(write=False) as session:
        server = _server_pid(session)
        for typed in next(iter(classes.values()))[:20]:  # warm-up
            search.search(session, typed, "en", 20)
        for name, typed_all in classes.items():
            spent = []
            cpu_before = time.process_time() + _cpu_seconds(server)
            for typed in typed_all:
                started = time.perf_counter()
                search.search(session, typed, "en", 20)
                spent.append((time.perf_counter() - started) * 1000)
                session.expunge_all()
            cpu_after = time.process_time() + _cpu_seconds(server)
            timings[name] = spent
            cpu[name] = (cpu_after - cpu_before) * 1000 / len(typed_all)
    return timings, cpu


def _server_pid(session: object) -> int | None:
    if session.get_bind().dialect.name != "postgresql":  # type: ignore[attr-defined]
        return None
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar())  # type: ignore[attr-defined]


def _cpu_seconds(pid: int | None) -> float:
    """User and system time of a process on this machine (0 for none)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def fresh(database: str, folder: Path, reuse: bool) -> str:
    if database == "sqlite":
        path = folder / "search.db"
        if not reuse:
            for stale in folder.glob("search.db*"):
                stale.unlink()
        return f"sqlite:///{path}"
    if not reuse:
        import psycopg

        admin, name = PG_URL.replace("postgresql+psycopg", "postgresql").rsplit("/", 1)
        with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    return PG_URL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/feedsvc-bench-search"))
    parser.add_argument("--reuse", action="store_true", help="keep the loaded databases")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, list[float]]] = {}
    cpu: dict[str, dict[str, float]] = {}
    classes: dict[str, list[str]] = {}
    for database in args.databases.split(","):
        db = Database(fresh(database, args.dir, args.reuse))
        if not args.reuse:
            upgrade(db.engine)
            started = time.perf_counter()
            (load_sqlite if database == "sqlite" else load_postgresql)(db, args.posts)
            print(f"{database}: {args.posts:,} posts loaded in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        classes = queries(db, args.queries)
        results[database], cpu[database] = time_searches(db, classes)
        db.dispose()
    header = "".join(f"{d + ' median':>19}{'p99':>10}{'CPU':>9}" for d in results)
    print(f"\n{'queries':<20}{header}")
    for name in classes:
        cells = "".join(
            f"{statistics.median(t[name]):>16.1f} ms{p99(t[name]):>7.1f} ms{cpu[d][name]:>6.1f} ms"
            for d, t in results.items()
        )
        print(f"{name:<20}{cells}")
    everything = {d: [v for values in t.values() for v in values] for d, t in results.items()}
    cells = "".join(
        f"{statistics.median(v):>16.1f} ms{p99(v):>7.1f} ms"
        f"{statistics.mean(cpu[d].values()):>6.1f} ms"
        for d, v in everything.items()
    )
    print(f"{'all':<20}{cells}")
    print("median and p99: wall time of a search; CPU: per search, with the server's")
    print("targets: median ≤ 30 ms, p99 ≤ 150 ms")


if __name__ == "__main__":
    main()
