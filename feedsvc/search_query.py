"""What a person typed into a search box, made safe for each engine. Pure.

The syntax is web search's, as PostgreSQL's `websearch_to_tsquery` reads it:
words all match, `"a phrase"` matches in order, `or` between words offers
either, `-word` leaves out. SQLite's FTS5 gets the same query written in its
own syntax, every word quoted, so no input is an FTS5 syntax error. Snippets
come back with the matches between two private-use characters, turned here
into `<mark>` around escaped text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape

# More than a person types; enough that 10 kB of pasted text costs nothing.
MAX_QUERY_CHARS = 256
MAX_TERMS = 16
# Where a snippet's match starts and ends (never in stored text: see search_index.text_of).
START_MARK, END_MARK = "\ue000", "\ue001"
MARKS = (START_MARK, END_MARK)

# PostgreSQL's text search configurations, by the site's language (ISO 639-1).
PG_CONFIGS = {
    "ar": "arabic", "ca": "catalan", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "eu": "basque", "fi": "finnish", "fr": "french",
    "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian",
    "it": "italian", "lt": "lithuanian", "nb": "norwegian", "ne": "nepali", "nl": "dutch",
    "nn": "norwegian", "no": "norwegian", "pt": "portuguese", "ro": "romanian",
    "ru": "russian", "sr": "serbian", "sv": "swedish", "ta": "tamil", "tr": "turkish",
    "yi": "yiddish",
}  # fmt: skip
PG_FALLBACK = "simple"
SQLITE_STEMMED = "porter unicode61 remove_diacritics 2"
SQLITE_PLAIN = "unicode61 remove_diacritics 2"

_TERM = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ue000\ue001]")


def primary_language(language: str) -> str:
    return language.split("-")[0].split("_")[0].lower()


def pg_config(language: str) -> str:
    return PG_CONFIGS.get(primary_language(language), PG_FALLBACK)


def sqlite_tokenizer(language: str) -> str:
    """FTS5 stems English only (Porter); other languages match whole words."""
    return SQLITE_STEMMED if primary_language(language) == "en" else SQLITE_PLAIN


@dataclass(frozen=True)
class Query:
    """A search as typed, cleaned: `text` for PostgreSQL, `fts5` for SQLite.

    `fts5` is None when nothing could match (no word to look for, or only
    words left out): such a search answers an empty page at once."""

    text: str
    fts5: str | None

    @property
    def empty(self) -> bool:
        return self.fts5 is None


def parse(typed: str) -> Query:
    text = " ".join(_CONTROL.sub(" ", typed[: MAX_QUERY_CHARS * 4]).split())[:MAX_QUERY_CHARS]
    groups: list[list[str]] = []
    left_out: list[str] = []
    join_next = False
    for count, match in enumerate(_TERM.finditer(text)):
        if count >= MAX_TERMS:
            break
        negated, phrase, word = match.group(1), match.group(2), match.group(3)
        if word is not None and word.lower() == "or" and groups:
            join_next = True
            continue
        if word is not None and word.startswith("-"):
            negated, word = "-", word[1:]
        words = _WORD.findall(phrase if phrase is not None else word or "")
        if not words:
            continue
        quoted = '"' + " ".join(words) + '"'
        if negated:
            left_out.append(quoted)
        elif join_next:
            groups[-1].append(quoted)
        else:
            groups.append([quoted])
        join_next = False
    if not groups:
        return Query(text, None)
    expression = " AND ".join("(" + " OR ".join(group) + ")" for group in groups)
    if left_out:
        expression = f"({expression}) NOT ({' OR '.join(left_out)})"
    return Query(text, expression)


def marked(snippet: str) -> Markup:
    """The snippet escaped, its matches in `<mark>`: always balanced, whatever
    marks the text carried."""
    out: list[str] = []
    inside = False
    for piece in re.split("([\ue000\ue001])", snippet):
        if piece == START_MARK:
            if not inside:
                out.append("<mark>")
                inside = True
        elif piece == END_MARK:
            if inside:
                out.append("</mark>")
                inside = False
        else:
            out.append(str(escape(piece)))
    if inside:
        out.append("</mark>")
    return Markup("".join(out))
