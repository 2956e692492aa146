"""Texts taken out of several Arrow string arrays into one, batch after batch, in memory used again (texts.cc).

The gather of `gecko balance` writes an output shard a record batch at a time, each batch's texts taken from
the scanned files' columns (memory-mapped) in shuffled order. Arrow's take would first combine the columns (a
copy of every text) and give each batch new memory, which the operating system has to zero and map page by
page. Here a kernel copies each batch's texts straight out of the columns into one of a few buffers that later
batches use again.

It is used when it builds here (build.py: a C++ compiler is needed, once) and every column is a string array
without nulls; otherwise, or with `GECKO_CPU_KERNELS=off`, `TextTaker.make` returns None and Arrow takes the
texts (tests/kernels/test_texts.py holds both to the same arrays).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pyarrow as pa

from gecko_cli.kernels import build, enabled

SOURCE = Path(__file__).with_name("texts.cc")
_P = ctypes.c_void_p
_LIB = build.CFunctions(SOURCE, {
    "gecko_take_texts": (ctypes.c_int64, [_P, _P, _P, _P, ctypes.c_int64, _P, _P, ctypes.c_int64]),
}, "balance: gathering texts")


class TextTaker:
    """Takes texts out of a list of string arrays into `buffers` buffers used in turn: the array that `take`
    returns stays valid until `buffers` more calls (hold no more batches than that at once)."""

    def __init__(self, arrays: list[pa.Array], buffers: int):
        self._arrays = arrays  # kept alive while their addresses are in use
        self._lengths = np.array([len(a) for a in arrays], np.int64)
        # (an array of no rows may have no buffers: its address is never read)
        self._offsets = np.array([_address(a, 1) + 4 * a.offset for a in arrays], np.uintp)
        self._data = np.array([_address(a, 2) for a in arrays], np.uintp)
        self._ring: list[tuple[np.ndarray, np.ndarray] | None] = [None] * max(buffers, 1)
        self._turn = 0

    @classmethod
    def make(cls, arrays: list[pa.Array], buffers: int) -> TextTaker | None:
        """A taker of these arrays; None when the kernel is not available here or an array is not a string
        array without nulls."""
        if not enabled() or any(not pa.types.is_string(a.type) or a.null_count for a in arrays):
            return None
        if _LIB.get() is None:
            return None
        return cls(arrays, buffers)

    def take(self, arrays: np.ndarray, rows: np.ndarray, nbytes: int, slot: int | None = None) -> pa.Array:
        """One string array of the text at `rows[i]` of array `arrays[i]`, for every i.

        Args:
            arrays: int32, the array of each text (an index into the list given).
            rows: int64, its row in that array.
            nbytes: the bytes of all the texts taken (under 2 GiB, as in any string array).
            slot: the buffer to use (modulo their number), instead of the next in turn: calls on several threads
                at once must use different ones.
        """
        arrays = np.ascontiguousarray(arrays, np.int32)
        rows = np.ascontiguousarray(rows, np.int64)
        n = len(rows)
        if n and (arrays.min() < 0 or arrays.max() >= len(self._lengths) or rows.min() < 0
                  or (rows >= self._lengths[arrays]).any()):
            raise IndexError("a row to take is outside its array")
        if slot is None:
            turn, self._turn = self._turn, (self._turn + 1) % len(self._ring)
        else:
            turn = slot % len(self._ring)
        held = self._ring[turn]
        if held is None or len(held[0]) < n + 1 or len(held[1]) < nbytes:  # room for a quarter more: batches vary
            old = (0, 0) if held is None else (len(held[0]), len(held[1]))
            held = (np.empty(max(n + 1 + n // 4, old[0]), np.int32), np.empty(max(nbytes + nbytes // 4, old[1], 1), np.uint8))
            self._ring[turn] = held
        offsets, data = held
        written = _LIB.get().gecko_take_texts(self._offsets.ctypes.data, self._data.ctypes.data, arrays.ctypes.data,
                                              rows.ctypes.data, n, offsets.ctypes.data, data.ctypes.data, nbytes)
        if written != nbytes:
            raise ValueError(f"the texts taken hold {written} bytes, not the {nbytes} expected")
        return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets[:n + 1]),
                                                      pa.py_buffer(data[:nbytes])])


def _address(array: pa.Array, buffer: int) -> int:
    found = array.buffers()[buffer]
    return found.address if found is not None else 0
