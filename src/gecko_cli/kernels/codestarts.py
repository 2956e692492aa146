"""The lines that open like code, per text (codestarts.cc): what `len(_CODE_START.findall("\\n" + text + "\\n"))`
counts in balance/langid.py, read from UTF-8 bytes.

The language detector scores every text that might be code by how many of its lines open like code (a keyword, an
import, a decorator, a comment marker, a closing bracket...). Python's regex reads the texts a character at a
time, about 40 ms of `gecko balance` on the sample corpus; the kernel jumps from line to line with memchr and looks
at the first bytes of each. Where the regex's Unicode \\w or \\b would judge a character beyond ASCII (a Korean
word right after `import`, say), the kernel leaves the text to the regex.

It is used when it builds here (build.py: a C++ compiler is needed, once); otherwise, or with
`GECKO_CPU_KERNELS=off`, `counts` returns None and the regex counts every text (tests/kernels/test_codestarts.py
holds both to the same results).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pyarrow as pa

from gecko_cli.kernels import build, enabled
from gecko_cli.kernels.columns import text_bounds

SOURCE = Path(__file__).with_name("codestarts.cc")
_P = ctypes.c_void_p
_LIB = build.CFunctions(SOURCE, {
    "gecko_code_starts": (None, [_P, _P, _P, ctypes.c_int64, _P]),
}, "balance: lines that open like code")


def available() -> bool:
    """Whether the kernel runs here (it is enabled and builds)."""
    return enabled() and _LIB.get() is not None


def counts_column(texts: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> np.ndarray | None:
    """Per text `rows[j]` of an Arrow string column (a null is an empty text), its lines that open like code, or
    -1 where the regex must count them; None when the kernel is not available here or the column is not a string
    column."""
    if not pa.types.is_string(texts.type) or not available():
        return None
    return _counts(*text_bounds(texts, rows))


def counts(texts: list[str]) -> np.ndarray | None:
    """`counts_column` of Python strings (encoded to UTF-8 first, a lone surrogate as `surrogatepass` writes it:
    not a word character, as for the regex); None when the kernel is not available here."""
    if not available():
        return None
    raw = [t.encode("utf-8", "surrogatepass") for t in texts]
    sizes = np.fromiter(map(len, raw), np.int64, len(raw))
    ends = np.cumsum(sizes)
    data = b"".join(raw)
    return _counts(ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value, ends - sizes, ends, data)


def _counts(data, starts: np.ndarray, ends: np.ndarray, keep=None) -> np.ndarray:
    """The kernel over data[starts[i]:ends[i]]: `data` an address, or an object with one (`columns.Data`);
    `keep`, the object that holds the bytes, alive until it returns."""
    out = np.zeros(len(starts), np.int64)
    if len(starts):
        address = data.address if hasattr(data, "address") else data
        _LIB.get().gecko_code_starts(address, np.ascontiguousarray(starts, np.int64).ctypes.data,
                                     np.ascontiguousarray(ends, np.int64).ctypes.data, len(starts), out.ctypes.data)
    del keep
    return out
