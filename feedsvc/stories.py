"""What makes two posts the same story, as pure functions.

Two entries from different sources are one story when their canonical links
are equal (`links.canonical_link`), or when their titles are the same (in
words, any case) and their texts nearly so: a Jaccard similarity of word
3-shingles of at least 0.9. Comparing every new entry with every recent post
would not scale, so each text's MinHash is cut into bands: two
texts with J ≥ 0.9 share a band with probability > 0.999 (16 bands of 8 rows),
texts with J = 0.5 in fewer than 7 % of cases. Band keys are stored in an
indexed table and candidates are looked up by band, then checked exactly.

The MinHash is written here with numpy (importing datasketch loads scipy:
70 MB more in every parse process): each shingle's CRC-32, then 128
multiply-shift hash functions ((a·h + b) mod 2⁶⁴, top 32 bits; a odd), the
least value of each over the text. Its parameters come from hashes of fixed
strings, so stored band keys stay comparable across upgrades.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable

import numpy as np

SHINGLE_WORDS = 3
# Below this, texts are too short to tell stories apart by: links only.
MIN_WORDS = 20
THRESHOLD = 0.9
# Only posts stored this recently are compared by text.
WINDOW_DAYS = 7
BANDS = 16
ROWS = 8
NUM_PERM = BANDS * ROWS
# Shingles hashed at once: bounds the (shingles × functions) matrix to 2 MB.
_CHUNK = 2048


def _parameter(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")


_A = np.array([_parameter(f"minhash a {i}") | 1 for i in range(NUM_PERM)], dtype=np.uint64)
_B = np.array([_parameter(f"minhash b {i}") for i in range(NUM_PERM)], dtype=np.uint64)
_SHIFT = np.uint64(32)

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


def _hash32(shingle: str) -> int:
    return zlib.crc32(shingle.encode("utf-8", "surrogatepass"))


def minhash(text_shingles: Iterable[str]) -> np.ndarray:
    """The MinHash signature: per function, the least hash of any shingle."""
    hashes = np.fromiter(map(_hash32, text_shingles), dtype=np.uint64)
    signature = np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, len(hashes), _CHUNK):
        chunk = hashes[start : start + _CHUNK, np.newaxis]
        # uint64 arithmetic wraps: that is the mod 2⁶⁴. In place: new arrays
        # for each step cost several times the arithmetic.
        permuted = chunk * _A
        permuted += _B
        permuted >>= _SHIFT
        np.minimum(signature, permuted.min(axis=0), out=signature)
    return signature


def band_keys(text_shingles: Iterable[str]) -> tuple[int, ...]:
    """The MinHash band keys of a shingle set, as signed 64-bit integers."""
    items = list(text_shingles)
    if not items:
        return ()
    values = minhash(items)
    keys = []
    for band in range(BANDS):
        digest = hashlib.blake2b(values[band * ROWS : (band + 1) * ROWS].tobytes(),
                                 digest_size=8, person=band.to_bytes(2, "big"))  # fmt: skip
        keys.append(int.from_bytes(digest.digest(), "big", signed=True))
    return tuple(keys)
