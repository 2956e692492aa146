"""Readers of the five input formats: content, ids, --text-field, batching, bad records and corrupt files."""

from __future__ import annotations

import gzip
import json
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from gecko_cli import schemas
from gecko_cli.errors import DataError
from gecko_cli.shards import discover, extras_schema_of, iter_records, tabular

FORMATS = ["jsonl", "jsonl.gz", "jsonl.zst", "parquet", "arrow"]
JSON_FORMATS = ["jsonl", "jsonl.gz", "jsonl.zst"]
TABLE_FORMATS = ["parquet", "arrow", "arrow-stream"]


# ----------------------------------------------------------------------------------------------- helpers
def compress(data: bytes, fmt: str) -> bytes:
    if fmt == "jsonl.zst":
        return zstandard.ZstdCompressor().compress(data)
    if fmt == "jsonl.gz":
        return gzip.compress(data, mtime=0)
    return data


def write_bytes(path: str, data: bytes) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def jsonl_bytes(docs: list[dict]) -> bytes:
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode("utf-8")


def write_table(path: str, table: pa.Table, kind: str, batch_rows: int | None = None) -> str:
    """Write a table as parquet, an Arrow IPC file ("arrow") or an Arrow IPC stream ("arrow-stream")."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if kind == "parquet":
        pq.write_table(table, path, row_group_size=batch_rows)
        return path
    batches = table.to_batches(max_chunksize=batch_rows)
    with pa.OSFile(path, "wb") as sink:
        new = pa.ipc.new_file if kind == "arrow" else pa.ipc.new_stream
        with new(sink, table.schema) as writer:
            for rb in batches:
                writer.write_batch(rb)
    return path


def suffix(fmt: str) -> str:
    return "arrow" if fmt.startswith("arrow") else fmt


def write_docs(folder, fmt: str, docs: list[dict], name: str = "data", batch_rows: int | None = None):
    """Write documents in one format and return the InputFile that discovery gives for it."""
    path = os.path.join(str(folder), f"{name}.{suffix(fmt)}")
    if fmt in JSON_FORMATS:
        write_bytes(path, compress(jsonl_bytes(docs), fmt))
    else:
        write_table(path, pa.Table.from_pylist(docs), fmt, batch_rows)
    (f,) = discover(path)
    return f


def only_file(root):
    (f,) = discover(str(root))
    return f


def read_all(f, **kw):
    """Everything a file's batches hold, checking that batches are contiguous and within batch_rows."""
    texts, ids, bad, tables = [], [], {}, []
    expected_start = 0
    for batch in iter_records(f, **kw):
        assert batch.start == expected_start
        assert 0 < len(batch) <= kw.get("batch_rows", 4096)
        assert len(batch.ids) == len(batch)
        texts += batch.texts
        ids += batch.ids
        bad.update({batch.start + i: why for i, why in batch.bad.items()})
        if batch.table is not None:
            assert batch.table.num_rows == len(batch)
            tables.append(batch.table)
        expected_start += len(batch)
    return texts, ids, bad, tables


DOCS = [
    {"text": "첫 번째 문서입니다.", "id": "doc-0", "lang": "ko", "source": "wiki", "score": 0.5, "n": 1},
    {"text": "Second document.\nWith two lines.", "id": "doc-1", "lang": "en", "source": "web", "score": 1.5,
     "n": 2},
    {"text": "def f():\n    return '\\u00e9'  # é 😀", "id": "doc-2", "lang": "code", "source": "github",
     "score": -2.0, "n": 3},
    {"text": "", "id": "doc-3", "lang": None, "source": "web", "score": 0.0, "n": 4},
]


# --------------------------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("fmt", FORMATS + ["arrow-stream"])
def test_round_trip_core_fields_and_extras(tmp_path, fmt):
    f = write_docs(tmp_path, fmt, DOCS)
    texts, ids, bad, tables = read_all(f, want_table=True)
    assert texts == [d["text"] for d in DOCS]
    assert ids == [d["id"] for d in DOCS]
    assert bad == {}
    table = pa.concat_tables(tables)
    assert table.column_names[:4] == list(schemas.DOC_COLUMNS)
    assert table.schema.field(schemas.TEXT).type == pa.string()
    assert table.to_pylist() == DOCS  # extras (score, n) come through with their values
    assert table.schema.field("score").type == pa.float64()
    assert table.schema.field("n").type == pa.int64()


@pytest.mark.parametrize("fmt", FORMATS)
def test_texts_and_ids_without_table(tmp_path, fmt):
    f = write_docs(tmp_path, fmt, DOCS)
    batches = list(iter_records(f))
    assert all(b.table is None for b in batches)
    assert [t for b in batches for t in b.texts] == [d["text"] for d in DOCS]


