"""A stable argsort of uint64 keys (order.cc): least significant digit radix sort, 11 bits a pass.

`gecko balance` puts every output copy of a document in the order of its 64-bit shuffle key: scatter sorts each
scanned file's copies, gather each output shard's, the plan each language's documents. numpy's stable argsort of
uint64 is a merge sort (about 40 ns a key here on 8,000 keys); the radix sort reads each key once per pass and
skips the passes whose digit is the same for every key, and random keys (whose top digits tell them apart) need
only the passes of their top 33 bits and a comparison sort of the few runs that share those.

It is used when it builds here (build.py: a C++ compiler is needed, once); otherwise, or with
`GECKO_CPU_KERNELS=off`, `argsort` is numpy's (tests/kernels/test_order.py holds both to the same results).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from gecko_cli.kernels import build, enabled

SOURCE = Path(__file__).with_name("order.cc")
_P = ctypes.c_void_p
_LIB = build.CFunctions(SOURCE, {
    "gecko_argsort_u64": (None, [_P, ctypes.c_int64, _P, _P]),
}, "balance: key order")


def argsort(keys: np.ndarray) -> np.ndarray:
    """The positions of `keys` (integers that fit in uint64) in key order, equal keys in position order: the
    same as ``np.argsort(keys, kind="stable")``, as int64."""
    keys = np.asarray(keys)
    if keys.dtype != np.uint64:
        if keys.dtype.kind not in "ui" or (keys.dtype.kind == "i" and keys.size and keys.min() < 0):
            return np.argsort(keys, kind="stable")
        keys = keys.astype(np.uint64)
    lib = _LIB.get() if enabled() else None
    if lib is None or keys.ndim != 1:
        return np.argsort(keys, kind="stable")
    keys = np.ascontiguousarray(keys)
    order = np.empty(len(keys), np.int64)
    scratch = np.empty(len(keys), np.int64)
    lib.gecko_argsort_u64(keys.ctypes.data, len(keys), order.ctypes.data, scratch.ctypes.data)
    return order
