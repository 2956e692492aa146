"""Text normalization for duplicate detection, vectorized over a batch of documents.

Normalized text is Unicode NFKC, lowercased code point by code point, with every run of white space
collapsed to one space and none at either end. Hangul stays composed (NFKC recomposes syllables; NFD or
accent stripping would split them into jamo) and digits are kept as they are.
"""

from __future__ import annotations

import hashlib
import unicodedata
from functools import lru_cache

import numpy as np

# Code points above this have no lowercase mapping (the last cased letters are Adlam, U+1E900..U+1E943).
_CASED_LIMIT = 0x1F000
_SPACE_LIMIT = 0x3001
_SPACE = 32


@lru_cache(maxsize=1)
def _lower_table() -> np.ndarray:
    # Simple (one code point to one code point) lowercase mapping: str.lower() where it keeps the length,
    # else its first code point (U+0130 İ -> i, as Unicode's simple mapping has it).
    table = np.arange(_CASED_LIMIT, dtype=np.uint32)
    for cp in range(_CASED_LIMIT):
        ch = chr(cp)
        low = ch.lower()
        if low != ch:
            table[cp] = ord(low[0])
    return table


@lru_cache(maxsize=1)
def _space_table() -> np.ndarray:
    return np.array([chr(cp).isspace() for cp in range(_SPACE_LIMIT)], dtype=bool)


def nfkc(texts: list[str]) -> list[str]:
    """NFKC of each text, skipping the (common) texts that are already normalized."""
    norm = unicodedata.normalize
    is_norm = unicodedata.is_normalized
    return [t if is_norm("NFKC", t) else norm("NFKC", t) for t in texts]


def normalize_batch(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Normalize a batch of texts into one array of code points.

    Args:
        texts: the documents (valid Unicode strings).

    Returns:
        (codes, offsets): uint32 code points of all normalized documents end to end, and int64 offsets of
        length len(texts) + 1, so that document i is codes[offsets[i]:offsets[i + 1]].
    """
    nf = nfkc(texts)
    lens = np.fromiter((len(t) for t in nf), dtype=np.int64, count=len(nf))
    offsets = np.zeros(len(nf) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    raw = np.frombuffer("".join(nf).encode("utf-32-le"), dtype=np.uint32)
    if raw.size == 0:
        return raw.copy(), np.zeros_like(offsets)
    lower = _lower_table()
    codes = np.where(raw < _CASED_LIMIT, lower[np.minimum(raw, _CASED_LIMIT - 1)], raw)
    space = (codes < _SPACE_LIMIT) & _space_table()[np.minimum(codes, _SPACE_LIMIT - 1)]
    prev_space = np.empty_like(space)
    prev_space[0] = True
    prev_space[1:] = space[:-1]
    prev_space[offsets[:-1][lens > 0]] = True  # leading white space of every document goes
    keep = ~space | ~prev_space
    out = codes[keep]
    out[space[keep]] = _SPACE
    kept_before = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    new_off = kept_before[offsets]
    # A document may still end in one space (its trailing white space collapsed): drop it.
    ends = new_off[1:]
    nonempty = ends > new_off[:-1]
    trailing = np.zeros(len(nf), dtype=bool)
    trailing[nonempty] = out[ends[nonempty] - 1] == _SPACE
    if trailing.any():
        drop = np.ones(len(out), dtype=bool)
        drop[ends[trailing] - 1] = False
        out = out[drop]
        removed = np.zeros(len(nf) + 1, dtype=np.int64)
        np.cumsum(trailing, out=removed[1:])
        new_off = new_off - removed
    return out, new_off


def normalize_text(text: str) -> str:
    """The normalized form of one text, as a string (for tests and inspection)."""
    codes, off = normalize_batch([text])
    return codes[off[0]:off[1]].tobytes().decode("utf-32-le")


def exact_hashes(codes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A 128-bit hash of each normalized document, as an (n, 2) uint64 array."""
    n = len(offsets) - 1
    out = np.empty((n, 2), dtype=np.uint64)
    view = out.view(np.uint8).reshape(n, 16)
    blake = hashlib.blake2b
    for i in range(n):
        digest = blake(codes[offsets[i]:offsets[i + 1]].tobytes(), digest_size=16).digest()
        view[i] = np.frombuffer(digest, dtype=np.uint8)
    return out
