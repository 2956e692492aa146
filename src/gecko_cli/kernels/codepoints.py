"""How many code points of each text fall in each of a few sets of ranges (codepoints.cc), read from the UTF-8
of the Arrow text column.

The quality rules of `gecko balance` count decorative symbols (★ ♥ ■) and bare jamo (ㅋㅋ, ㅠㅠ) per document. In
numpy that is every non-ASCII text encoded again as UTF-32 and a comparison per range over all its code points;
the kernel reads the bytes the scan already has, once for every set.

It is used when it builds here (build.py: a C++ compiler is needed, once); otherwise, or with
`GECKO_CPU_KERNELS=off`, `counts` returns None and the rules count in numpy (tests/kernels/test_codepoints.py
holds both to the same results).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from gecko_cli.kernels import build, enabled
from gecko_cli.kernels.columns import text_bounds

SOURCE = Path(__file__).with_name("codepoints.cc")
_P = ctypes.c_void_p
_LIB = build.CFunctions(SOURCE, {
    "gecko_count_code_points": (None, [_P, _P, _P, ctypes.c_int64, _P, _P, ctypes.c_int64, ctypes.c_int64, _P]),
}, "balance: code point counts")
MAX_SETS = 8
_BMP = 1 << 16


def available() -> bool:
    """Whether `counts` runs the kernel here (it is enabled and builds)."""
    return enabled() and _LIB.get() is not None


def counts(texts: pa.Array | pa.ChunkedArray, rows: np.ndarray,
           sets: Sequence[Sequence[tuple[int, int]]]) -> np.ndarray | None:
    """Per text `rows[j]` of `texts`, the number of its code points in each set of ranges; None when the kernel
    is not available here or the column is not a string column.

    Args:
        texts: an Arrow string array or chunked array (a null is an empty text).
        rows: the texts to count, as rows of `texts`.
        sets: up to 8 sets, each of (first, last) code point ranges, bounds included.

    Returns:
        An int64 array of shape (len(rows), len(sets)).
    """
    if not (enabled() and pa.types.is_string(texts.type)) or _LIB.get() is None:
        return None
    if len(sets) > MAX_SETS:
        raise ValueError(f"at most {MAX_SETS} sets of ranges, not {len(sets)}")
    out = np.zeros((len(rows), len(sets)), np.int64)
    data, starts, ends = text_bounds(texts, rows)
    if not len(starts):
        return out
    bits = np.zeros(_BMP, np.uint8)
    astral = []
    for s, ranges in enumerate(sets):
        for lo, hi in ranges:
            if lo < _BMP:
                bits[lo:min(hi, _BMP - 1) + 1] |= np.uint8(1 << s)
            if hi >= _BMP:
                astral.append((max(lo, _BMP), hi, s))
    astral_ranges = np.array(astral or [(0, 0, 0)], np.uint32)
    _LIB.get().gecko_count_code_points(data.address, starts.ctypes.data,
                                       ends.ctypes.data, len(rows), bits.ctypes.data, astral_ranges.ctypes.data,
                                       len(astral), len(sets), out.ctypes.data)
    return out