@pytest.mark.parametrize("kind", TABLE_FORMATS)
def test_tabular_extra_columns_keep_their_types(tmp_path, kind):
    table = pa.table({
        "score": pa.array([1, 2, 3], pa.int8()),
        "text": ["a", "b", "c"],
        "meta": pa.array([{"url": "u1", "len": 1}, {"url": "u2", "len": 2}, None]),
        "tags": pa.array([["x"], [], ["y", "z"]], pa.list_(pa.string())),
        "ts": pa.array([1, 2, 3], pa.timestamp("ms")),
    })
    write_table(str(tmp_path / ("t.parquet" if kind == "parquet" else "t.arrow")), table, kind)
    f = only_file(tmp_path)
    _, ids, _, tables = read_all(f, want_table=True)
    out = pa.concat_tables(tables)
    assert out.column_names == ["text", "id", "lang", "source", "score", "meta", "tags", "ts"]
    for name in ("score", "meta", "tags", "ts"):
        assert out.schema.field(name).type == table.schema.field(name).type
        assert out[name].to_pylist() == table[name].to_pylist()
    assert out["source"].to_pylist() == [f.relpath] * 3
    assert out["lang"].to_pylist() == [None] * 3
    assert ids == [f"{f.relpath}#{i}" for i in range(3)]


@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_json_extras_nested_and_extras_schema(tmp_path, fmt):
    docs = [{"text": "a", "meta": {"url": "u", "tags": ["x", "y"]}, "n": 1},
            {"text": "b", "meta": {"url": "v", "tags": []}, "n": 2}]
    f = write_docs(tmp_path, fmt, docs)
    (first_pass,) = list(iter_records(f))
    assert first_pass.extras_schema.names == ["meta", "n"]
    (batch,) = list(iter_records(f, want_table=True))
    assert batch.table.column("meta").to_pylist() == [d["meta"] for d in docs]
    assert extras_schema_of(batch.table) == first_pass.extras_schema == batch.table.select(["meta", "n"]).schema


def test_json_extras_schema_gives_every_batch_the_same_columns(tmp_path):
    docs = [{"text": "a", "x": 1}, {"text": "b"}, {"text": "c", "y": "s"}, {"text": "d"}]
    f = write_docs(tmp_path, "jsonl", docs)
    # A first pass collects the extras' types per batch; some batches have none.
    schemas_seen = [b.extras_schema for b in iter_records(f, batch_rows=1)]
    assert [s.names if s is not None else None for s in schemas_seen] == [["x"], None, ["y"], None]
    unified = pa.unify_schemas([s for s in schemas_seen if s is not None])
    tables = [b.table for b in iter_records(f, batch_rows=1, want_table=True, extras_schema=unified)]
    assert all(t.schema == tables[0].schema for t in tables)
    assert pa.concat_tables(tables).select(["x", "y"]).to_pylist() == [
        {"x": 1, "y": None}, {"x": None, "y": None}, {"x": None, "y": "s"}, {"x": None, "y": None}]
    # An empty extras schema means no extra columns at all.
    tables = [b.table for b in iter_records(f, want_table=True, extras_schema=pa.schema([]))]
    assert tables[0].column_names == list(schemas.DOC_COLUMNS)


def test_json_extras_of_mixed_types_name_file_and_lines(tmp_path):
    f = write_docs(tmp_path, "jsonl", [{"text": "a", "x": 1}, {"text": "b", "x": "one"}])
    with pytest.raises(DataError, match=r"data\.jsonl: lines 1-2: extra fields"):
        list(iter_records(f))
    with pytest.raises(DataError, match="extra fields cannot be stored"):
        list(iter_records(f, want_table=True))


def test_json_extras_with_a_huge_integer_is_a_data_error(tmp_path):
    f = write_docs(tmp_path, "jsonl", [{"text": "a", "x": 2**70}])
    with pytest.raises(DataError, match="extra fields cannot be stored"):
        list(iter_records(f))


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_string_core_fields_are_stored_as_strings(tmp_path, fmt):
    f = write_docs(tmp_path, fmt, [{"text": "a", "id": 7, "lang": "en", "source": "s"}])
    _, ids, _, tables = read_all(f, want_table=True)
    assert ids == ["7"]
    assert tables[0].schema.field("id").type == pa.string()


