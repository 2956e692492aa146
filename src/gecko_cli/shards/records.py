"""The unit every input reader yields: a batch of consecutive records of one file."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

BAD_HINT = "fix or remove that record, or pass --on-bad-record skip to skip it and count it in the manifest"


@dataclass
class ReadBatch:
    """A run of consecutive records of one input file.

    Attributes:
        start: index of the first record within its file.
        texts: the text of each record, or None for a bad record.
        bad: batch row -> why the record is bad.
        ids: the id of each record; when the input has none, "relpath:LINE" (1-based) for JSON lines and
            "relpath#ROW" (0-based, as in error messages) for Parquet and Arrow.
        table: with `want_table`, one row per record in the documents layout (core columns first, other input
            columns after); a bad record's row holds its raw content in `text`, for audit.
        extras_schema: for JSON lines read without `want_table`, the types of the extra fields in this batch.
    """

    start: int
    texts: list
    ids: list
    bad: dict = field(default_factory=dict)
    table: pa.Table | None = None
    extras_schema: pa.Schema | None = None

    def __len__(self) -> int:
        return len(self.texts)
