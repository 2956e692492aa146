"""The unit every input reader yields: a batch of consecutive records of one file."""

from __future__ import annotations

import pyarrow as pa

BAD_HINT = "fix or remove that record, or pass --on-bad-record skip to skip it and count it in the manifest"


class ReadBatch:
    """A run of consecutive records of one input file.

    Attributes:
        start: index of the first record within its file.
        texts: the text of each record, or None for a bad record.
        bad: batch row -> why the record is bad.
        ids: the id of each record; when the input has none, "relpath:LINE" (1-based) for JSON lines and
            "relpath#ROW" (0-based, as in error messages) for Parquet and Arrow. Given as an Arrow string
            column, it becomes a list the first time it is read (a stage that never reads it skips that).
        table: with `want_table`, one row per record in the documents layout (core columns first, other input
            columns after); a bad record's row holds its raw content in `text`, for audit.
        extras_schema: for JSON lines read without `want_table`, the types of the extra fields in this batch.
    """

    def __init__(self, start: int, texts: list, ids: list | pa.Array, bad: dict | None = None,
                 table: pa.Table | None = None, extras_schema: pa.Schema | None = None):
        self.start, self.texts, self._ids = start, texts, ids
        self.bad = {} if bad is None else bad
        self.table, self.extras_schema = table, extras_schema

    @property
    def ids(self) -> list:
        if not isinstance(self._ids, list):
            self._ids = self._ids.to_pylist()
        return self._ids

    def __len__(self) -> int:
        return len(self.texts)
