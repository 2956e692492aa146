"""Which texts may hold a number that personal-data scrubbing replaces (numbers.cc), read from their UTF-8.

`balance/pii.py` finds numbers with a regex that tries every position of the text; most documents hold no run
of 9 digits and separators, which every number it replaces needs. The kernel finds those that do from the
bytes of the Arrow text column, without encoding or searching the others.

It is used when it builds here (build.py: a C++ compiler is needed, once); otherwise, or with
`GECKO_CPU_KERNELS=off`, `candidates` returns None and every text is searched (tests/kernels/test_numbers.py
holds it to the regex).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pyarrow as pa

from gecko_cli.kernels import build, enabled
from gecko_cli.kernels.columns import text_bounds

SOURCE = Path(__file__).with_name("numbers.cc")
_P = ctypes.c_void_p
_LIB = build.CFunctions(SOURCE, {
    "gecko_number_runs": (None, [_P, _P, _P, ctypes.c_int64, _P]),
    "gecko_number_run_spans": (ctypes.c_int64, [_P, _P, _P, ctypes.c_int64, _P, _P, _P, ctypes.c_int64]),
}, "balance: personal data")


def candidates(texts: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """A bool per text: whether it holds a run of a character of "0123456789+(" and 8 more of
    "0123456789 ().+-" (a null is an empty text); None when the kernel is not available here or the column is
    not a string column.

    Args:
        texts: an Arrow string array or chunked array.
    """
    if not (enabled() and pa.types.is_string(texts.type)) or _LIB.get() is None:
        return None
    data, starts, ends = text_bounds(texts, np.arange(len(texts)))  # a null is an empty text
    flags = np.zeros(len(texts), np.uint8)
    if len(flags):
        _LIB.get().gecko_number_runs(data.address, starts.ctypes.data, ends.ctypes.data, len(flags),
                                     flags.ctypes.data)
    return flags.view(bool)


def run_spans(texts: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The matches of pii._RUN in the texts at `rows`, as re.finditer finds them in each, less those that
    pii._candidates drops at once (runs of digits only shorter than 9 or longer than 19, runs with separators
    and fewer than 8 digits); None when the kernel is not available here or the column is not a string column.

    Returns:
        (which, start, end): per match, its text (an index into `rows`) and where it starts and ends in that
        text, in characters; in order of text, then of start.
    """
    if not (enabled() and pa.types.is_string(texts.type)) or _LIB.get() is None:
        return None
    rows = np.asarray(rows, np.int64)
    data, starts, ends = text_bounds(texts, rows)  # a null is an empty text
    capacity = max(int((ends - starts).sum()) // 64, 1024)
    while True:
        which, start, end = (np.empty(capacity, np.int64) for _ in range(3))
        found = _LIB.get().gecko_number_run_spans(data.address, starts.ctypes.data, ends.ctypes.data, len(rows),
                                                  which.ctypes.data, start.ctypes.data, end.ctypes.data,
                                                  capacity) if len(rows) else 0
        if found >= 0:
            return which[:found], start[:found], end[:found]
        capacity *= 4  # more matches than room: again, with more
