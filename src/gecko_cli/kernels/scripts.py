"""What the language detector counts in each document's prose, in one pass (scripts.cc).

`balance/langid.py` labels a batch from letters by script (Hangul, Latin, other) and, on each text's *shape*
(one class byte per character), its line breaks, "\\n\\n" pairs, and the word pairs, code symbols and indented
lines of its code score. In numpy that is a translation of the batch and a reduction per count; the kernel
reads the UTF-8 bytes once: of an encoding of the texts (`counts`), or of an Arrow column in place
(`counts_column`).

It is used when it builds here (build.py: a C++ compiler is needed, once); otherwise, or with
`GECKO_CPU_KERNELS=off`, `counts` returns None and langid counts the same in numpy
(tests/kernels/test_scripts.py holds both to the same results).
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gecko_cli.kernels import build, enabled

SOURCE = Path(__file__).with_name("scripts.cc")
_P = ctypes.c_void_p
_LIB = build.CFunctions(SOURCE, {
    "gecko_script_counts": (None, [ctypes.c_char_p, _P, ctypes.c_int64, ctypes.c_char_p, _P]),
    "gecko_script_counts_bounds": (None, [_P, _P, _P, ctypes.c_int64, ctypes.c_char_p, _P]),
}, "balance: language counts")


class ScriptCounts(NamedTuple):
    """Per text (one value each), as langid counts them on its shape."""

    hangul: np.ndarray  # Hangul letters (syllables and jamo)
    latin: np.ndarray  # Latin letters (accented included)
    other: np.ndarray  # letters of other scripts
    newlines: np.ndarray  # "\n"
    newline_pairs: np.ndarray  # shape.count(b"\n\n")
    latin_pairs: np.ndarray  # shape.count(b"a a")
    hangul_pairs: np.ndarray  # shape.count(b"h h")
    symbols: np.ndarray  # shape.count(b"s")
    indents: np.ndarray  # shape.count(b"\n ")
    size: np.ndarray  # len(shape)


def available() -> bool:
    """Whether `counts` runs the kernel here (it is enabled and builds)."""
    return enabled() and _LIB.get() is not None


def counts(data: bytes, chars: np.ndarray, classes: bytes) -> ScriptCounts | None:
    """The counts of every text; None when the kernel is not available.

    Args:
        data: the UTF-8 bytes of the texts, each followed by one separator character.
        chars: the length of each text in characters.
        classes: the class byte of each first byte of a character (langid._CLASSES).

    Returns:
        A ScriptCounts, or None.
    """
    if not available():
        return None
    chars = np.ascontiguousarray(chars, np.int64)
    out = np.zeros((len(chars), len(ScriptCounts._fields)), np.int64)
    _LIB.get().gecko_script_counts(data, chars.ctypes.data, len(chars), classes, out.ctypes.data)
    return ScriptCounts(*out.T)


def counts_column(column, rows: np.ndarray, classes: bytes) -> ScriptCounts | None:
    """`counts` of the texts `rows` of an Arrow string column, read from its bytes in place; None when the kernel
    is not available or the column is not a string column.

    Args:
        column: an Arrow string array or chunked array (a null is an empty text).
        rows: the texts to count, as rows of `column`.
        classes: as for `counts`.
    """
    import pyarrow as pa  # here: langid, which loads this module, is read by the configuration too

    from gecko_cli.kernels.columns import text_bounds

    if not (available() and pa.types.is_string(column.type)):
        return None
    data, starts, ends = text_bounds(column, rows)
    out = np.zeros((len(starts), len(ScriptCounts._fields)), np.int64)
    if len(starts):
        _LIB.get().gecko_script_counts_bounds(data.address, starts.ctypes.data, ends.ctypes.data, len(starts),
                                              classes, out.ctypes.data)
    return ScriptCounts(*out.T)
