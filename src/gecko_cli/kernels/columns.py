"""Where texts lie in an Arrow string column, for the kernels that read its UTF-8 bytes in place."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from gecko_cli import compute


class Data:
    """A column's data buffer, kept alive, and its address for a kernel (None without one)."""

    def __init__(self, buffer: pa.Buffer | None):
        self.buffer = buffer
        self.address = buffer.address if buffer is not None else None


def one_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The column as one array: an array or a single chunk as it is (pyarrow's `combine_chunks` copies even
    that), several chunks combined (a copy)."""
    if not isinstance(column, pa.ChunkedArray):
        return column
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def filter_rows(table: pa.Table, keep: np.ndarray) -> pa.Table:
    """The rows of `table` where `keep` (a bool per row) is True: the same table as `table.filter(keep)`, filtered
    a column at a time. Arrow's Table.filter takes the rows of its string columns one by one: on the documents of
    the sample corpus, in batches of 2,048, it took 61 ms where filtering each column took 6 ms."""
    if keep.all():
        return table
    mask = compute.array(keep, bool)
    return pa.table([compute.filter(column, mask) for column in table.columns], schema=table.schema)


def text_bounds(texts: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> tuple[Data, np.ndarray, np.ndarray]:
    """The column's data and, per row of `rows`, where its text starts and ends in it (a null is an empty text).
    A column of several chunks is combined first (a copy).

    Returns:
        (data, starts, ends): the data (hold it while its address is in use) and two int64 arrays.
    """
    column = one_array(texts)
    rows = np.asarray(rows, np.int64)
    if not len(rows) or not len(column):
        return Data(None), np.zeros(len(rows), np.int64), np.zeros(len(rows), np.int64)
    _, offset_buffer, data = column.buffers()
    offsets = np.frombuffer(offset_buffer, np.int32, len(column) + 1, 4 * column.offset).astype(np.int64)
    starts, ends = offsets[rows], offsets[rows + 1]
    if column.null_count:
        null = compute.is_null(column).to_numpy(zero_copy_only=False)[rows]
        ends[null] = starts[null]
    return Data(data), starts, ends