# ----------------------------------------------------------------------------------------------- --text-field
@pytest.mark.parametrize("fmt", FORMATS)
def test_text_field_renames_a_column_to_text(tmp_path, fmt):
    docs = [{"content": "hello", "title": "T1"}, {"content": "world", "title": "T2"}]
    f = write_docs(tmp_path, fmt, docs)
    texts, _, bad, tables = read_all(f, text_field="content", want_table=True)
    assert texts == ["hello", "world"] and bad == {}
    table = pa.concat_tables(tables)
    assert table.column_names == ["text", "id", "lang", "source", "title"]
    assert table["text"].to_pylist() == ["hello", "world"]
    assert table["title"].to_pylist() == ["T1", "T2"]


@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_json_missing_text_field_suggests_text_field(tmp_path, fmt):
    f = write_docs(tmp_path, fmt, [{"content": "hello"}])
    with pytest.raises(DataError) as info:
        list(iter_records(f))
    assert f"{f.path}:1:" in info.value.message
    assert "no 'text' field (fields: content)" in info.value.message
    assert "--text-field" in info.value.message


@pytest.mark.parametrize("kind", TABLE_FORMATS)
def test_tabular_missing_text_column_lists_columns(tmp_path, kind):
    f = write_docs(tmp_path, kind, [{"content": "hello", "n": 1}])
    with pytest.raises(DataError) as info:
        list(iter_records(f))
    assert info.value.message == f"{f.path}: no column 'text' (columns: content, n)"
    assert "--text-field" in info.value.hint


@pytest.mark.parametrize("kind", TABLE_FORMATS)
def test_tabular_text_column_of_wrong_type_names_file(tmp_path, kind):
    f = write_docs(tmp_path, kind, [{"text": 1}, {"text": 2}])
    with pytest.raises(DataError) as info:
        list(iter_records(f))
    assert f.path in info.value.message and "int64" in info.value.message


# -------------------------------------------------------------------------------------------- ids and source
@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_json_ids_from_file_and_line(tmp_path, fmt):
    raw = (b'{"text": "one"}\n'
           b"\n"
           b"   \t \n"
           b'{"text": "two", "source": "mine"}\n'
           b'{"text": "three", "id": "given"}\r\n'
           b"\n"
           b'{"text": "four"}')  # no final newline
    write_bytes(str(tmp_path / "sub" / f"a.{fmt}"), compress(raw, fmt))
    f = only_file(tmp_path)
    assert f.relpath == f"sub/a.{fmt}"
    texts, ids, _, tables = read_all(f, want_table=True)
    assert texts == ["one", "two", "three", "four"]
    assert ids == [f"sub/a.{fmt}:1", f"sub/a.{fmt}:4", "given", f"sub/a.{fmt}:7"]
    assert pa.concat_tables(tables)["source"].to_pylist() == [f.relpath, "mine", f.relpath, f.relpath]


@pytest.mark.parametrize("kind", TABLE_FORMATS)
def test_tabular_ids_from_file_and_row(tmp_path, kind):
    table = pa.table({"text": [f"t{i}" for i in range(5)],
                      "id": ["a", None, "c", None, None],
                      "source": [None, "s", None, None, "t"]})
    write_table(str(tmp_path / "d" / ("x.parquet" if kind == "parquet" else "x.arrow")), table, kind, batch_rows=2)
    f = only_file(tmp_path)
    _, ids, _, tables = read_all(f, batch_rows=3, want_table=True)
    assert ids == ["a", f"{f.relpath}#1", "c", f"{f.relpath}#3", f"{f.relpath}#4"]
    assert pa.concat_tables(tables)["source"].to_pylist() == [f.relpath, "s", f.relpath, f.relpath, "t"]


def test_utf8_byte_order_mark_is_ignored(tmp_path):
    write_bytes(str(tmp_path / "bom.jsonl"), b'\xef\xbb\xbf{"text": "a"}\n{"text": "b"}\n')
    texts, ids, bad, _ = read_all(only_file(tmp_path))
    assert texts == ["a", "b"] and ids == ["bom.jsonl:1", "bom.jsonl:2"] and bad == {}


# ----------------------------------------------------------------------------------------------- batching
def _mixed_docs(n: int) -> list[dict]:
    rng = random.Random(0)
    return [{"text": " ".join(rng.choice(["가", "b", "cc", "ddd"]) for _ in range(rng.randint(1, 9))),
             "k": i} for i in range(n)]


@pytest.mark.parametrize("fmt", FORMATS + ["arrow-stream"])
def test_record_indices_do_not_depend_on_batch_rows(tmp_path, fmt):
    docs = _mixed_docs(23)
    f = write_docs(tmp_path, fmt, docs, batch_rows=5)  # tabular files hold batches / row groups of 5
    reference = read_all(f, batch_rows=1000, want_table=True)
    for batch_rows in (1, 2, 3, 4, 7, 23, 24):
        texts, ids, bad, tables = read_all(f, batch_rows=batch_rows, want_table=True)
        assert (texts, ids, bad) == reference[:3]
        assert pa.concat_tables(tables).equals(pa.concat_tables(reference[3]))
    assert reference[0] == [d["text"] for d in docs]


