"""Full-text search of the visible posts, in the database's own engine.

`search` ranks by relevance (PostgreSQL `ts_rank` over the weighted vector,
SQLite FTS5 `bm25` with the title counting most), newer posts first among
equals, and marks the matches in each hit's title and snippet. `matching` is
the same search as a condition, for feeds narrowed by `q` (newest first).
The index itself is `feedsvc.search_index`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sqlalchemy import Integer, cast, column, false, func, literal, literal_column, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from feedsvc import search_index
from feedsvc.models import Post
from feedsvc.search_index import FTS_TABLE, VECTOR_COLUMN, text_of
from feedsvc.search_query import END_MARK, START_MARK, Query, marked, parse, pg_config

# Ranking reads every candidate's index entry: a word in half the posts would
# cost a read of half the posts. So the newest CANDIDATES matches (newest
# stored: highest id, on both databases) are ranked (a search with fewer
# matches is ranked whole), which keeps any search fast.
CANDIDATES = 500
# PostgreSQL looks for them in bands of ids, newest first; the first band's
# width (see _newest_matches_postgresql).
FIRST_BAND = 10_000
# Sparser than this, reading a band's ids costs more than reading every match.
MIN_BAND_DENSITY = 0.003
# A snippet is looked for in the first SNIPPET_CHARS of a post's text.
SNIPPET_CHARS = 5000
# How much of a post's text a snippet shows, in words.
SNIPPET_WORDS = 24
# bm25 weights of the title, summary and content's text (higher counts more).
SQLITE_WEIGHTS = "10.0, 4.0, 1.0"
_SELECTION = f'StartSel="{START_MARK}", StopSel="{END_MARK}"'
_TSQUERY = "websearch_to_tsquery(CAST(:config AS regconfig), :text)"


@dataclass(frozen=True)
class Hit:
    post: Post
    title: Markup
    snippet: Markup


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    has_more: bool


def search(session: Session, typed: str, language: str, limit: int, offset: int = 0) -> Results:
    """One page of the visible posts matching what was typed, best first."""
    query = parse(typed)
    if query.empty:
        return Results([], False)
    search_index.before_search(session.connection())
    postgresql = session.get_bind().dialect.name == "postgresql"
    find = _ranked_postgresql if postgresql else _ranked_sqlite
    ids = find(session, query, pg_config(language), limit + 1, offset)
    posts = {
        post.id: post for post in session.scalars(select(Post).where(Post.id.in_(ids[:limit])))
    }
    found = [posts[post_id] for post_id in ids[:limit] if post_id in posts]
    marks = (_marks_postgresql(session, query, pg_config(language), found) if postgresql
             else _marks_sqlite(session, query, found))  # fmt: skip
    hits = []
    for post in found:
        title, snippet = marks.get(post.id, (None, None))
        hits.append(Hit(post, title or marked(post.title), snippet or marked(post.summary)))
    return Results(hits, len(ids) > limit)


def matching(session: Session, typed: str, language: str) -> ColumnElement[bool]:
    """A condition on `Post`: the post matches what was typed."""
    query = parse(typed)
    if query.empty:
        return false()
    search_index.before_search(session.connection())
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import REGCONFIG

        config = cast(literal(pg_config(language)), REGCONFIG)
        vector: ColumnElement[Any] = literal_column(f"posts.{VECTOR_COLUMN}")
        return vector.bool_op("@@")(func.websearch_to_tsquery(config, query.text))
    matches = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :search_fts")
    return Post.id.in_(matches.bindparams(search_fts=query.fts5).columns(column("rowid", Integer)))


def _ranked_postgresql(
    session: Session, query: Query, config: str, limit: int, offset: int
) -> list[int]:
    candidates = _newest_matches_postgresql(session, query, config)
    if candidates is None:
        # Few matches: the newest of them all, ranked in one pass.
        among = (
            "(SELECT id, published_at, search_vector FROM posts"
            f" WHERE {VECTOR_COLUMN} @@ {_TSQUERY} AND NOT hidden"
            " ORDER BY id DESC LIMIT :candidates) c"
        )
    elif candidates:
        among = "posts c WHERE c.id = ANY(:ids)"
    else:
        return []
    rows = session.execute(
        text(
            f"SELECT c.id FROM {among} ORDER BY ts_rank(c.{VECTOR_COLUMN}, {_TSQUERY}) DESC,"
            " c.published_at DESC, c.id DESC LIMIT :limit OFFSET :offset"
        ),
        {"ids": candidates, "config": config, "text": query.text, "limit": limit,
         "offset": offset, "candidates": CANDIDATES},
    )  # fmt: skip
    return [int(post_id) for (post_id,) in rows]


def _newest_matches_postgresql(session: Session, query: Query, config: str) -> list[int] | None:
    """The ids of the newest CANDIDATES visible matches, newest first; None
    when the matches are so few that reading them all costs less.

    Looked for in bands of ids, newest first: a band is the GIN index's matches
    ANDed with a range of the primary key, so only its matches are read from
    the table, and a word in many posts stops in the first band or two instead
    of reading every post it is in. But a range costs a read of each id in it:
    once the matches seen are sparser than MIN_BAND_DENSITY, or the next band
    would be most of what is left, all matches are read instead."""
    # Each band's plan depends on its width and on how common the words are: a
    # prepared statement's generic plan (psycopg prepares a statement run five
    # times) could read a wide band's every primary key entry.
    session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    top = session.execute(select(func.max(Post.id))).scalar() or 0
    found: list[int] = []
    high, width = top, FIRST_BAND
    while high > 0 and len(found) < CANDIDATES:
        if width >= high * 3 // 4:
            return None
        low = high - width
        band = session.scalars(
            text(
                f"SELECT id FROM posts WHERE {VECTOR_COLUMN} @@ {_TSQUERY} AND NOT hidden"
                " AND id > :low AND id <= :high"
            ),
            {"config": config, "text": query.text, "low": low, "high": high},
        ).all()
        found.extend(sorted(band, reverse=True)[: CANDIDATES - len(found)])
        density = len(found) / (top - low)
        if density < MIN_BAND_DENSITY:
            return None
        # The next band: what is still missing at that density, and a quarter more.
        high, width = low, int(1.25 * (CANDIDATES - len(found)) / density)
    return found


def _ranked_sqlite(
    session: Session, query: Query, _config: str, limit: int, offset: int
) -> list[int]:
    # The FTS5 table holds visible posts only. It walks its matches newest
    # stored (highest rowid) first and stops at CANDIDATES, so bm25 is computed
    # for those only.
    scored = session.execute(
        text(
            f"SELECT rowid, bm25({FTS_TABLE}, {SQLITE_WEIGHTS}) FROM {FTS_TABLE}"
            f" WHERE {FTS_TABLE} MATCH :fts ORDER BY rowid DESC LIMIT :candidates"
        ),
        {"fts": query.fts5, "candidates": CANDIDATES},
    ).all()
    if len(scored) <= offset:
        return []
    # Only the page's posts, and those tied with its last, need their date
    # (read from `posts`, a row each, scattered over the table when the
    # matches are few): the rest rank below the page on score alone.
    scores = sorted(score for _, score in scored)
    last = scores[min(len(scores), offset + limit) - 1]
    page = {int(post_id): score for post_id, score in scored if score <= last}
    dates = list(session.execute(select(Post.id, Post.published_at).where(Post.id.in_(list(page)))))
    dates.sort(key=lambda row: (row.published_at, row.id), reverse=True)
    dates.sort(key=lambda row: page[row.id])
    return [row.id for row in dates[offset : offset + limit]]


def _marks_sqlite(session: Session, query: Query, posts: Sequence[Post]) -> dict[int, Any]:
    """Each post's title and snippet, matches marked: FTS5's highlight() and snippet()."""
    if not posts:
        return {}
    ids = ", ".join(str(post.id) for post in posts)
    rows = session.execute(
        text(
            f"SELECT rowid, highlight({FTS_TABLE}, 0, :start, :end),"
            f" snippet({FTS_TABLE}, 2, :start, :end, '…', {SNIPPET_WORDS})"
            f" FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts AND rowid IN ({ids})"
        ),
        {"fts": query.fts5, "start": START_MARK, "end": END_MARK},
    )
    return {int(post_id): (marked(title or ""), marked(snippet or ""))
            for post_id, title, snippet in rows}  # fmt: skip


def _marks_postgresql(
    session: Session, query: Query, config: str, posts: Sequence[Post]
) -> dict[int, Any]:
    """Each post's title and snippet, matches marked: ts_headline() over the
    content's text (made here, as SQLite's index holds it)."""
    if not posts:
        return {}
    rows = session.execute(
        text(
            "SELECT t.id, ts_headline(CAST(:config AS regconfig), t.title, q,"
            f" 'HighlightAll=true, {_SELECTION}'),"
            " ts_headline(CAST(:config AS regconfig), t.body, q,"
            f" 'MaxFragments=2, MaxWords={SNIPPET_WORDS}, MinWords=8,"
            f' FragmentDelimiter=" … ", {_SELECTION}\')'
            " FROM unnest(CAST(:ids AS integer[]), CAST(:titles AS text[]),"
            " CAST(:bodies AS text[])) AS t(id, title, body),"
            " websearch_to_tsquery(CAST(:config AS regconfig), :text) q"
        ),
        {
            "config": config,
            "text": query.text,
            "ids": [post.id for post in posts],
            "titles": [_plain(post.title) for post in posts],
            "bodies": [
                (text_of(post.content) or _plain(post.summary))[:SNIPPET_CHARS] for post in posts
            ],
        },
    )
    return {int(post_id): (marked(title or ""), marked(snippet or ""))
            for post_id, title, snippet in rows}  # fmt: skip


def _plain(value: str | None) -> str:
    return (value or "").replace(START_MARK, "").replace(END_MARK, "").replace("\x00", "")
