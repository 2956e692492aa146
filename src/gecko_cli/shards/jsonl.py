"""Reading JSON-lines input (plain, gzip or zstd): lines in order, parsed a batch at a time."""

from __future__ import annotations

import json
import os
import re
import sys
import zlib
from collections.abc import Iterator

import pyarrow as pa

from gecko_cli import schemas
from gecko_cli.errors import DataError
from gecko_cli.shards.inputs import InputFile
from gecko_cli.shards.records import BAD_HINT, ReadBatch

_CHUNK = 1 << 20
_BOM = b"\xef\xbb\xbf"
# A lone surrogate can only come from a JSON escape (the bytes themselves are checked UTF-8), so only lines
# holding one need the slower check of every string in the record.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# Arrow cannot write a column whose lists and objects nest deeper than this. Only a line holding more opening
# brackets than that can nest so deep, so only such lines need their depth measured.
_MAX_NESTING = 63


def _byte_chunks(f: InputFile) -> Iterator[bytes]:
    hint = "re-create or re-download the file, or exclude it with --exclude"
    try:
        raw = open(f.path, "rb")
    except OSError as e:  # permissions, or a file removed since it was listed: the file itself may be fine
        raise DataError(f"{f.path}: cannot be read ({e.strerror})",
                        hint="fix its permissions, or exclude it with --exclude") from None
    with raw:
        if f.format != "jsonl" and os.fstat(raw.fileno()).st_size == 0:
            # gzip and zstd themselves refuse an empty file ("unexpected end of file"): a write that never ran.
            raise DataError(f"{f.path}: empty file, not {f.format.rsplit('.', 1)[1]} data (truncated to nothing?)",
                            hint=hint)
        try:
            if f.format == "jsonl.zst":
                yield from _zstd_chunks(raw, f.path)
            elif f.format == "jsonl.gz":
                import gzip  # imported here, as zstandard: a run over Arrow shards needs neither

                with gzip.GzipFile(fileobj=raw) as gz:
                    while chunk := gz.read(_CHUNK):
                        yield chunk
            else:
                while chunk := raw.read(_CHUNK):
                    yield chunk
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{f.path}: corrupt or truncated {f.format} file ({e})", hint=hint) from None


def _zstd_chunks(raw, path: str) -> Iterator[bytes]:
    import zstandard

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
    """Non-blank lines with their 1-based line numbers (blank lines are counted, not yielded)."""
    rest = b""
    lineno = 0
    for chunk in _byte_chunks(f):
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for line in parts:
            lineno += 1
            if lineno == 1:
                # Editors on Windows often start UTF-8 files with a byte order mark, which json.loads rejects.
                line = line.removeprefix(_BOM)
            if line.strip():
                yield lineno, line
    if lineno == 0:
        rest = rest.removeprefix(_BOM)
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
    except ValueError:  # the only other one json raises: an integer longer than Python converts
        return None, f"unreadable JSON (an integer of more than {sys.get_int_max_str_digits()} digits)"
    except RecursionError:
        return None, "unreadable JSON (nested too deeply)"
    if not isinstance(d, dict):
        return None, "not a JSON object"
    text = d.get(text_field)
    if text is None:
        if text_field in d:
            return None, f"field {text_field!r} is null, not a string"
        keys = ", ".join(list(d)[:8]) or "none"
        return None, f"no {text_field!r} field (fields: {keys}); name the text field with --text-field"
    if not isinstance(text, str):
        return None, f"field {text_field!r} is a {type(text).__name__}, not a string"
    if _SURROGATE_ESCAPE.search(line) and _has_lone_surrogate(d):
        return None, "holds an unpaired surrogate (\\ud800-\\udfff escape), which is not valid Unicode"
    if _too_deep(line, d, text_field):
        return None, f"a field nests lists or objects more than {_MAX_NESTING} levels deep, which no column can hold"
    return d, None


def _has_lone_surrogate(value) -> bool:
    stack = [value]  # a loop, not recursion: the value may nest as deep as json could read
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _too_deep(line: bytes, record: dict, text_field: str) -> bool:
    """Whether a field other than the document columns nests deeper than a column can hold."""
    if line.count(b"[") + line.count(b"{") <= _MAX_NESTING:
        return False
    skip = {text_field, *schemas.DOC_COLUMNS}
    return any(_depth(v) > _MAX_NESTING for k, v in record.items() if k not in skip)


def _depth(value) -> int:
    """How many lists and objects nest in a JSON value (0 for a string or number)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def read_jsonl(f, text_field, on_bad, batch_rows, want_table, extras_schema):
    """Batches of records of a JSON-lines file (see `iter_records`)."""
    index = 0
    lines: list = []
    linenos: list = []
    for lineno, line in _lines(f):
        lines.append(line)
        linenos.append(lineno)
        if len(lines) >= batch_rows:
            yield _parsed_batch(f, index, lines, linenos, text_field, on_bad, want_table, extras_schema)
            index += len(lines)
            lines, linenos = [], []
    if lines:
        yield _parsed_batch(f, index, lines, linenos, text_field, on_bad, want_table, extras_schema)


def _parsed_batch(f, start, lines, linenos, text_field, on_bad, want_table, extras_schema) -> ReadBatch:
    recs = _parse_all(lines, text_field)
    bad: dict = {}
    if recs is None:  # some line is bad: parse line by line to find it and say why
        recs = []
        for lineno, line in zip(linenos, lines):
            rec, why = _parse_line(line, text_field)
            if why is not None:
                if on_bad != "skip":
                    raise DataError(f"{f.path}:{lineno}: {why}", hint=BAD_HINT)
                bad[len(recs)] = why
                rec = {text_field: line.decode("utf-8", "replace")}
            recs.append(rec)
    if text_field != schemas.TEXT:
        for rec, lineno in zip(recs, linenos):
            if schemas.TEXT in rec:
                raise DataError(f"{f.path}:{lineno}: has a {schemas.TEXT!r} field besides the text field {text_field!r}",
                                hint=f"rename or remove one of them: the output's {schemas.TEXT!r} column is the text")
    return _json_batch(f, start, recs, linenos, bad, text_field, want_table, extras_schema)


def _parse_all(lines: list[bytes], text_field: str) -> list | None:
    """Parse a batch of lines with one call (much faster than one call a line), or None if any is bad."""
    blob = b"[" + b",".join(lines) + b"]"
    if _SURROGATE_ESCAPE.search(blob):
        return None
    try:
        recs = json.loads(blob)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    # A bad line can only pass as part of the array if it splits or joins values: the count shows that.
    if len(recs) != len(lines):
        return None
    for r in recs:
        if type(r) is not dict or type(r.get(text_field)) is not str:
            return None
    if any(_too_deep(line, r, text_field) for line, r in zip(lines, recs)):
        return None
    return recs


def _json_batch(f, start, recs, linenos, bad, text_field, want_table, extras_schema) -> ReadBatch:
    texts = [None if i in bad else r[text_field] for i, r in enumerate(recs)]
    ids = [_str_or(r.get(schemas.ID), f"{f.relpath}:{n}") for r, n in zip(recs, linenos, strict=True)]
    out = ReadBatch(start=start, texts=texts, ids=ids, bad=bad)
    skip = {text_field, *schemas.DOC_COLUMNS}
    if not want_table:
        if any(k not in skip for r in recs for k in r):
            extras = [{k: v for k, v in r.items() if k not in skip} for r in recs]
            try:
                out.extras_schema = pa.Table.from_pylist(extras).schema
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError) as e:
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
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError) as e:
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