@pytest.mark.parametrize("fmt", ["arrow", "arrow-stream"])
def test_small_batches_of_an_arrow_file_are_joined_up_to_batch_rows(tmp_path, fmt, monkeypatch):
    docs = _mixed_docs(23)
    f = write_docs(tmp_path, fmt, docs, batch_rows=5)  # batches of 5, 5, 5, 5, 3

    def sizes(batch_rows: int) -> list[int]:
        return [len(b) for b in iter_records(f, batch_rows=batch_rows)]

    assert sizes(12) == [10, 10, 3]  # a third batch of 5 would pass 12 rows
    assert sizes(15) == [15, 8]
    assert sizes(4) == [4, 1, 4, 1, 4, 1, 4, 4]  # cut, and what is left of a batch joined to the next when it fits
    assert sizes(1000) == [23]
    monkeypatch.setattr(tabular, "MERGE_BYTES", 1)  # batches that hold more bytes are not joined
    assert sizes(12) == [5, 5, 5, 5, 3]


@pytest.mark.parametrize("fmt", JSON_FORMATS + TABLE_FORMATS)
def test_bad_record_indices_do_not_depend_on_batch_rows(tmp_path, fmt):
    docs = [{"text": f"t{i}"} for i in range(11)]
    for i in (0, 4, 5, 10):
        docs[i]["text"] = None
    f = write_docs(tmp_path, fmt, docs, batch_rows=3)
    for batch_rows in (1, 2, 4, 100):
        texts, ids, bad, _ = read_all(f, on_bad="skip", batch_rows=batch_rows)
        assert sorted(bad) == [0, 4, 5, 10]
        assert texts == [None if i in bad else f"t{i}" for i in range(11)]
        assert len(ids) == 11


def test_large_ipc_batches_are_cut_to_batch_rows(tmp_path):
    f = write_docs(tmp_path, "arrow", _mixed_docs(100), batch_rows=100)
    assert [len(b) for b in iter_records(f, batch_rows=30)] == [30, 30, 30, 10]


def test_empty_files_have_no_records(tmp_path):
    write_bytes(str(tmp_path / "a.jsonl"), b"")
    write_bytes(str(tmp_path / "b.jsonl"), b"\n\n  \n")
    write_bytes(str(tmp_path / "c.jsonl.zst"), compress(b"", "jsonl.zst"))
    write_bytes(str(tmp_path / "d.jsonl.gz"), compress(b"", "jsonl.gz"))
    write_table(str(tmp_path / "e.parquet"), pa.table({"text": pa.array([], pa.string())}), "parquet")
    write_table(str(tmp_path / "f.arrow"), pa.table({"text": pa.array([], pa.string())}), "arrow")
    for f in discover(str(tmp_path)):
        assert list(iter_records(f)) == [], f.relpath


# ---------------------------------------------------------------------------------------------- bad records
BAD_LINES = [
    (b'{"text": "unterminated', "not valid JSON"),
    (b'{"text": "a",}', "not valid JSON"),
    (b'["text", "a"]', "not a JSON object"),
    (b'"just a string"', "not a JSON object"),
    (b"42", "not a JSON object"),
    (b'{"body": "a"}', "no 'text' field (fields: body)"),
    (b'{"text": 5}', "field 'text' is a int, not a string"),
    (b'{"text": ["a"]}', "field 'text' is a list, not a string"),
    (b'{"text": null}', "field 'text' is null"),
    (b'{"text": "caf\xe9"}', "invalid UTF-8 at byte 13"),
    (b'{"text": "ok \xff\xfe"}', "invalid UTF-8"),
    (b'{"text": "a\\ud800b"}', "unpaired surrogate"),
    (b'{"text": "a\\udc00"}', "unpaired surrogate"),
    (b'{"text": "a", "id": "\\uD83D"}', "unpaired surrogate"),
    (b'{"text": "a", "meta": {"k": ["\\ude00"]}}', "unpaired surrogate"),
    (b'{"text": "a", "\\ud800": 1}', "unpaired surrogate"),
]


def _with_bad_line(bad: bytes) -> bytes:
    return b'{"text": "good 1", "n": 1}\n\n' + bad + b'\n{"text": "good 2", "n": 2}\n'


