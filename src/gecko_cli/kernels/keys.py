"""The sampling keys of `gecko balance` (keys.cc): a seeded BLAKE2b hash of every id of an Arrow string column.

`balance/core.py` `doc_keys` hashes each id with hashlib, a Python call and an encoding per document; the
kernel hashes the ids' bytes in the column, with the same result.

It is used when it builds here (build.py: a C++ compiler is needed, once); otherwise, or with
`GECKO_CPU_KERNELS=off`, `doc_keys` returns None and hashlib computes the keys (tests/kernels/test_keys.py
holds both to the same results).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pyarrow as pa

from gecko_cli.kernels import build, enabled
from gecko_cli.kernels.columns import text_bounds

SOURCE = Path(__file__).with_name("keys.cc")
_P = ctypes.c_void_p
_LIB = build.CFunctions(SOURCE, {
    "gecko_doc_keys": (None, [ctypes.c_char_p, ctypes.c_int64, _P, _P, _P, ctypes.c_int64, _P]),
}, "balance: document keys")


def doc_keys(ids: pa.Array | pa.ChunkedArray, salt: bytes) -> np.ndarray | None:
    """Per id, the first 8 bytes of ``hashlib.blake2b(salt + id_bytes, digest_size=8)`` as a little-endian
    uint64; None when the kernel is not available here, or the column is not a string column without nulls.

    Args:
        ids: an Arrow string array or chunked array.
        salt: the bytes hashed before each id.
    """
    if not (enabled() and pa.types.is_string(ids.type)) or ids.null_count or _LIB.get() is None:
        return None
    data, starts, ends = text_bounds(ids, np.arange(len(ids)))
    keys = np.zeros(len(ids), np.uint64)
    if len(keys):
        _LIB.get().gecko_doc_keys(salt, len(salt), data.address, starts.ctypes.data, ends.ctypes.data, len(keys),
                                  keys.ctypes.data)
    return keys
