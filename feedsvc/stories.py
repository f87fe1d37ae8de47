"""What makes two posts the same story, as pure functions.

Two entries from different sources are one story when their canonical links
are equal (`links.canonical_link`), or when their titles are the same (in
words, any case) and their texts nearly so: a Jaccard similarity of word
3-shingles of at least 0.9. Comparing every new entry with every recent post
would not scale, so each text's MinHash (datasketch) is cut into bands: two
texts with J ≥ 0.9 share a band with probability > 0.999 (16 bands of 8 rows),
texts with J = 0.5 in fewer than 7 % of cases. Band keys are stored in an
indexed table and candidates are looked up by band, then checked exactly.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from datasketch import MinHash

SHINGLE_WORDS = 3
# Below this, texts are too short to tell stories apart by: links only.
MIN_WORDS = 20
THRESHOLD = 0.9
# Only posts stored this recently are compared by text.
WINDOW_DAYS = 7
BANDS = 16
ROWS = 8
NUM_PERM = BANDS * ROWS
_SEED = 17
# Band keys are stored: the scheme is pinned, so an upgrade keeps them comparable.
_SCHEME = "affine32"
_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME).permutations

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


def band_keys(text_shingles: Iterable[str]) -> tuple[int, ...]:
    """The MinHash band keys of a shingle set, as signed 64-bit integers."""
    items = [s.encode("utf-8", "surrogatepass") for s in text_shingles]
    if not items:
        return ()
    sketch = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME, permutations=_PERMUTATIONS)
    sketch.update_batch(items)
    values = sketch.hashvalues
    keys = []
    for band in range(BANDS):
        digest = hashlib.blake2b(values[band * ROWS : (band + 1) * ROWS].tobytes(),
                                 digest_size=8, person=band.to_bytes(2, "big"))  # fmt: skip
        keys.append(int.from_bytes(digest.digest(), "big", signed=True))
    return tuple(keys)
