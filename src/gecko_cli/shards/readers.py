"""Readers for every input format: records come out in batches, in file order, with bad records flagged.

A record is one non-blank JSON line, or one row of a Parquet or Arrow file. Its index within its file
(counting bad records too) is how later phases of a stage refer to it, so every reader counts the same way
whatever the batch size.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import zstandard

from gecko_cli import schemas
from gecko_cli.errors import DataError
from gecko_cli.shards.inputs import InputFile

_CHUNK = 1 << 20
BAD_HINT = "fix or remove that record, or pass --on-bad-record skip to skip it and count it in the manifest"


@dataclass
class ReadBatch:
    """A run of consecutive records of one input file.

    Attributes:
        start: index of the first record within its file.
        texts: the text of each record, or None for a bad record.
        bad: batch row -> why the record is bad.
        ids: the id of each record (made from file and line or row when the input has none).
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


def iter_records(f: InputFile, *, text_field: str = schemas.TEXT, on_bad: str = "error",
                 batch_rows: int = 4096, want_table: bool = False,
                 extras_schema: pa.Schema | None = None) -> Iterator[ReadBatch]:
    """Read the records of one input file in batches.

    Args:
        f: the input file.
        text_field: the column or JSON field that holds the text.
        on_bad: "error" raises `DataError` at the first bad record; "skip" flags it in `ReadBatch.bad`.
        batch_rows: records per batch.
        want_table: also build `ReadBatch.table` (documents layout).
        extras_schema: for JSON lines, the types of the extra fields (from a first pass over the file), so that
            every batch of the file gets the same columns.

    Yields:
        ReadBatch objects covering every record of the file, in order.
    """
    reader = _jsonl if f.format.startswith("jsonl") else _tabular
    yield from reader(f, text_field, on_bad, batch_rows, want_table, extras_schema)


# ----------------------------------------------------------------------------------------------- JSON lines
def _byte_chunks(f: InputFile) -> Iterator[bytes]:
    try:
        with open(f.path, "rb") as raw:
            if f.format == "jsonl.zst":
                yield from _zstd_chunks(raw, f.path)
            elif f.format == "jsonl.gz":
                with gzip.GzipFile(fileobj=raw) as gz:
                    while chunk := gz.read(_CHUNK):
                        yield chunk
            else:
                while chunk := raw.read(_CHUNK):
                    yield chunk
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{f.path}: corrupt or truncated {f.format} file ({e})",
                        hint="re-create or re-download the file, or exclude it with --exclude") from None


def _zstd_chunks(raw, path: str) -> Iterator[bytes]:
    new = zstandard.ZstdDecompressor().decompressobj
    dobj, fed = new(), False  # fed: the current frame has started and not yet ended
    try:
        while chunk := raw.read(_CHUNK):
            data = chunk
            while data:
                out = dobj.decompress(data)
                fed = True
                if out:
                    yield out
                if dobj.eof:  # one frame ended; a file may hold several
                    data = dobj.unused_data
                    dobj, fed = new(), False
                else:
                    data = b""
    except zstandard.ZstdError as e:
        raise DataError(f"{path}: corrupt zstd data ({e})",
                        hint="re-create or re-download the file, or exclude it with --exclude") from None
    if fed:
        raise DataError(f"{path}: truncated zstd file (the last frame is incomplete)",
                        hint="re-create or re-download the file, or exclude it with --exclude")


