"""Reading the texts of an Arrow string column in place."""

import numpy as np
import pyarrow as pa

from gecko_cli.kernels.columns import one_array, text_bounds


def test_one_array_copies_only_several_chunks():
    a = pa.array(["가나", None, "abc"])
    assert one_array(a) is a
    single = one_array(pa.chunked_array([a]))
    assert single.buffers()[2].address == a.buffers()[2].address  # the chunk itself, not a copy
    several = one_array(pa.chunked_array([a, a.slice(1)]))
    assert several.to_pylist() == ["가나", None, "abc", None, "abc"]
    assert one_array(pa.chunked_array([], pa.string())).to_pylist() == []


def test_text_bounds_of_rows_slices_and_nulls():
    column = pa.chunked_array([pa.array(["x", "가나", None, "abc"]).slice(1)])
    data, starts, ends = text_bounds(column, np.array([2, 0, 1]))
    raw = data.buffer.to_pybytes()
    assert [raw[s:e].decode() for s, e in zip(starts, ends)] == ["abc", "가나", ""]
    assert text_bounds(column, np.zeros(0, np.int64))[1].tolist() == []
