"""Reading Parquet and Arrow (IPC file or stream) input, a record batch at a time."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from gecko_cli import schemas
from gecko_cli.errors import DataError
from gecko_cli.shards.inputs import InputFile
from gecko_cli.shards.records import BAD_HINT, ReadBatch

_CORRUPT_HINT = "re-create or re-download the file, or exclude it with --exclude"
_IPC_FILE_MAGIC = b"ARROW1"
_IPC_CONTINUATION = b"\xff\xff\xff\xff"
_IPC_EOS = _IPC_CONTINUATION + b"\x00\x00\x00\x00"
_IPC_LEGACY_EOS = b"\x00\x00\x00\x00"


def _record_batches(f: InputFile, batch_rows: int) -> Iterator:
    """The file's Arrow schema, then its record batches of at most `batch_rows` rows."""
    try:
        if f.format == "parquet":
            import pyarrow.parquet as pq  # imported here: it takes 60 ms, which reading Arrow does without

            with pq.ParquetFile(f.path) as pf:
                yield pf.schema_arrow
                yield from pf.iter_batches(batch_size=batch_rows)
        else:
            with pa.memory_map(f.path) as source:
                batches = _ipc_batches(f, source)
                yield next(batches)  # the schema
                yield from _to_size(batches, batch_rows)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:  # a corrupt footer can hold bad names
        raise DataError(f"{f.path}: not a readable {f.format} file ({e})", hint=_CORRUPT_HINT) from None


#: Record batches of an IPC file that are joined into one of up to `batch_rows` rows hold at most this many bytes
#: together (a join copies them).
MERGE_BYTES = 16 << 20