# ------------------------------------------------------------------------------- lines json cannot fully read
UNREADABLE_LINES = [
    (b'{"text": "a", "x": ' + b"9" * 5000 + b"}", "an integer of more than 4300 digits"),
    (b"[" * 100_000, "nested too deeply"),
    (b'{"text": "a", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
    (b'{"text": "a", "x": ' + b"[" * 64 + b"]" * 64 + b"}", "more than 63 levels deep"),
    (b'{"text": "a", "x": ' + b'{"k": ' * 64 + b"1" + b"}" * 64 + b"}", "more than 63 levels deep"),
    (b'{"x": ' + b"[" * 600 + b'"\\ud800"' + b"]" * 600 + b', "text": "a"}', "unpaired surrogate"),
]


@pytest.mark.parametrize("fmt", JSON_FORMATS)
@pytest.mark.parametrize("line, why", BAD_LINES + UNREADABLE_LINES)
def test_bad_json_record_errors_with_file_and_line(tmp_path, fmt, line, why):
    write_bytes(str(tmp_path / f"x.{fmt}"), compress(_with_bad_line(line), fmt))
    f = only_file(tmp_path)
    with pytest.raises(DataError) as info:
        list(iter_records(f))
    assert info.value.message.startswith(f"{f.path}:3: ")
    assert why in info.value.message
    assert "--on-bad-record skip" in info.value.hint


@pytest.mark.parametrize("fmt", JSON_FORMATS)
@pytest.mark.parametrize("line, why", BAD_LINES)
def test_bad_json_record_skipped_and_flagged(tmp_path, fmt, line, why):
    write_bytes(str(tmp_path / f"x.{fmt}"), compress(_with_bad_line(line), fmt))
    f = only_file(tmp_path)
    texts, ids, bad, tables = read_all(f, on_bad="skip", want_table=True)
    assert texts == ["good 1", None, "good 2"]
    assert list(bad) == [1] and why in bad[1]
    assert ids == [f"x.{fmt}:1", f"x.{fmt}:3", f"x.{fmt}:4"]
    table = pa.concat_tables(tables)
    assert table["text"][1].as_py() == line.decode("utf-8", "replace")  # raw content kept for audit
    assert table["n"].to_pylist() == [1, None, 2]
    (batch,) = list(iter_records(f, on_bad="skip"))  # also without a table
    assert batch.bad == {1: bad[1]}


def test_valid_surrogate_pair_escape_is_fine(tmp_path):
    write_bytes(str(tmp_path / "x.jsonl"), b'{"text": "smile \\ud83d\\ude00", "m": "\\\\ud800"}\n')
    texts, _, bad, tables = read_all(only_file(tmp_path), want_table=True)
    assert texts == ["smile \U0001F600"] and bad == {}
    assert tables[0]["m"].to_pylist() == ["\\ud800"]


def _bad_table(kind: str) -> pa.Table:
    return pa.table({"text": pa.array([b"good 0", None, b"bad \xff", b"good 3", "caf\u00e9".encode()], pa.binary()),
                     "n": [0, 1, 2, 3, 4]})


@pytest.mark.parametrize("kind", TABLE_FORMATS)
@pytest.mark.parametrize("text_type", ["binary", "string"])
def test_tabular_bad_rows_error_with_file_and_row(tmp_path, kind, text_type):
    table = _bad_table(kind)
    if text_type == "string":  # Arrow does not check UTF-8 when reading, so a string column can hold bad bytes
        table = table.set_column(0, "text", table["text"].combine_chunks().view(pa.string()))
    path = write_table(str(tmp_path / ("x.parquet" if kind == "parquet" else "x.arrow")), table, kind)
    f = only_file(tmp_path)
    with pytest.raises(DataError) as info:
        list(iter_records(f))
    assert info.value.message == f"{path}: row 1: text is null"  # the first bad row
    assert "--on-bad-record skip" in info.value.hint
    texts, ids, bad, tables = read_all(f, on_bad="skip", want_table=True, batch_rows=2)
    assert texts == ["good 0", None, None, "good 3", "café"]
    assert bad == {1: "text is null", 2: "invalid UTF-8 at byte 4"}
    assert ids == [f"{f.relpath}#{i}" for i in range(5)]
    assert pa.concat_tables(tables)["n"].to_pylist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("kind", TABLE_FORMATS)
def test_tabular_invalid_utf8_error_names_row(tmp_path, kind):
    table = pa.table({"text": pa.array([b"a", b"b", b"\xc3("], pa.binary())})
    path = write_table(str(tmp_path / ("x.parquet" if kind == "parquet" else "x.arrow")), table, kind)
    with pytest.raises(DataError) as info:
        list(iter_records(only_file(tmp_path), batch_rows=2))
    assert info.value.message == f"{path}: row 2: invalid UTF-8 at byte 0"


def test_tabular_dictionary_text_column(tmp_path):
    table = pa.table({"text": pa.array(["a", "b", "a"]).dictionary_encode()})
    write_table(str(tmp_path / "x.arrow"), table, "arrow")
    assert read_all(only_file(tmp_path))[0] == ["a", "b", "a"]


@pytest.mark.parametrize("column", [
    pa.array(["가나", "b", ""]), pa.array(["가나", "b", ""], pa.large_string()),
    pa.array(["가나", "b", ""]).dictionary_encode(), pa.array(["가나".encode(), b"b", b""], pa.binary())])
def test_tabular_text_column_of_any_string_type_gives_the_same_table(tmp_path, column):
    write_table(str(tmp_path / "x.arrow"), pa.table({"text": column}), "arrow")
    (batch,) = list(iter_records(only_file(tmp_path), want_table=True))
    assert batch.table.schema.field(schemas.TEXT).type == pa.string()
    assert batch.table[schemas.TEXT].to_pylist() == batch.texts == ["가나", "b", ""]


def test_tabular_null_texts_skipped_are_empty_in_the_table(tmp_path):
    write_table(str(tmp_path / "x.arrow"), pa.table({"text": pa.array(["a", None, "c"])}), "arrow")
    (batch,) = list(iter_records(only_file(tmp_path), on_bad="skip", want_table=True))
    assert batch.bad == {1: "text is null"}
    assert batch.table[schemas.TEXT].to_pylist() == ["a", "", "c"]


def test_tabular_id_column_that_cannot_be_a_string(tmp_path):
    table = pa.table({"text": ["a"], "id": pa.array([[1, 2]])})
    path = write_table(str(tmp_path / "x.arrow"), table, "arrow")
    with pytest.raises(DataError, match=f"{path}: column 'id'"):
        list(iter_records(only_file(tmp_path)))


@pytest.mark.parametrize("name", [schemas.ID, schemas.SOURCE, schemas.LANG])
def test_tabular_string_columns_of_invalid_utf8_are_an_error(tmp_path, name):
    # Arrow does not check UTF-8 when reading: string columns that go into the table as they are are checked
    bad = pa.array([b"ok", b"\xc3("], pa.binary()).view(pa.string())
    path = write_table(str(tmp_path / "x.arrow"), pa.table({"text": ["a", "b"], name: bad}), "arrow")
    with pytest.raises(DataError, match=f"{path}: column '{name}'"):
        list(iter_records(only_file(tmp_path), want_table=True))


@pytest.mark.parametrize("nulls", [False, True])
def test_tabular_string_columns_go_into_the_table_as_they_are(tmp_path, nulls):
    ids, sources, langs = ["d0", None if nulls else "d1"], [None if nulls else "s0", "s1"], ["ko", None]
    table = pa.table({"text": ["a", "b"], "id": ids, "source": sources, "lang": langs})
    write_table(str(tmp_path / "x.arrow"), table, "arrow")
    (batch,) = list(iter_records(only_file(tmp_path), want_table=True))
    f = only_file(tmp_path)
    assert batch.ids == batch.table[schemas.ID].to_pylist() == ["d0", f"{f.relpath}#1" if nulls else "d1"]
    assert batch.table[schemas.SOURCE].to_pylist() == [f.relpath if nulls else "s0", "s1"]
    assert batch.table[schemas.LANG].to_pylist() == ["ko", None]
    assert batch.table.schema == schemas.DOCS


# ------------------------------------------------------------------------------------ corrupt or cut files
def _many_docs(n: int = 3000) -> list[dict]:
    rng = random.Random(1)
    words = ["alpha", "beta", "감자", "고구마", "delta", "x = 1", "return", "모래"]
    return [{"text": " ".join(rng.choice(words) for _ in range(30)), "id": f"d{i}"} for i in range(n)]


def _expect_data_error(f, *fragments):
    with pytest.raises(DataError) as info:
        for _ in iter_records(f, on_bad="skip", batch_rows=100):
            pass
    assert f.path in info.value.message
    for fragment in fragments:
        assert fragment in info.value.message
    assert "--exclude" in info.value.hint
    return info.value


@pytest.mark.parametrize("fmt", ["jsonl.zst", "jsonl.gz"])
@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.99])
def test_truncated_compressed_jsonl_raises(tmp_path, fmt, fraction):
    data = compress(jsonl_bytes(_many_docs()), fmt)
    write_bytes(str(tmp_path / f"cut.{fmt}"), data[: int(len(data) * fraction)])
    _expect_data_error(only_file(tmp_path), "truncated")


