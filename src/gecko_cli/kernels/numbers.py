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

SOURCE = Path(__file__).with_name("numbers.cc")
_P = ctypes.c_void_p
_LIB = build.CFunctions(SOURCE, {"gecko_number_runs": (None, [_P, _P, ctypes.c_int64, _P])},
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
    chunks = texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts]
    flags = np.zeros(len(texts), np.uint8)
    at = 0
    for chunk in chunks:
        if len(chunk):
            _, offsets, data = chunk.buffers()
            _LIB.get().gecko_number_runs(data.address if data is not None else None,
                                         offsets.address + 4 * chunk.offset, len(chunk),
                                         flags[at:].ctypes.data)
            if chunk.null_count:  # a null's bytes, if any, are not text
                flags[at:at + len(chunk)][chunk.is_null().to_numpy(zero_copy_only=False)] = 0
        at += len(chunk)
    return flags.view(bool)