def _to_size(batches: Iterator[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The rows of record batches of any size (an IPC file's), in batches of up to `batch_rows` rows: larger
    ones cut, consecutive smaller ones joined while they hold under MERGE_BYTES (each batch costs a stage some
    fixed work: a file written 2,048 rows at a time is read 8,192 at a time by `gecko balance`)."""
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    for rb in batches:
        for offset in range(0, rb.num_rows, batch_rows):
            piece = rb.slice(offset, batch_rows)
            if pending and (rows + piece.num_rows > batch_rows or size + piece.nbytes > MERGE_BYTES):
                yield _joined(pending)
                pending, rows, size = [], 0, 0
            pending.append(piece)
            rows += piece.num_rows
            size += piece.nbytes
    if pending:
        yield _joined(pending)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    return batches[0] if len(batches) == 1 else pa.concat_batches(batches)


def _ipc_batches(f: InputFile, source: pa.MemoryMappedFile) -> Iterator:
    """Schema, then batches, of an Arrow IPC file in either the file or the stream format."""
    head = source.read(len(_IPC_FILE_MAGIC))
    source.seek(0)
    if head == _IPC_FILE_MAGIC:
        reader = pa.ipc.open_file(source)
        yield reader.schema
        for i in range(reader.num_record_batches):
            yield _validated(reader.get_batch(i))
        return
    # A stream that ends at a message boundary reads as complete, so only its end-of-stream marker tells a
    # whole stream from one cut short.
    size = source.size()
    eos = _IPC_EOS if head.startswith(_IPC_CONTINUATION) else _IPC_LEGACY_EOS
    if size < len(eos) or source.read_at(len(eos), size - len(eos)) != eos:
        raise DataError(f"{f.path}: truncated Arrow IPC stream (no end-of-stream marker)", hint=_CORRUPT_HINT)
    reader = pa.ipc.open_stream(source)
    yield reader.schema
    for rb in reader:
        yield _validated(rb)


def _validated(rb: pa.RecordBatch) -> pa.RecordBatch:
    """Check a batch read from an IPC file: Arrow trusts the offsets it finds there, and bad ones crash Python.

    Strings are checked as bytes, so that invalid UTF-8 in the text column is one bad record, not a bad file.
    """
    for col in rb.columns:
        if pa.types.is_string(col.type):
            col = col.view(pa.binary())
        elif pa.types.is_large_string(col.type):
            col = col.view(pa.large_binary())
        col.validate(full=True)
    return rb


def read_tabular(f, text_field, on_bad, batch_rows, want_table, extras_schema):
    """Batches of records of a Parquet or Arrow file (see `iter_records`)."""
    batches = _record_batches(f, batch_rows)
    try:
        schema = next(batches)
        if text_field not in schema.names:
            raise DataError(f"{f.path}: no column {text_field!r} (columns: {', '.join(schema.names)})",
                            hint="name the text column with --text-field")
        if text_field != schemas.TEXT and schemas.TEXT in schema.names:
            raise DataError(f"{f.path}: has a {schemas.TEXT!r} column besides the text column {text_field!r}",
                            hint=f"rename or remove one of them: the output's {schemas.TEXT!r} column is the text")
        start = 0
        for rb in batches:
            if rb.num_rows == 0:
                continue
            yield _table_batch(f, start, rb, text_field, on_bad, want_table)
            start += rb.num_rows
    finally:
        batches.close()  # release the file now, not when the generator is collected


def _table_batch(f, start, rb: pa.RecordBatch, text_field, on_bad, want_table) -> ReadBatch:
    texts, bad = _column_texts(f, rb.column(text_field), text_field)
    if bad and on_bad != "skip":
        first = min(bad)
        raise DataError(f"{f.path}: row {start + first}: {bad[first]}", hint=BAD_HINT)
    n = rb.num_rows
    id_column = _strings(rb, schemas.ID, nulls=False)
    ids = id_column if id_column is not None else \
        _string_column(f, rb, schemas.ID, [f"{f.relpath}#{start + i}" for i in range(n)])
    out = ReadBatch(start=start, texts=texts, ids=ids, bad=bad)
    if not want_table:
        return out
    lang, source = _strings(rb, schemas.LANG, nulls=True), _strings(rb, schemas.SOURCE, nulls=False)
    core = {schemas.TEXT: _text_array(rb.column(text_field), texts, bad),
            schemas.ID: ids if id_column is None else id_column,
            schemas.LANG: _string_column(f, rb, schemas.LANG, [None] * n) if lang is None else lang,
            schemas.SOURCE: _string_column(f, rb, schemas.SOURCE, [f.relpath] * n) if source is None else source}
    table = pa.table(core, schema=schemas.DOCS)
    for name in rb.schema.names:
        if name not in schemas.DOC_COLUMNS and name != text_field:
            table = table.append_column(name, rb.column(name))
    out.table = table
    return out


def _text_array(col: pa.Array, texts: list, bad: dict) -> pa.Array:
    """The texts as an Arrow string array ("" where bad): the column itself when every row was read from it as
    it is (valid UTF-8, no nulls), without encoding the texts again."""
    if not bad and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return col if pa.types.is_string(col.type) else col.cast(pa.string())
    return pa.array([t if t is not None else "" for t in texts], pa.string())


def _column_texts(f: InputFile, col: pa.Array, name: str) -> tuple[list, dict]:
    """The texts of a column (None where bad) and row -> why it is bad."""
    bad: dict = {}
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
        texts = []
        for i, v in enumerate(col.to_pylist()):
            try:
                texts.append(None if v is None else v.decode("utf-8"))
            except UnicodeDecodeError as e:
                texts.append(None)
                bad[i] = f"invalid UTF-8 at byte {e.start}"
    elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:
            texts = col.to_pylist()
        except UnicodeDecodeError:  # Arrow does not validate strings it reads: find the rows one by one
            texts = []
            for i in range(len(col)):
                try:
                    texts.append(col[i].as_py())
                except UnicodeDecodeError as e:
                    texts.append(None)
                    bad[i] = f"invalid UTF-8 at byte {e.start}"
    else:
        raise DataError(f"{f.path}: column {name!r} has type {col.type}, not string",
                        hint="point --text-field at a string column")
    if col.null_count:
        for i, t in enumerate(texts):
            if t is None and i not in bad:
                bad[i] = "text is null"
    return texts, bad


def _strings(rb: pa.RecordBatch, name: str, nulls: bool) -> pa.Array | None:
    """Column `name` as it is, when it is a string column of valid UTF-8 (and without nulls unless `nulls`): it
    then goes into the table without a round trip through Python strings. None otherwise (`_string_column`
    then reads it, fills its nulls and says what is wrong with it)."""
    if name not in rb.schema.names:
        return None
    col = rb.column(name)
    if not pa.types.is_string(col.type) or (col.null_count and not nulls):
        return None
    try:
        col.validate(full=True)  # the UTF-8 that to_pylist would check
    except pa.ArrowInvalid:
        return None
    return col


def _string_column(f: InputFile, rb: pa.RecordBatch, name: str, default: list) -> list:
    if name not in rb.schema.names:
        return default
    col = rb.column(name)
    try:
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = col.cast(pa.string())
        values = col.to_pylist()
    except (pa.ArrowException, UnicodeDecodeError) as e:
        raise DataError(f"{f.path}: column {name!r} (type {col.type}) cannot be read as strings ({e})",
                        hint=f"store {name!r} as a string column, or rename it") from None
    return [d if v is None else v for v, d in zip(values, default, strict=True)]
