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

from feedsvc.models import Post
from feedsvc.search_index import FTS_TABLE, VECTOR_COLUMN, text_of
from feedsvc.search_query import END_MARK, START_MARK, Query, marked, parse, pg_config

# Ranking reads every candidate's index entry: a word in half the posts would
# cost a read of half the posts. So the newest CANDIDATES matches are ranked (a
# search with fewer matches is ranked whole), which keeps any search fast.
CANDIDATES = 500
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
    rows = session.execute(
        text(
            "SELECT c.id FROM (SELECT p.id, p.published_at, p.search_vector FROM posts p"
            f" WHERE p.{VECTOR_COLUMN} @@ {_TSQUERY} AND NOT p.hidden"
            " ORDER BY p.published_at DESC LIMIT :candidates) c"
            f" ORDER BY ts_rank(c.{VECTOR_COLUMN}, {_TSQUERY}) DESC, c.published_at DESC,"
            " c.id DESC LIMIT :limit OFFSET :offset"
        ),
        {
            "config": config,
            "text": query.text,
            "limit": limit,
            "offset": offset,
            "candidates": CANDIDATES,
        },
    )
    return [int(post_id) for (post_id,) in rows]


def _ranked_sqlite(
    session: Session, query: Query, _config: str, limit: int, offset: int
) -> list[int]:
    # The FTS5 table holds visible posts only. It walks its matches newest
    # stored (highest rowid) first and stops at CANDIDATES, so bm25 is computed,
    # and a post's row read for its date, for those only.
    rows = session.execute(
        text(
            f"SELECT c.rowid FROM (SELECT rowid, bm25({FTS_TABLE}, {SQLITE_WEIGHTS}) AS score"
            f" FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts ORDER BY rowid DESC"
            " LIMIT :candidates) c JOIN posts ON posts.id = c.rowid"
            " ORDER BY c.score, posts.published_at DESC, posts.id DESC LIMIT :limit OFFSET :offset"
        ),
        {"fts": query.fts5, "limit": limit, "offset": offset, "candidates": CANDIDATES},
    )
    return [int(post_id) for (post_id,) in rows]


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
