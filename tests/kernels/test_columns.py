"""Reading the texts of an Arrow string column in place."""

import numpy as np
import pyarrow as pa

from gecko_cli.kernels import columns
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


def test_filter_rows_is_arrows_table_filter():
    rng = np.random.default_rng(0)
    n = 300
    texts = [None if i % 37 == 0 else "가나" * (i % 5) + str(i) for i in range(n)]
    table = pa.table({
        "text": pa.chunked_array([pa.array(texts[:100]), pa.array(texts[100:250]), pa.array(texts[250:])]),
        "n": pa.array(range(n), pa.int64()),
        "tags": pa.array([[str(i)] * (i % 3) for i in range(n)]),
        "big": pa.array(texts, pa.large_string()),
    })
    for keep in (rng.random(n) > 0.3, np.zeros(n, bool), np.ones(n, bool), np.arange(n) % 2 == 0):
        got = columns.filter_rows(table, keep)
        assert got.schema == table.schema
        assert got.equals(table.filter(pa.array(keep)))
    assert columns.filter_rows(table, np.ones(n, bool)) is table  # nothing to drop: no copy
    empty = table.slice(0, 0)
    assert columns.filter_rows(empty, np.zeros(0, bool)).num_rows == 0
