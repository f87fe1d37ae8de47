"""Site pages: the index with its sidebar cached against rebuilt on every request.

Every site page shows the sidebar (popular posts, blogroll, tag counts).
Counting the tags of every post on each page view is what the cache saves;
the same app measures both, alternating, by setting the cache's lifetime.

    .venv/bin/python bench/pages.py [--posts 50000] [--requests 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args, _ = parser.parse_known_args()

    from sqlalchemy import insert

    from feedsvc import create_app
    from feedsvc.migrate import upgrade
    from feedsvc.models import Post, Source, Tag, post_tags
    from feedsvc.web.sidebar import CACHE

    now = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    app = create_app({"DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/pages.db"}, env="testing")
    db = app.extensions["feedsvc.db"]
    upgrade(db.engine)
    with db.engine.begin() as conn:
        conn.execute(insert(Source), [
            {"feed_url": f"http://h{i}.example/f", "title": f"Source {i}", "status": "active",
             "mode": "full", "error_count": 0, "next_check_at": now, "created_at": now}
            for i in range(50)
        ])  # fmt: skip
        conn.execute(insert(Tag), [{"slug": f"t{i}", "name": f"Tag {i}"} for i in range(100)])
        conn.execute(insert(Post), [
            {"uid": f"{i:032x}", "source_id": 1 + i % 50, "entry_key": f"k{i}",
             "title": f"Post {i}", "slug": "post", "summary": "A summary.", "content": "<p>x</p>",
             "content_hash": "", "enclosures": [], "published_at": now - dt.timedelta(minutes=i),
             "updated_at": now, "created_at": now, "modified_at": now, "hidden": False,
             "popular_excluded": False}
            for i in range(args.posts)
        ])  # fmt: skip
        conn.execute(insert(post_tags), [
            {"post_id": 1 + i, "tag_id": 1 + (i * 7 + k) % 100}
            for i in range(args.posts) for k in range(3)
        ])  # fmt: skip

    results: dict[str, list[float]] = {"cached": [], "rebuilt": []}
    client = app.test_client()
    for _ in range(args.rounds):
        for name, seconds in (("cached", 60.0), ("rebuilt", 0.0)):
            app.extensions[CACHE].seconds = seconds
            client.get("/")
            for _ in range(args.requests):
                started = time.perf_counter()
                assert client.get("/").status_code == 200
                results[name].append(time.perf_counter() - started)
    cached, rebuilt = (statistics.median(results[k]) * 1000 for k in ("cached", "rebuilt"))
    print(f"GET / with {args.posts:,} posts, 3 tags each; medians of {args.rounds} rounds "
          f"x {args.requests} requests")  # fmt: skip
    print(f"  sidebar cached   {cached:7.1f} ms")
    print(f"  sidebar rebuilt  {rebuilt:7.1f} ms  ({rebuilt / cached:.1f}x the cached time)")


if __name__ == "__main__":
    main()