def _lines(f: InputFile) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based line numbers."""
    rest = b""
    lineno = 0
    for chunk in _byte_chunks(f):
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for line in parts:
            lineno += 1
            if line.strip():
                yield lineno, line
    if rest.strip():
        yield lineno + 1, rest


def _parse_line(line: bytes, text_field: str):
    """Returns (record dict, None) or (None, why it is bad)."""
    try:
        s = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"invalid UTF-8 at byte {e.start}"
    try:
        d = json.loads(s)
    except json.JSONDecodeError as e:
        return None, f"not valid JSON ({e.msg} at column {e.colno})"
    if not isinstance(d, dict):
        return None, "not a JSON object"
    text = d.get(text_field)
    if text is None:
        keys = ", ".join(list(d)[:8]) or "none"
        return None, f"no {text_field!r} field (fields: {keys}); name the text field with --text-field"
    if not isinstance(text, str):
        return None, f"field {text_field!r} is a {type(text).__name__}, not a string"
    for value in (text, d.get(schemas.ID), d.get(schemas.SOURCE), d.get(schemas.LANG)):
        if isinstance(value, str) and not _valid_unicode(value):
            return None, "holds an unpaired surrogate (\\ud800-\\udfff escape), which is not valid Unicode"
    return d, None


def _valid_unicode(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _jsonl(f, text_field, on_bad, batch_rows, want_table, extras_schema):
    index = 0
    batch: list = []
    linenos: list = []
    bad: dict = {}
    for lineno, line in _lines(f):
        rec, why = _parse_line(line, text_field)
        if why is not None:
            if on_bad != "skip":
                raise DataError(f"{f.path}:{lineno}: {why}", hint=BAD_HINT)
            bad[len(batch)] = why
            rec = {text_field: line.decode("utf-8", "replace")}
        batch.append(rec)
        linenos.append(lineno)
        if len(batch) >= batch_rows:
            yield _json_batch(f, index, batch, linenos, bad, text_field, want_table, extras_schema)
            index += len(batch)
            batch, linenos, bad = [], [], {}
    if batch:
        yield _json_batch(f, index, batch, linenos, bad, text_field, want_table, extras_schema)


def _json_batch(f, start, recs, linenos, bad, text_field, want_table, extras_schema) -> ReadBatch:
    texts = [None if i in bad else r[text_field] for i, r in enumerate(recs)]
    ids = [_str_or(r.get(schemas.ID), f"{f.relpath}:{n}") for r, n in zip(recs, linenos)]
    out = ReadBatch(start=start, texts=texts, ids=ids, bad=bad)
    skip = {text_field, *schemas.DOC_COLUMNS}
    if not want_table:
        if any(k not in skip for r in recs for k in r):
            extras = [{k: v for k, v in r.items() if k not in skip} for r in recs]
            try:
                out.extras_schema = pa.Table.from_pylist(extras).schema
            except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError) as e:
                raise DataError(f"{f.path}: lines {linenos[0]}-{linenos[-1]}: extra fields cannot be stored as "
                                f"columns ({e})", hint="give each field one type in every record") from None
        return out
    core = {schemas.TEXT: [r[text_field] for r in recs],
            schemas.ID: ids,
            schemas.LANG: [_str_or(r.get(schemas.LANG), None) for r in recs],
            schemas.SOURCE: [_str_or(r.get(schemas.SOURCE), f.relpath) for r in recs]}
    table = pa.table(core, schema=schemas.DOCS)
    extras = [{k: v for k, v in r.items() if k not in skip} for r in recs]
    try:
        if extras_schema is not None and len(extras_schema):
            ext = pa.Table.from_pylist(extras, schema=extras_schema)
        elif extras_schema is None and any(extras):
            ext = pa.Table.from_pylist(extras)
        else:
            ext = None
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError) as e:
        raise DataError(f"{f.path}: lines {linenos[0]}-{linenos[-1]}: extra fields cannot be stored as columns ({e})",
                        hint="give each field one type in every record") from None
    if ext is not None:
        for name in ext.column_names:
            table = table.append_column(name, ext[name])
    out.table = table
    return out


def _str_or(value, default):
    if value is None:
        return default
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def extras_schema_of(table: pa.Table) -> pa.Schema:
    """The schema of the non-core columns of a documents table."""
    return pa.schema([fld for fld in table.schema if fld.name not in schemas.DOC_COLUMNS])


# ------------------------------------------------------------------------------------------ Parquet, Arrow
def _record_batches(f: InputFile, batch_rows: int) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    hint = "re-create or re-download the file, or exclude it with --exclude"
    try:
        if f.format == "parquet":
            pf = pq.ParquetFile(f.path)
            yield pf.schema_arrow
            yield from pf.iter_batches(batch_size=batch_rows)
        else:
            source = pa.memory_map(f.path)
            try:
                reader = pa.ipc.open_file(source)
                yield reader.schema
                for i in range(reader.num_record_batches):
                    yield reader.get_batch(i)
            except pa.ArrowInvalid:
                source = pa.memory_map(f.path)
                stream = pa.ipc.open_stream(source)
                yield stream.schema
                yield from stream
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{f.path}: not a readable {f.format} file ({e})", hint=hint) from None


def _tabular(f, text_field, on_bad, batch_rows, want_table, extras_schema):
    batches = _record_batches(f, batch_rows)
    schema = next(batches)
    if text_field not in schema.names:
        raise DataError(f"{f.path}: no column {text_field!r} (columns: {', '.join(schema.names)})",
                        hint="name the text column with --text-field")
    start = 0
    for rb in batches:
        if rb.num_rows == 0:
            continue
        yield _table_batch(f, start, rb, text_field, on_bad, want_table)
        start += rb.num_rows


def _table_batch(f, start, rb: pa.RecordBatch, text_field, on_bad, want_table) -> ReadBatch:
    col = rb.column(text_field)
    texts, bad = _column_texts(col)
    for i, why in bad.items():
        if on_bad != "skip":
            raise DataError(f"{f.path}: row {start + i}: {why}", hint=BAD_HINT)
    n = rb.num_rows
    ids = _string_column(rb, schemas.ID, [f"{f.relpath}#{start + i}" for i in range(n)])
    out = ReadBatch(start=start, texts=texts, ids=ids, bad=bad)
    if not want_table:
        return out
    core = {schemas.TEXT: [t if t is not None else "" for t in texts],
            schemas.ID: ids,
            schemas.LANG: _string_column(rb, schemas.LANG, [None] * n),
            schemas.SOURCE: _string_column(rb, schemas.SOURCE, [f.relpath] * n)}
    table = pa.table(core, schema=schemas.DOCS)
    for name in rb.schema.names:
        if name not in schemas.DOC_COLUMNS and name != text_field:
            table = table.append_column(name, rb.column(name))
    out.table = table
    return out


def _column_texts(col: pa.Array) -> tuple[list, dict]:
    bad: dict = {}
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
        except UnicodeDecodeError:
            texts = []
            for i in range(len(col)):
                try:
                    texts.append(col[i].as_py())
                except UnicodeDecodeError as e:
                    texts.append(None)
                    bad[i] = f"invalid UTF-8 at byte {e.start}"
    else:
        raise DataError(f"the text column has type {col.type}, not string",
                        hint="point --text-field at a string column")
    for i, t in enumerate(texts):
        if t is None and i not in bad:
            bad[i] = "text is null"
    return texts, bad


def _string_column(rb: pa.RecordBatch, name: str, default: list) -> list:
    if name not in rb.schema.names:
        return default
    col = rb.column(name)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    return [d if v is None else v for v, d in zip(col.to_pylist(), default)]
