"""ShardWriter, atomic JSON and manifest writes, temp-file cleanup, fingerprints, and reading shards back."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pytest

from gecko_cli import schemas
from gecko_cli.errors import DataError
from gecko_cli.shards import (
    MANIFEST,
    ShardInfo,
    ShardWriter,
    fingerprint,
    iter_shard_batches,
    open_shard,
    read_manifest,
    remove_temp_files,
    shard_name,
    write_bytes_atomic,
    write_json_atomic,
    write_manifest,
)


def docs_table(n: int, start: int = 0) -> pa.Table:
    return pa.table({
        "text": [f"문서 {i} " + "word " * (i % 7) for i in range(start, start + n)],
        "id": [f"d{i}" for i in range(start, start + n)],
        "lang": ["ko" if i % 2 else None for i in range(start, start + n)],
        "source": ["test"] * n,
        "extra": list(range(start, start + n)),
    }, schema=schemas.DOCS.append(pa.field("extra", pa.int64())))


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


def test_shard_names():
    assert shard_name(0) == "shard-00000.arrow"
    assert shard_name(42) == "shard-00042.arrow"
    assert shard_name(123456) == "shard-123456.arrow"


def test_writes_a_zstd_arrow_ipc_file(tmp_path):
    table = docs_table(10)
    w = ShardWriter(str(tmp_path), 3, table.schema)
    w.write(table.slice(0, 4))
    w.write(table.slice(4).to_batches()[0])  # record batches too
    w.write(table.slice(0, 0))  # empty writes add nothing
    info = w.close()
    assert info == ShardInfo("shard-00003.arrow", 10, os.path.getsize(tmp_path / "shard-00003.arrow"))
    assert info.as_dict() == {"name": "shard-00003.arrow", "rows": 10, "bytes": info.bytes}
    assert listing(tmp_path) == ["shard-00003.arrow"]
    with pa.memory_map(str(tmp_path / "shard-00003.arrow")) as source:
        assert source.read(6) == b"ARROW1"  # the IPC file format, not the stream format
        source.seek(0)
        reader = pa.ipc.open_file(source)
        assert reader.schema == table.schema
        assert reader.num_record_batches == 2
        assert reader.read_all().equals(table)
    # Compressed buffers are zstd frames, which start with the zstd magic number.
    assert ZSTD_MAGIC in (tmp_path / "shard-00003.arrow").read_bytes()


@pytest.mark.parametrize("threads", [1, 3])
def test_each_write_starts_the_disk_writes_of_the_file_so_far(tmp_path, monkeypatch, threads):
    # sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) after each write: close's fsync then waits for little
    from gecko_cli.shards import writer

    if writer._SYNC_FILE_RANGE is None:
        pytest.skip("no sync_file_range here (Linux only)")
    calls = []
    real = writer._SYNC_FILE_RANGE
    monkeypatch.setattr(writer, "_SYNC_FILE_RANGE", lambda *args: calls.append(args) or real(*args))
    table = docs_table(30)
    w = ShardWriter(str(tmp_path), 0, table.schema, threads=threads)
    w.write(table.slice(0, 10))
    w.write(table.slice(0, 0))  # nothing written, nothing to start
    w.write(table.slice(10))
    fd = w._sink.fileno()
    w.close()
    assert calls == [(fd, 0, 0, 2), (fd, 0, 0, 2)]
    assert open_shard(str(tmp_path / "shard-00000.arrow")).read_all().equals(table)


def test_compression_shrinks_repetitive_text(tmp_path):
    table = pa.table({"text": ["the same sentence again and again. " * 200] * 50})
    with ShardWriter(str(tmp_path), 0, table.schema) as w:
        w.write(table)
    plain = pa.BufferOutputStream()
    with pa.ipc.new_file(plain, table.schema) as raw:
        raw.write_table(table)
    assert os.path.getsize(tmp_path / "shard-00000.arrow") * 20 < plain.getvalue().size
    assert ZSTD_MAGIC not in plain.getvalue().to_pybytes()


def test_no_final_file_until_closed(tmp_path):
    table = docs_table(5)
    w = ShardWriter(str(tmp_path), 0, table.schema)
    w.write(table)
    names = listing(tmp_path)
    assert "shard-00000.arrow" not in names
    assert len(names) == 1 and names[0].startswith("shard-00000.arrow.tmp-")
    w.close()
    assert listing(tmp_path) == ["shard-00000.arrow"]


def test_with_block_closes_on_success(tmp_path):
    table = docs_table(5)
    with ShardWriter(str(tmp_path), 1, table.schema) as w:
        w.write(table)
    assert w.info == ShardInfo("shard-00001.arrow", 5, os.path.getsize(tmp_path / "shard-00001.arrow"))
    assert listing(tmp_path) == ["shard-00001.arrow"]
    assert w.close() == w.info  # closing again is harmless


def test_exception_in_with_block_leaves_nothing(tmp_path):
    table = docs_table(5)
    with pytest.raises(RuntimeError, match="boom"):
        with ShardWriter(str(tmp_path), 0, table.schema) as w:
            w.write(table)
            raise RuntimeError("boom")
    assert listing(tmp_path) == []


def test_exception_in_with_block_keeps_an_older_complete_shard(tmp_path):
    old = docs_table(3)
    with ShardWriter(str(tmp_path), 0, old.schema) as w:
        w.write(old)
    with pytest.raises(KeyboardInterrupt):
        with ShardWriter(str(tmp_path), 0, old.schema) as w:
            w.write(docs_table(9))
            raise KeyboardInterrupt
    assert listing(tmp_path) == ["shard-00000.arrow"]
    assert open_shard(str(tmp_path / "shard-00000.arrow")).read_all().equals(old)


def test_abort_removes_the_partial_file(tmp_path):
    table = docs_table(5)
    w = ShardWriter(str(tmp_path), 0, table.schema)
    w.write(table)
    w.abort()
    assert listing(tmp_path) == []


def test_writing_a_wrong_schema_fails_and_leaves_nothing(tmp_path):
    with pytest.raises(pa.ArrowInvalid):
        with ShardWriter(str(tmp_path), 0, schemas.DOCS) as w:
            w.write(pa.table({"other": [1, 2]}))
    assert listing(tmp_path) == []


def test_write_json_atomic(tmp_path):
    path = str(tmp_path / "x.json")
    write_json_atomic(path, {"b": 1, "a": "한국어"})
    raw = open(path, "rb").read()
    assert raw.endswith(b"\n") and "한국어".encode() in raw  # UTF-8, not \u escapes
    assert list(json.loads(raw)) == ["b", "a"]  # key order as given
    assert listing(tmp_path) == ["x.json"]


def test_failed_json_write_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "x.json")
    write_json_atomic(path, {"v": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"v": object()})
    assert json.load(open(path)) == {"v": 1}
    assert listing(tmp_path) == ["x.json"]


def test_failed_bytes_write_leaves_no_temp_file(tmp_path):
    path = str(tmp_path / "x.bin")
    write_bytes_atomic(path, b"old")
    with pytest.raises(TypeError):
        write_bytes_atomic(path, "not bytes")  # fails after the temp file is opened
    assert open(path, "rb").read() == b"old"
    assert listing(tmp_path) == ["x.bin"]


def test_manifest_is_written_atomically_and_replaces_the_old_one(tmp_path):
    shards = [ShardInfo("shard-00000.arrow", 3, 100).as_dict()]
    path = write_manifest(str(tmp_path), {"stage": "test", "shards": shards})
    assert path == str(tmp_path / MANIFEST)
    assert read_manifest(str(tmp_path)) == {"stage": "test", "shards": shards}
    write_manifest(str(tmp_path), {"stage": "test", "shards": [], "stats": {"n": 1}})
    assert read_manifest(str(tmp_path))["stats"] == {"n": 1}
    assert listing(tmp_path) == [MANIFEST]


def test_remove_temp_files(tmp_path):
    table = docs_table(2)
    with ShardWriter(str(tmp_path), 0, table.schema) as w:
        w.write(table)
    crashed = ShardWriter(str(tmp_path), 1, table.schema)  # as a killed run leaves it
    crashed.write(table)
    (tmp_path / "manifest.json.tmp-99999").write_text("{")
    (tmp_path / "keep.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "shard-00002.arrow.tmp-1").write_text("x")
    remove_temp_files(str(tmp_path))
    assert listing(tmp_path) == ["keep.txt", "shard-00000.arrow", "sub"]
    assert listing(tmp_path / "sub") == ["shard-00002.arrow.tmp-1"]  # not recursive
    crashed.abort()


def test_remove_temp_files_in_folder_with_glob_characters(tmp_path):
    folder = tmp_path / "out[1]*"
    folder.mkdir()
    (folder / "shard-00000.arrow.tmp-5").write_text("x")
    remove_temp_files(str(folder))
    assert listing(folder) == []


def test_fingerprint_is_stable_and_sensitive():
    a = {"settings": {"threshold": 0.8, "seed": 0}, "inputs": [["a.jsonl", 10], ["b.jsonl", 20]]}
    same = {"inputs": [["a.jsonl", 10], ["b.jsonl", 20]], "settings": {"seed": 0, "threshold": 0.8}}
    fp = fingerprint(a)
    assert fp == fingerprint(same)  # key order does not matter
    assert fp == fingerprint(json.loads(json.dumps(a)))
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert fingerprint({"settings": {"threshold": 0.81, "seed": 0}, "inputs": a["inputs"]}) != fp
    assert fingerprint({"settings": a["settings"], "inputs": [["b.jsonl", 20], ["a.jsonl", 10]]}) != fp
    assert fingerprint({"settings": a["settings"], "inputs": [["a.jsonl", 11], ["b.jsonl", 20]]}) != fp
    assert fingerprint({"text": "한국어"}) == fingerprint({"text": "한국어"})


def test_fingerprint_known_value():
    # Pinned so that a change of the hashing (which would force every user to --overwrite) is noticed.
    assert fingerprint({"a": 1, "b": [1, "x"]}) == "677ba3966fe15b48"


# --------------------------------------------------------------------------------------- reading folders back
def _write_folder(folder, tables: list[pa.Table]) -> dict:
    shards = []
    for i, t in enumerate(tables):
        with ShardWriter(str(folder), i, t.schema) as w:
            w.write(t)
        shards.append(w.info.as_dict())
    manifest = {"stage": "test", "shards": shards}
    write_manifest(str(folder), manifest)
    return manifest


def test_iter_shard_batches_in_manifest_order(tmp_path):
    tables = [docs_table(3), docs_table(4, start=3)]
    _write_folder(tmp_path, tables)
    got = list(iter_shard_batches(str(tmp_path)))
    assert [name for name, _ in got] == ["shard-00000.arrow", "shard-00001.arrow"]
    assert pa.Table.from_batches([b for _, b in got]).equals(pa.concat_tables(tables))


def test_read_manifest_errors(tmp_path):
    with pytest.raises(DataError, match="is not a folder"):
        read_manifest(str(tmp_path / "nope"))
    with pytest.raises(DataError, match="has no manifest.json"):
        read_manifest(str(tmp_path))
    for content, match in [("{", "unreadable manifest"), ("[]", "not a gecko manifest"),
                           ('{"stage": "x"}', "not a gecko manifest"), ('{"shards": 3}', "not a gecko manifest"),
                           ('{"shards": [], "stats": 5}', "'stats' is not an object"),
                           ('{"shards": [{"name": "a"}]}', "bad shard entry"),
                           ('{"shards": [{"name": "a", "rows": "1", "bytes": 2}]}', "bad shard entry")]:
        (tmp_path / MANIFEST).write_text(content)
        with pytest.raises(DataError, match=match) as info:
            read_manifest(str(tmp_path))
        assert "--overwrite" in info.value.hint


def test_open_shard_errors(tmp_path):
    with pytest.raises(DataError, match="not a readable Arrow shard"):
        open_shard(str(tmp_path / "missing.arrow"))
    (tmp_path / "bad.arrow").write_bytes(b"ARROW1\0\0garbage")
    with pytest.raises(DataError, match="bad.arrow: not a readable Arrow shard"):
        open_shard(str(tmp_path / "bad.arrow"))


@pytest.mark.parametrize("where", [0.3, 0.8])
def test_iter_shard_batches_on_a_damaged_shard(tmp_path, where):
    table = pa.table({"text": [f"row {i}" * 10 for i in range(2000)]})
    _write_folder(tmp_path, [table])
    path = tmp_path / "shard-00000.arrow"
    data = bytearray(path.read_bytes())
    at = int(len(data) * where)
    data[at: at + 16] = b"\x00" * 16
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="shard-00000.arrow: record batch 0 is damaged"):
        for _ in iter_shard_batches(str(tmp_path)):
            pass


def test_iter_shard_batches_checks_rows_against_the_manifest(tmp_path):
    manifest = _write_folder(tmp_path, [docs_table(3)])
    manifest["shards"][0]["rows"] = 4
    with pytest.raises(DataError, match="holds 3 rows, but manifest.json lists 4"):
        list(iter_shard_batches(str(tmp_path), manifest))