@pytest.mark.parametrize("fmt", ["jsonl.zst", "jsonl.gz"])
def test_empty_compressed_jsonl_raises_and_empty_plain_jsonl_is_empty(tmp_path, fmt):
    # As the gzip and zstd tools themselves: an empty file holds no compressed data at all, not zero documents.
    write_bytes(str(tmp_path / "c" / f"empty.{fmt}"), b"")
    _expect_data_error(only_file(tmp_path / "c"), "empty file", fmt.rsplit(".", 1)[1])
    write_bytes(str(tmp_path / "p" / "empty.jsonl"), b"")
    assert read_all(only_file(tmp_path / "p"))[0] == []
    write_bytes(str(tmp_path / "z" / f"none.{fmt}"), compress(b"", fmt))  # compressed nothing: zero documents
    assert read_all(only_file(tmp_path / "z"))[0] == []


def test_a_file_that_cannot_be_opened_is_not_called_corrupt(tmp_path, monkeypatch):
    from gecko_cli.shards import jsonl

    f = only_file(write_bytes(str(tmp_path / "a.jsonl.zst"), compress(b'{"text": "x"}\n', "jsonl.zst")))

    def denied(path, mode="r", *args, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(jsonl, "open", denied, raising=False)
    with pytest.raises(DataError) as info:
        list(iter_records(f, on_bad="skip", batch_rows=100))
    assert info.value.message == f"{f.path}: cannot be read (Permission denied)"
    assert "permissions" in info.value.hint


@pytest.mark.parametrize("fmt", ["jsonl.zst", "jsonl.gz"])
def test_garbage_compressed_jsonl_raises(tmp_path, fmt):
    write_bytes(str(tmp_path / f"junk.{fmt}"), random.Random(2).randbytes(5000))
    _expect_data_error(only_file(tmp_path), "corrupt")


@pytest.mark.parametrize("fmt", ["jsonl.zst", "jsonl.gz"])
def test_trailing_garbage_after_compressed_data_raises(tmp_path, fmt):
    data = compress(jsonl_bytes(_many_docs(10)), fmt)
    write_bytes(str(tmp_path / f"junk.{fmt}"), data + b"this is not compressed")
    _expect_data_error(only_file(tmp_path))


@pytest.mark.parametrize("fmt", ["jsonl.zst", "jsonl.gz"])
def test_multi_frame_compressed_jsonl_reads_every_record(tmp_path, fmt):
    docs = _many_docs(300)
    parts = [docs[:1], docs[1:120], docs[120:]]
    frames = b"".join(compress(jsonl_bytes(p), fmt) for p in parts)
    write_bytes(str(tmp_path / f"multi.{fmt}"), frames)
    texts, ids, bad, _ = read_all(only_file(tmp_path), batch_rows=50)
    assert texts == [d["text"] for d in docs]
    assert ids == [d["id"] for d in docs] and bad == {}


def test_zstd_frame_boundary_inside_a_line(tmp_path):
    data = jsonl_bytes(_many_docs(5))
    cut = len(data) // 2 + 3  # the second frame starts in the middle of a JSON line
    write_bytes(str(tmp_path / "split.jsonl.zst"), compress(data[:cut], "jsonl.zst") + compress(data[cut:], "jsonl.zst"))
    texts, ids, _, _ = read_all(only_file(tmp_path))
    assert ids == [f"d{i}" for i in range(5)] and len(texts) == 5


def test_zstd_streamed_frame_without_content_size(tmp_path):
    data = jsonl_bytes(_many_docs(2000))
    cctx = zstandard.ZstdCompressor(write_content_size=False)
    chunker = cctx.compressobj()
    compressed = b"".join(chunker.compress(data[i:i + 7000]) for i in range(0, len(data), 7000)) + chunker.flush()
    write_bytes(str(tmp_path / "s.jsonl.zst"), compressed)
    assert len(read_all(only_file(tmp_path), batch_rows=500)[0]) == 2000
    write_bytes(str(tmp_path / "s.jsonl.zst"), compressed[:-3])
    _expect_data_error(only_file(tmp_path), "truncated")


@pytest.mark.parametrize("how", ["half", "footer", "garbage"])
def test_bad_parquet_raises(tmp_path, how):
    path = write_table(str(tmp_path / "x.parquet"), pa.Table.from_pylist(_many_docs()), "parquet", batch_rows=500)
    data = open(path, "rb").read()
    data = {"half": data[: len(data) // 2], "footer": data[:-10],
            "garbage": random.Random(3).randbytes(len(data))}[how]
    write_bytes(path, data)
    _expect_data_error(only_file(tmp_path), "not a readable parquet file")


def test_parquet_with_corrupt_page_raises(tmp_path):
    path = write_table(str(tmp_path / "x.parquet"), pa.Table.from_pylist(_many_docs()), "parquet", batch_rows=500)
    data = bytearray(open(path, "rb").read())
    middle = len(data) // 2
    data[middle: middle + 64] = random.Random(4).randbytes(64)
    write_bytes(path, bytes(data))
    _expect_data_error(only_file(tmp_path))


@pytest.mark.parametrize("kind", ["arrow", "arrow-stream"])
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_arrow_raises(tmp_path, kind, keep):
    path = write_table(str(tmp_path / "x.arrow"), pa.Table.from_pylist(_many_docs()), kind, batch_rows=500)
    data = open(path, "rb").read()
    write_bytes(path, data[: int(len(data) * keep)])
    _expect_data_error(only_file(tmp_path))


def test_arrow_stream_cut_at_a_batch_boundary_raises(tmp_path):
    table = pa.Table.from_pylist(_many_docs(1000))
    whole = open(write_table(str(tmp_path / "a" / "x.arrow"), table, "arrow-stream", batch_rows=250), "rb").read()
    head = open(write_table(str(tmp_path / "b" / "x.arrow"), table.slice(0, 500), "arrow-stream", batch_rows=250),
                "rb").read()
    eos = b"\xff\xff\xff\xff\x00\x00\x00\x00"
    assert head.endswith(eos) and whole.startswith(head[: -len(eos)])
    write_bytes(str(tmp_path / "c" / "x.arrow"), head[: -len(eos)])  # two whole batches, then nothing
    _expect_data_error(only_file(tmp_path / "c"), "truncated")


@pytest.mark.parametrize("data", [b"", b"ARROW1", b"not arrow at all, just some text\n" * 10])
def test_garbage_arrow_raises(tmp_path, data):
    write_bytes(str(tmp_path / "x.arrow"), data)
    _expect_data_error(only_file(tmp_path))


def test_arrow_file_with_corrupt_batch_raises(tmp_path):
    table = pa.Table.from_pylist(_many_docs())
    path = str(tmp_path / "x.arrow")
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(
            sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table, max_chunksize=500)
    data = bytearray(open(path, "rb").read())
    middle = len(data) // 2
    data[middle: middle + 200] = random.Random(5).randbytes(200)
    write_bytes(path, bytes(data))
    _expect_data_error(only_file(tmp_path))


def test_parquet_with_bad_bytes_in_its_footer_raises(tmp_path):
    path = write_table(str(tmp_path / "x.parquet"), pa.table({"text": ["a"], "zzzzq": [1]}), "parquet")
    data = open(path, "rb").read()
    assert data.count(b"zzzzq") >= 1
    write_bytes(path, data.replace(b"zzzzq", b"\xbc\xbczzq"))  # column names that are not UTF-8
    _expect_data_error(only_file(tmp_path), "not a readable parquet file")


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_a_text_column_beside_another_text_field_is_an_error(tmp_path, suffix):
    import pyarrow.parquet as pq

    docs = [{"content": "the text", "text": "something else"}]
    path = tmp_path / f"a.{suffix}"
    if suffix == "jsonl":
        path.write_text(json.dumps(docs[0]) + "\n")
    else:
        pq.write_table(pa.Table.from_pylist(docs), str(path))
    f = discover(str(tmp_path))[0]
    with pytest.raises(DataError, match="besides the text"):
        list(iter_records(f, text_field="content"))


@pytest.mark.parametrize("want_table", [True, False])
@pytest.mark.parametrize("line, why", UNREADABLE_LINES)
def test_unreadable_json_record_skipped_and_flagged(tmp_path, line, why, want_table):
    write_bytes(str(tmp_path / "x.jsonl"), _with_bad_line(line))
    texts, ids, bad, _ = read_all(only_file(tmp_path), on_bad="skip", want_table=want_table)
    assert texts == ["good 1", None, "good 2"]
    assert list(bad) == [1] and why in bad[1]
    assert ids == ["x.jsonl:1", "x.jsonl:3", "x.jsonl:4"]


def test_extras_nested_as_deep_as_a_column_holds_are_kept(tmp_path):
    deep = 1
    for _ in range(63):
        deep = {"k": deep}
    f = write_docs(tmp_path, "jsonl", [{"text": "a", "x": deep, "id": [[[[]]]] * 40}])
    texts, _, bad, tables = read_all(f, want_table=True)
    assert texts == ["a"] and bad == {}
    assert tables[0]["x"].to_pylist() == [deep]
