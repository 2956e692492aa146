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
_LIB = build.CFunctions(SOURCE, {"gecko_number_runs": (None, [_P, _P, _P, ctypes.c_int64, _P])},
                        "balance: personal data")


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
