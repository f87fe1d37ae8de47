"""feedparser, tuned: the same answers for less of the interpreter's time, and
one answer corrected (itunes:explicit as Apple spells it now).

Imported for its effect by `parse`. Each speed-up keeps feedparser's behaviour
to the letter; `tests/test_feedparser_tuning.py` holds them to the originals.
"""

from __future__ import annotations

import copy
import functools
import types
import xml.sax.expatreader
from typing import Any

import feedparser.api
import feedparser.mixin
from feedparser.util import FeedParserDict

from feedsvc.urls import joins_to_itself

# feedparser works out the base URL at every element start — a URL join for
# each of tens of thousands of elements, almost all with the same arguments.
# Both joins are pure functions of their arguments: remember recent answers.
UNTUNED_URLJOIN = feedparser.mixin._urljoin
_remembered_join = functools.lru_cache(maxsize=4096)(UNTUNED_URLJOIN)


def _urljoin(base: str, uri: str) -> str:
    # An entry's link and id are new to the cache every time; most are plain
    # absolute http(s) URLs or opaque ids (urn:…, tag:…), their own join.
    if joins_to_itself(base, uri):
        return uri
    return _remembered_join(base, uri)  # type: ignore[no-any-return]


feedparser.mixin._urljoin = _urljoin
feedparser.mixin.make_safe_absolute_uri = functools.lru_cache(maxsize=4096)(
    feedparser.mixin.make_safe_absolute_uri
)

# FeedParserDict answers a few keys by rules of its own (aliases such as
# "guid" for "id", values derived such as "enclosures"); it tries those rules,
# and raises and catches a KeyError for a missing key, on every lookup. The
# parser itself asks for plain keys several hundred thousand times a cold
# pass ("type" of the content, once per piece of text): those are dict lookups.
_RULED = frozenset(FeedParserDict.keymap) | {
    "category", "enclosures", "license", "updated", "updated_parsed",
}  # fmt: skip
_ruled_getitem = FeedParserDict.__getitem__
_ruled_get = FeedParserDict.get
_ruled_contains = FeedParserDict.__contains__


def _getitem(self: FeedParserDict, key: Any) -> Any:
    if key in _RULED:
        return _ruled_getitem(self, key)
    return dict.__getitem__(self, key)


def _get(self: FeedParserDict, key: Any, default: Any = None) -> Any:
    if key in _RULED:
        return _ruled_get(self, key, default)
    return dict.get(self, key, default)


def _contains(self: FeedParserDict, key: Any) -> bool:
    if key in _RULED:
        return _ruled_contains(self, key)
    return dict.__contains__(self, key)


FeedParserDict.__getitem__ = _getitem  # type: ignore[method-assign]
FeedParserDict.get = _get  # type: ignore[method-assign]
FeedParserDict.__contains__ = _contains  # type: ignore[method-assign]
FeedParserDict.has_key = _contains  # type: ignore[attr-defined]

# The parser deep-copies the content's parameters (type, language, base: all
# strings) for every summary and content it stores; for a dict of immutable
# values a new dict is the same copy, without deepcopy's generic machinery.
_IMMUTABLE = (str, int, float, bool, type(None))


def _deepcopy(value: Any) -> Any:
    if type(value) is FeedParserDict and all(type(v) in _IMMUTABLE for v in value.values()):
        return FeedParserDict(value)
    return copy.deepcopy(value)


feedparser.mixin.copy = types.SimpleNamespace(deepcopy=_deepcopy)  # type: ignore[assignment]

# Each text the parser keeps goes through str.translate with a table of the 27
# Windows-1252 code points it maps (U+0080–U+009F); every other character is
# looked up, missed, and a KeyError raised and caught. With each ASCII
# character mapped to itself too, the lookups hit, and translate takes its
# fast path for ASCII text. Only the parser's table: html.py keeps its own.
UNTUNED_CP1252 = feedparser.mixin._cp1252
feedparser.mixin._cp1252 = {**{code: code for code in range(128)}, **UNTUNED_CP1252}


# expat reports a text in pieces, split at every entity reference: an
# escaped-HTML description (`&lt;p&gt;…`) is hundreds of calls into the parser.
# Buffered, expat joins adjacent pieces first (SAX allows any split; feedparser
# joins them anyway). feedparser builds its parser from the first module in its
# list that offers `create_parser`: this one.
class _BufferedExpatParser(xml.sax.expatreader.ExpatParser):
    def reset(self) -> None:
        super().reset()
        self._parser.buffer_text = True  # type: ignore[attr-defined]  # made by reset()


def create_parser() -> xml.sax.expatreader.ExpatParser:
    return _BufferedExpatParser()


if __name__ not in feedparser.api.PREFERRED_XML_PARSERS:
    feedparser.api.PREFERRED_XML_PARSERS.insert(0, __name__)


def _end_itunes_explicit(self: Any) -> None:
    """itunes:explicit as Apple spells it now ("true"/"false") as well as of old
    ("yes"/"no"/"clean"); feedparser knows only "yes" and "clean"."""
    value = str(self.pop("itunes_explicit", "") or "").strip().lower()
    explicit = {"yes": True, "true": True, "explicit": True,
                "no": False, "false": False, "clean": False}.get(value)  # fmt: skip
    self._get_context()["itunes_explicit"] = explicit


feedparser.mixin._FeedParserMixin._end_itunes_explicit = _end_itunes_explicit
