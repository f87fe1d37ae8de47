"""Comments: posting leaves the post feeds' cached renders alone, and a post
page with many comments stays fast.

1. 1,000 comments posted through the public form across 100 posts (moderation
   off, so each is approved at once and moves its post's count), with
   /feeds/posts.atom fetched after every one: the feed must be rendered once
   and then answered from the render cache throughout (its render counter is
   read). Beside it, the same feed rendered afresh each time, the cost a
   comment would have if it bumped the content version.
2. GET of a post page with 500 approved comments (one in five a reply),
   beside the same page with none, and with its comment list rendered again
   each time (as the first view after a comment is).

    .venv/bin/python bench/comments.py [--comments 1000] [--posts 100] [--on-page 500]
                                       [--requests 50] [--database-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
TOKEN = re.compile(r'name="token" value="([^"]+)"')


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--on-page", type=int, default=500)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url", default="")
    args, _ = parser.parse_known_args()

    from sqlalchemy import insert, text

    from feedsvc import create_app
    from feedsvc.clock import FixedClock
    from feedsvc.metrics import FEED_RENDERS
    from feedsvc.migrate import upgrade
    from feedsvc.models import Comment, Post
    from feedsvc.web.feeds import CACHE
    from feedsvc.web.site import COMMENT_LISTS

    now = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)
    clock = FixedClock(now)
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/comments.db"
    app = create_app({"DATABASE_URL": url, "COMMENTS_MODERATION": "none",
                      "COMMENTS_RATE_LIMIT": "1000000 per day"}, env="testing",
                     clock=clock)  # fmt: skip
    db = app.extensions["feedsvc.db"]
    if args.database_url:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(db.engine)
    with db.engine.begin() as conn:
        conn.execute(insert(Post), [
            {"uid": f"{i:032x}", "source_id": None, "entry_key": f"local:{i}",
             "title": f"Post {i}", "slug": "post", "summary": "A summary.",
             "content": "<p>" + "Words of the post. " * 40 + "</p>", "content_hash": "",
             "enclosures": [], "published_at": now - dt.timedelta(minutes=i), "updated_at": now,
             "created_at": now, "modified_at": now, "hidden": False, "popular_excluded": False}
            for i in range(1, args.posts + 2)
        ])  # fmt: skip
    client = app.test_client()

    # 1. Posting through the form, the post feed fetched after each comment.
    assert client.get("/feeds/posts.atom").status_code == 200
    renders_before = FEED_RENDERS.labels("posts")._value.get()
    etag = client.get("/feeds/posts.atom").headers["ETag"]
    posting, polling = [], []
    for n in range(args.comments):
        post_id = 1 + n % args.posts
        page = client.get(f"/posts/{post_id}-post").get_data(as_text=True)
        found = TOKEN.search(page)
        assert found, "no comment form"
        clock.advance(dt.timedelta(seconds=15))
        started = time.perf_counter()
        form = {"name": f"Reader {n}", "body": f"Comment {n}, plain words.",
                "token": html.unescape(found.group(1))}  # fmt: skip
        address = {"REMOTE_ADDR": f"10.0.{n // 250}.{n % 250}"}
        answer = client.post(f"/posts/{post_id}/comments", data=form,
                             headers={"User-Agent": BROWSER}, environ_base=address)  # fmt: skip
        posting.append(time.perf_counter() - started)
        assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
        started = time.perf_counter()
        feed = client.get("/feeds/posts.atom")
        polling.append(time.perf_counter() - started)
        assert feed.headers["ETag"] == etag
    renders = FEED_RENDERS.labels("posts")._value.get() - renders_before
    with db.engine.connect() as conn:
        approved = conn.scalar(text("SELECT count(*) FROM comments WHERE state = 'approved'"))
    fresh = []
    for _ in range(args.requests):
        app.extensions[CACHE].clear()
        started = time.perf_counter()
        assert client.get("/feeds/posts.atom").status_code == 200
        fresh.append(time.perf_counter() - started)
    print(f"{args.comments:,} comments posted through the form across {args.posts} posts "
          f"({approved:,} approved); /feeds/posts.atom fetched after each")  # fmt: skip
    print(f"  post feed renders while posting   {renders:.0f}  (ETag unchanged throughout)")
    print(f"  POST a comment, median           {median_ms(posting):7.2f} ms")
    print(f"  GET /feeds/posts.atom, cached     {median_ms(polling):7.2f} ms")
    print(
        f"  GET /feeds/posts.atom, rendered   {median_ms(fresh):7.2f} ms  "
        f"({median_ms(fresh) / median_ms(polling):.1f}x the cached time)"
    )

    # 2. A post page with many comments, beside one with none.
    busy, quiet = args.posts + 1, args.posts
    with db.engine.begin() as conn:
        conn.execute(insert(Comment), [
            {"uid": f"{i:032x}", "post_id": busy, "parent_id": None, "state": "approved",
             "author_name": f"Reader {i}",
             "author_url": "https://reader.example/" if i % 3 else None,
             "author_key": "k", "body": f"Comment {i}. A line of text with an address "
             "https://example.org/page and a second line.\n\nAnd a second paragraph.",
             "by_admin": False, "created_at": now + dt.timedelta(seconds=i)}
            for i in range(1, args.on_page + 1)
        ])  # fmt: skip
        # One in five a reply to the comment before it.
        conn.execute(text("UPDATE comments SET parent_id = id - 1 WHERE post_id = :p "
                          "AND id % 5 = 0 AND id > (SELECT min(id) FROM comments "
                          "WHERE post_id = :p)"), {"p": busy})  # fmt: skip
        conn.execute(text("UPDATE posts SET comment_count = :n WHERE id = :p"),
                     {"n": args.on_page, "p": busy})  # fmt: skip
    with db.session() as session:
        session.execute(text("DELETE FROM comments WHERE post_id = :p"), {"p": quiet})
        session.execute(text("UPDATE posts SET comment_count = 0 WHERE id = :p"), {"p": quiet})
    timings: dict[str, list[float]] = {"busy": [], "quiet": [], "afresh": []}
    lists = app.extensions[COMMENT_LISTS]
    for _ in range(3):
        for name, post_id in (("busy", busy), ("quiet", quiet), ("afresh", busy)):
            client.get(f"/posts/{post_id}-post")
            for _ in range(args.requests):
                if name == "afresh":
                    lists._entries.clear()  # as after a comment: the list rendered again
                started = time.perf_counter()
                page = client.get(f"/posts/{post_id}-post")
                timings[name].append(time.perf_counter() - started)
                assert page.status_code == 200
    shown = client.get(f"/posts/{busy}-post").get_data(as_text=True).count('class="comment"')
    print(f"GET a post page, medians of 3 rounds x {args.requests} requests "
          f"({db.engine.dialect.name})")  # fmt: skip
    busy_ms, quiet_ms, afresh_ms = (median_ms(timings[k]) for k in ("busy", "quiet", "afresh"))
    print(f"  {args.on_page} comments ({shown} shown)     {busy_ms:7.2f} ms  (target <= 50 ms)")
    print(f"  no comments                    {quiet_ms:7.2f} ms  ({busy_ms / quiet_ms:.1f}x)")
    print(f"  {args.on_page} comments, list rendered again  {afresh_ms:7.2f} ms  "
          f"({afresh_ms / quiet_ms:.1f}x): the first view after a change")  # fmt: skip
    db.dispose()


if __name__ == "__main__":
    main()
