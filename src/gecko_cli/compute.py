"""The Arrow compute functions that the data stages call on their hot paths, without `import pyarrow.compute`.

`import pyarrow.compute` builds a Python wrapper, docstring included, for every one of Arrow's compute functions:
about 30 ms of a command's start, a fifth of what `gecko balance` takes to import. The functions here call the
same kernels by name through `call_function` and the option classes of pyarrow's compiled module, which need
none of that. pyarrow's own `take`, `filter`, `fill_null`, `cast`... methods of arrays and tables import
pyarrow.compute on first use: modules that mean to spare the import call these instead.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

try:
    import pyarrow._compute as _arrow
except ImportError:  # a pyarrow that keeps them elsewhere: the public module has them all
    import pyarrow.compute as _arrow

call_function = _arrow.call_function


def array(values, dtype=None) -> pa.Array:
    """`pa.array(values)` of a 1-D numpy array (or sequence) of numbers or bools, as `dtype` when given: the same
    array, made from the numpy data (as pa.array makes it) without pa.array's test for numpy's masked arrays,
    which imports numpy.ma (7 ms) on first use. Arrow functions given a numpy array build it with pa.array."""
    values = np.ascontiguousarray(values, dtype)
    if values.ndim != 1:
        raise ValueError(f"an Arrow array is made of a 1-D numpy array, not of {values.ndim} dimensions")
    if values.dtype == np.bool_:  # Arrow holds a bit per value
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(np.packbits(values, bitorder="little"))])
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


_TAKE = _arrow.TakeOptions(boundscheck=True)
_FILTER = _arrow.FilterOptions("drop")
_JOIN = _arrow.JoinOptions("emit_null")


def take(data, indices):
    """`data.take(indices)`: the rows of an array, chunked array, record batch or table at `indices` (an Arrow
    or numpy array of integers)."""
    if isinstance(indices, np.ndarray):
        indices = array(indices)
    return call_function("take", [data, indices], _TAKE)


def filter(data, mask):  # noqa: A001 (Arrow's name)
    """`data.filter(mask)`: the rows where `mask` (an Arrow or numpy bool array) is true; a null drops the row."""
    if isinstance(mask, np.ndarray):
        mask = array(mask)
    return call_function("filter", [data, mask], _FILTER)


def fill_null(values, fill):
    """`values.fill_null(fill)`: each null replaced by `fill` (a Python value of the values' type)."""
    if not isinstance(fill, (pa.Array, pa.ChunkedArray, pa.Scalar)):
        fill = pa.scalar(fill, type=values.type)
    return call_function("coalesce", [values, fill])


def is_null(values):
    """`values.is_null()`: whether each value is null."""
    return call_function("is_null", [values])


def binary_length(strings):
    """The length in bytes of each string (null for a null)."""
    return call_function("binary_length", [strings])


def replace_with_mask(values, mask, replacements):
    """`values` with the rows where `mask` is true taken, in order, from `replacements`."""
    return call_function("replace_with_mask", [values, mask, replacements])


def binary_join_element_wise(*strings, separator: str):
    """Row by row, the strings of the columns joined with `separator` (null where any of them is null)."""
    return call_function("binary_join_element_wise", [*strings, pa.scalar(separator, pa.string())], _JOIN)


def index_in(values, value_set: pa.Array):
    """The index of each value in `value_set` (null where it is not there)."""
    return call_function("index_in", [values], _arrow.SetLookupOptions(value_set))


def dictionary_encode(values):
    """The values as a dictionary array: each distinct value once, and an index per row."""
    return call_function("dictionary_encode", [values], _arrow.DictionaryEncodeOptions())
