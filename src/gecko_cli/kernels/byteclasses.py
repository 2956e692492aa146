"""Per text, its bytes in a few classes and the longest run of the first class, or whether it holds each of a
few bytes (byteclasses.cc), read from the UTF-8 of the Arrow text column.

The data-literal rule of `gecko balance` decides most code files from three such numbers (base64 runs,
backslashes, digits); in Python each file is encoded and translated twice first. The kernel reads the bytes the
scan already has.

It is used when it builds here (build.py: a C++ compiler is needed, once); otherwise, or with
`GECKO_CPU_KERNELS=off`, `stats` returns None and the rule reads the texts in Python
(tests/kernels/test_byteclasses.py holds both to the same results).

The language detector asks which texts hold a line break. Python's `"\n" in text` reads a Korean text (two
bytes a character in Python) a character at a time; memchr reads its UTF-8 many bytes at a time, and no byte of
a multi-byte character is an ASCII byte. Strings of several characters ("```", "...") are found by memchr and memcmp:
UTF-8 is self-synchronising, so the string's bytes occur in a text's bytes exactly where the string occurs in the
text, and counting them from left to right without overlaps gives Python's `str.count`.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from gecko_cli.kernels import build, enabled
from gecko_cli.kernels.columns import text_bounds

SOURCE = Path(__file__).with_name("byteclasses.cc")
_P = ctypes.c_void_p
_LIB = build.CFunctions(SOURCE, {
    "gecko_byte_classes": (None, [_P, _P, _P, ctypes.c_int64, _P, ctypes.c_int64, _P, _P]),
    "gecko_bytes_found": (None, [_P, _P, _P, ctypes.c_int64, ctypes.c_char_p, ctypes.c_int64, _P]),
    "gecko_substring_counts": (None, [_P, _P, _P, ctypes.c_int64, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64, _P]),
    "gecko_long_runs": (None, [_P, _P, _P, ctypes.c_int64, _P, ctypes.c_int64, ctypes.c_uint8, ctypes.c_int64, _P]),
}, "balance: byte classes")
MAX_CLASSES = 8


def stats(texts: pa.Array | pa.ChunkedArray, rows: np.ndarray,
          classes: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray] | None:
    """Per text `rows[j]` of `texts`, its bytes in each class (the bytes it holds) and its longest run of bytes
    of the first class; None when the kernel is not available here or the column is not a string column.

    Args:
        texts: an Arrow string array or chunked array (a null is an empty text).
        rows: the texts to read, as rows of `texts`.
        classes: up to 8 sets of bytes.

    Returns:
        (counts, longest): int64 arrays of shape (len(rows), len(classes)) and (len(rows),).
    """
    if not (enabled() and pa.types.is_string(texts.type)) or _LIB.get() is None:
        return None
    if len(classes) > MAX_CLASSES:
        raise ValueError(f"at most {MAX_CLASSES} classes of bytes, not {len(classes)}")
    counts = np.zeros((len(rows), len(classes)), np.int64)
    longest = np.zeros(len(rows), np.int64)
    data, starts, ends = text_bounds(texts, rows)
    if len(starts):
        table = np.zeros(256, np.uint8)
        for c, members in enumerate(classes):
            table[np.frombuffer(members, np.uint8)] |= np.uint8(1 << c)
        _LIB.get().gecko_byte_classes(data.address, starts.ctypes.data, ends.ctypes.data, len(starts), table.ctypes.data,
                                      len(classes), counts.ctypes.data, longest.ctypes.data)
    return counts, longest


def long_runs(texts: pa.Array | pa.ChunkedArray, rows: np.ndarray, members: bytes, min_run: int, tail: bytes = b"",
              max_tail: int = 0) -> np.ndarray | None:
    """Per text `rows[j]` of `texts`, the bytes in its runs of at least `min_run` bytes of `members`, each with
    up to `max_tail` copies of the byte `tail` that follow it: `sum(map(len, pattern.findall(text)))` for the
    pattern `(?<![M])[M]{min_run,}T{0,max_tail}` (M the members, ASCII; T the tail, not one of them), since a
    UTF-8 character beyond ASCII holds no ASCII byte. None when the kernel is not available here or the column
    is not a string column.

    Returns:
        An int64 array of shape (len(rows),).
    """
    if not (enabled() and pa.types.is_string(texts.type)) or _LIB.get() is None:
        return None
    if any(b >= 0x80 for b in members + tail) or len(tail) > 1 or (tail and tail[0] in members) or min_run < 1:
        raise ValueError("ASCII members, a tail byte that is not one of them, and runs of 1 byte or more")
    table = np.zeros(256, np.uint8)
    table[np.frombuffer(members, np.uint8)] = 1
    out = np.zeros(len(rows), np.int64)
    data, starts, ends = text_bounds(texts, rows)
    if len(starts):
        _LIB.get().gecko_long_runs(data.address, starts.ctypes.data, ends.ctypes.data, len(starts), table.ctypes.data,
                                   min_run, tail[0] if tail else 0, max_tail if tail else 0, out.ctypes.data)
    return out


def found(texts: pa.Array | pa.ChunkedArray, rows: np.ndarray, needles: bytes) -> np.ndarray | None:
    """Per text `rows[j]` of `texts`, whether it holds each byte of `needles` (ASCII bytes: a multi-byte UTF-8
    character holds none); None when the kernel is not available here or the column is not a string column.

    Returns:
        A bool array of shape (len(rows), len(needles)).
    """
    if not (enabled() and pa.types.is_string(texts.type)) or _LIB.get() is None:
        return None
    if any(b >= 0x80 for b in needles):
        raise ValueError(f"ASCII bytes only, not {needles!r}")
    out = np.zeros((len(rows), len(needles)), np.uint8)
    data, starts, ends = text_bounds(texts, rows)
    if len(starts) and needles:
        _LIB.get().gecko_bytes_found(data.address, starts.ctypes.data, ends.ctypes.data, len(starts), needles,
                                     len(needles), out.ctypes.data)
    return out.view(bool)


def occurrences(texts: pa.Array | pa.ChunkedArray, rows: np.ndarray, needle: str, limit: int = 0) -> np.ndarray | None:
    """Per text `rows[j]` of `texts`, how often it holds `needle` (non-overlapping, as `str.count`), or at most
    `limit` times when `limit` > 0 (1: whether it holds it at all); None when the kernel is not available here
    or the column is not a string column.

    Returns:
        An int64 array of shape (len(rows),).
    """
    if not (enabled() and pa.types.is_string(texts.type)) or _LIB.get() is None:
        return None
    if not needle:
        raise ValueError("an empty needle is found everywhere: ask for a string of one character or more")
    raw = needle.encode("utf-8")
    out = np.zeros(len(rows), np.int64)
    data, starts, ends = text_bounds(texts, rows)
    if len(starts):
        _LIB.get().gecko_substring_counts(data.address, starts.ctypes.data, ends.ctypes.data, len(starts), raw,
                                          len(raw), limit, out.ctypes.data)
    return out
