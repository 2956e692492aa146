"""gecko_cli.compute calls Arrow's compute functions by name: the same results as pyarrow.compute's wrappers."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from gecko_cli import compute

TEXTS = pa.array(["a.py", None, "Makefile", "ids-1", "", "한국어.rs"], pa.string())
CHUNKED = pa.chunked_array([TEXTS.slice(0, 2), TEXTS.slice(2)])
TABLE = pa.table({"text": TEXTS, "n": pa.array([1, 2, None, 4, 5, 6], pa.int64())})


@pytest.mark.parametrize("data", [TEXTS, CHUNKED, TABLE, TABLE.to_batches()[0]])
def test_take_and_filter_equal_pyarrow(data):
    rows = pa.array([5, 0, 0, 3], pa.int64())
    assert compute.take(data, rows).equals(pc.take(data, rows))
    mask = pa.array([True, False, None, True, True, False])
    assert compute.filter(data, mask).equals(pc.filter(data, mask))


def test_take_checks_bounds():
    with pytest.raises(IndexError):
        compute.take(TEXTS, pa.array([6], pa.int64()))


@pytest.mark.parametrize("values,fill", [(pa.array([1, None, 3], pa.int64()), 0), (pa.array([True, None]), False),
                                          (pa.chunked_array([pa.array([None, 2], pa.int32())]), 7)])
def test_fill_null_equals_pyarrow(values, fill):
    assert compute.fill_null(values, fill).equals(pc.fill_null(values, fill))


@pytest.mark.parametrize("strings", [TEXTS, CHUNKED])
def test_string_functions_equal_pyarrow(strings):
    assert compute.binary_length(strings).equals(pc.binary_length(strings))
    assert compute.is_null(strings).equals(pc.is_null(strings))
    value_set = pa.array(["ids-1", "a.py"], pa.string())
    assert compute.index_in(strings, value_set).equals(pc.index_in(strings, value_set=value_set))
    assert compute.dictionary_encode(strings).equals(pc.dictionary_encode(strings))
    suffix = pa.array(["", "~ep1", "~ep2", "", "~ep1", ""], pa.string())
    if isinstance(strings, pa.ChunkedArray):
        suffix = pa.chunked_array([suffix.slice(0, 2), suffix.slice(2)])
    assert compute.binary_join_element_wise(strings, suffix, separator="").equals(
        pc.binary_join_element_wise(strings, suffix, ""))


def test_replace_with_mask_equals_pyarrow():
    mask = pa.array([False, True, False, False, True, False])
    new = pa.array(["x", "yy"], pa.string())
    assert compute.replace_with_mask(TEXTS, mask, new).equals(pc.replace_with_mask(TEXTS, mask, new))


@pytest.mark.parametrize("values,dtype", [(np.array([3, -1, 7], np.int64), None), (np.arange(10, dtype=np.int32)[::3], np.int64),
                                           (np.array([True, False, True] * 7), None), (np.zeros(0, np.uint8), None),
                                           ([5, 0, 2], np.int64), (np.array([2**64 - 1, 0], np.uint64), None),
                                           (np.zeros(4, [("a", np.uint8), ("b", np.int32)])["b"], None)])
def test_array_equals_pa_array(values, dtype):
    got, want = compute.array(values, dtype), pa.array(np.asarray(values, dtype))
    assert got.type == want.type and got.equals(want)


def test_array_refuses_more_than_one_dimension():
    with pytest.raises(ValueError, match="1-D"):
        compute.array(np.zeros((2, 2)))


def test_numpy_indices_and_masks():
    assert compute.take(TEXTS, np.array([1, 0])).equals(pc.take(TEXTS, pa.array([1, 0])))
    keep = np.array([True, False, True, True, False, True])
    assert compute.filter(TABLE, keep).equals(TABLE.filter(pa.array(keep)))
