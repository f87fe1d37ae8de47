"""What makes two posts the same story, as pure functions.

Two entries from different sources are one story when their canonical links
are equal (`links.canonical_link`), or when their titles are the same (in
words, any case) and their texts nearly so: a Jaccard similarity of word
3-shingles of at least 0.9. Since the titles must be equal, a post is looked
up by its title alone (`story_bands`: the title in words, hashed, in an
indexed table), and only the few posts found are compared by text. That is
exact, where text sketches (MinHash bands) miss a share of near-identical
texts, and costs a hash of the title per entry rather than a sketch of
its whole text.
"""

from __future__ import annotations

import hashlib
import re

SHINGLE_WORDS = 3
# Below this, texts are too short to tell stories apart by: links only.
MIN_WORDS = 20
THRESHOLD = 0.9
# Only posts stored this recently are compared by text.
WINDOW_DAYS = 7

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def title_key(title: str) -> str:
    """The title in words: case, punctuation and spacing do not count."""
    return " ".join(words(title))


def shingles(text: str) -> frozenset[str]:
    """Word 3-shingles of a text; empty when it is too short to compare."""
    found = words(text)
    if len(found) < MIN_WORDS:
        return frozenset()
    return frozenset(" ".join(found[i : i + SHINGLE_WORDS])
                     for i in range(len(found) - SHINGLE_WORDS + 1))  # fmt: skip


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def near_identical(a: frozenset[str], b: frozenset[str]) -> bool:
    return jaccard(a, b) >= THRESHOLD


def story_bands(title: str) -> tuple[int, ...]:
    """The keys a story is looked up by: its title in words, hashed to a signed
    64-bit integer; none for an entry without words in its title."""
    key = title_key(title)
    if not key:
        return ()
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8)
    return (int.from_bytes(digest.digest(), "big", signed=True),)
