"""Line statistics of many texts at once (lines.cc): what the quality rules of `gecko balance` read most.

For each text, what Python computes from ``items = [line.strip() for line in text.splitlines()]``: the number
of lines, of blank lines, of distinct lines (a blank one included), the characters of the distinct lines and of
all lines, every line's length in code points, and the same for the paragraphs where they can repeat. In Python
this is lists of strings and sets per document, about a fifth of the scan of `gecko balance`; the kernel
splits, strips and compares the lines of the UTF-8 text without making strings, at about 500 MB/s here.
`stats_column` reads the texts of an Arrow column in place (stripping them first), without encoding them again.

It is used when it builds here (build.py: a C++ compiler is needed, once); otherwise, or with
`GECKO_CPU_KERNELS=off`, `stats` returns None and the rules compute the same numbers in Python
(tests/kernels/test_lines.py holds both to the same results).
"""

from __future__ import annotations

import ctypes
from itertools import repeat
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gecko_cli.kernels import build, enabled

SOURCE = Path(__file__).with_name("lines.cc")


class LineArrays(NamedTuple):
    """Per text (one value each): lines, blank lines, distinct lines and their characters, all characters; the
    paragraphs of `"\n".join(items).split("\n\n")` that are not empty, the distinct ones and the characters
    of both, where a line repeats and a blank line exists (the only texts whose paragraphs can repeat; 0
    elsewhere); and the length of every line, text after text."""

    count: np.ndarray
    blanks: np.ndarray
    distinct: np.ndarray
    distinct_chars: np.ndarray
    chars: np.ndarray
    paragraphs: np.ndarray
    distinct_paragraphs: np.ndarray
    paragraph_chars: np.ndarray
    distinct_paragraph_chars: np.ndarray
    lengths: np.ndarray


_P = ctypes.c_void_p
_LIB = build.CFunctions(SOURCE, {
    "gecko_line_stats": (ctypes.c_int64, [ctypes.c_char_p, _P, ctypes.c_int64, *[_P] * 6]),
    "gecko_line_stats_stripped": (ctypes.c_int64, [_P, _P, _P, ctypes.c_int64, *[_P] * 6]),
    "gecko_line_lengths": (None, [_P]),
}, "balance: line statistics")


def available() -> bool:
    """Whether `stats` runs the kernel here (it is enabled and builds)."""
    return enabled() and _LIB.get() is not None


def stats(texts: list[str]) -> LineArrays | None:
    """The line statistics of every text (see the module docstring); None when the kernel is not available.

    Args:
        texts: the texts (any str, lone surrogates included).

    Returns:
        A LineArrays, or None.
    """
    if not available():
        return None
    lib = _LIB.get()
    encoded = list(map(str.encode, texts, repeat("utf-8"), repeat("surrogatepass")))
    n = len(encoded)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, n), out=offsets[1:])
    data = b"".join(encoded)
    arrays = [np.zeros(n, np.int64) for _ in range(5)]
    paragraphs = np.zeros((n, 4), np.int64)
    total = lib.gecko_line_stats(data, offsets.ctypes.data, n, *(a.ctypes.data for a in arrays),
                                 paragraphs.ctypes.data)
    return _results(lib, total, arrays, paragraphs)


def stats_column(column, rows: np.ndarray) -> LineArrays | None:
    """`stats` of the texts `rows` of an Arrow string column, each stripped first (``text.strip()``), read from
    the column's bytes in place; None when the kernel is not available or the column is not a string column.

    Args:
        column: an Arrow string array or chunked array (a null is an empty text).
        rows: the texts to read, as rows of `column`.
    """
    import pyarrow as pa  # here: the rules' module, which loads this one, does not load pyarrow

    from gecko_cli.kernels.columns import text_bounds

    if not (available() and pa.types.is_string(column.type)):
        return None
    lib = _LIB.get()
    data, starts, ends = text_bounds(column, rows)
    n = len(starts)
    arrays = [np.zeros(n, np.int64) for _ in range(5)]
    paragraphs = np.zeros((n, 4), np.int64)
    total = lib.gecko_line_stats_stripped(data.address, starts.ctypes.data, ends.ctypes.data, n,
                                          *(a.ctypes.data for a in arrays), paragraphs.ctypes.data) if n else 0
    return _results(lib, total, arrays, paragraphs)


def _results(lib, total: int, arrays: list[np.ndarray], paragraphs: np.ndarray) -> LineArrays:
    lengths = np.empty(total, np.int64)
    if total:
        lib.gecko_line_lengths(lengths.ctypes.data)
    return LineArrays(*arrays, *paragraphs.T, lengths)
