"""Readers for every input format: records come out in batches, in file order, with bad records flagged.

A record is one non-blank JSON line, or one row of a Parquet or Arrow file. Its index within its file
(counting bad records too) is how later phases of a stage refer to it, so every reader counts the same way
whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from gecko_cli import schemas
from gecko_cli.shards.inputs import InputFile
from gecko_cli.shards.jsonl import read_jsonl
from gecko_cli.shards.records import BAD_HINT, ReadBatch
from gecko_cli.shards.tabular import read_tabular

__all__ = ["BAD_HINT", "ReadBatch", "extras_schema_of", "iter_records"]


def iter_records(f: InputFile, *, text_field: str = schemas.TEXT, on_bad: str = "error",
                 batch_rows: int = 4096, want_table: bool = False,
                 extras_schema: pa.Schema | None = None) -> Iterator[ReadBatch]:
    """Read the records of one input file in batches.

    Args:
        f: the input file.
        text_field: the column or JSON field that holds the text.
        on_bad: "error" raises `DataError` at the first bad record; "skip" flags it in `ReadBatch.bad`.
        batch_rows: most records per batch (record indices do not depend on it).
        want_table: also build `ReadBatch.table` (documents layout).
        extras_schema: for JSON lines, the types of the extra fields (from a first pass over the file), so that
            every batch of the file gets the same columns.

    Yields:
        ReadBatch objects covering every record of the file, in order.
    """
    reader = read_jsonl if f.format.startswith("jsonl") else read_tabular
    yield from reader(f, text_field, on_bad, batch_rows, want_table, extras_schema)


def extras_schema_of(table: pa.Table) -> pa.Schema:
    """The schema of the non-core columns of a documents table."""
    return pa.schema([fld for fld in table.schema if fld.name not in schemas.DOC_COLUMNS])
