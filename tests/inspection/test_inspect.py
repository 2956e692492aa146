"""inspect_folder: totals, schema and samples of a finished folder; clear errors for broken ones."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

from gecko_cli import schemas
from gecko_cli.errors import DataError
from gecko_cli.inspection.run import inspect_folder
from gecko_cli.shards import MANIFEST, ShardWriter, write_manifest


def docs(n: int, start: int = 0) -> pa.Table:
    return pa.table({
        "id": [f"d{i}" for i in range(start, start + n)],
        "text": [f"text of document {i}" for i in range(start, start + n)],
        "lang": ["en"] * n,
        "source": ["s"] * n,
        "tags": [[i] * (i % 40) for i in range(start, start + n)],
    })


def make_folder(folder, tables: list[pa.Table], batch_rows: int = 2, stats: dict | None = None) -> dict:
    os.makedirs(folder, exist_ok=True)
    shards = []
    for i, table in enumerate(tables):
        with ShardWriter(str(folder), i, table.schema) as w:
            for rb in table.to_batches(max_chunksize=batch_rows):
                w.write(rb)
        shards.append(w.info.as_dict())
    manifest = {"stage": "dedup", "gecko_version": "0.0.test", "schema": "docs", "shards": shards,
                "stats": stats or {}}
    write_manifest(str(folder), manifest)
    return manifest


def test_inspect_a_finished_folder(tmp_path):
    manifest = make_folder(tmp_path, [docs(5), docs(4, start=5)])
    info = inspect_folder(str(tmp_path), samples=3)
    assert info.path == str(tmp_path)
    assert info.manifest == manifest
    assert info.rows == 9
    assert info.bytes == sum(os.path.getsize(tmp_path / s["name"]) for s in manifest["shards"])
    assert info.schema == [("id", "string"), ("text", "string"), ("lang", "string"), ("source", "string"),
                           ("tags", "list<item: int64>")]
    # Three rows from the first shard, across its batches of two, with the text first.
    assert [s["id"] for s in info.samples] == ["d0", "d1", "d2"]
    assert all(list(s)[0] == schemas.TEXT for s in info.samples)
    assert info.samples[1] == {"text": "text of document 1", "id": "d1", "lang": "en", "source": "s", "tags": [1]}


@pytest.mark.parametrize("samples, expected", [(0, 0), (1, 1), (5, 5), (50, 5)])
def test_number_of_samples(tmp_path, samples, expected):
    make_folder(tmp_path, [docs(5), docs(5, start=5)])
    assert len(inspect_folder(str(tmp_path), samples=samples).samples) == expected


def test_long_values_are_shortened(tmp_path):
    table = pa.table({"text": ["가" * 1000, "short"], "tags": [list(range(100)), [1]]})
    make_folder(tmp_path, [table])
    first, second = inspect_folder(str(tmp_path), samples=2, max_chars=10).samples
    assert first["text"] == "가" * 10 + "... (1,000 characters)"
    assert first["tags"].startswith(str(list(range(32)))[:-1]) and first["tags"].endswith("(100 items)")
    assert second == {"text": "short", "tags": [1]}


def test_folder_with_no_shards(tmp_path):
    make_folder(tmp_path, [])
    info = inspect_folder(str(tmp_path))
    assert (info.rows, info.bytes, info.schema, info.samples) == (0, 0, [], [])


def test_missing_shard_is_a_data_error(tmp_path):
    make_folder(tmp_path, [docs(2), docs(2, start=2)])
    os.remove(tmp_path / "shard-00001.arrow")
    with pytest.raises(DataError) as info:
        inspect_folder(str(tmp_path))
    assert "shard-00001.arrow is listed in the manifest but missing" in info.value.message
    assert str(tmp_path) in info.value.message
    assert "--overwrite" in info.value.hint


def test_shard_changed_after_the_manifest_is_a_data_error(tmp_path):
    make_folder(tmp_path, [docs(2), docs(2, start=2)])
    other = docs(50)
    with ShardWriter(str(tmp_path), 1, other.schema) as w:  # replaced by another run's shard
        w.write(other)
    with pytest.raises(DataError, match="shard-00001.arrow: .* bytes, but the manifest lists"):
        inspect_folder(str(tmp_path))


def test_damaged_first_shard_is_a_data_error(tmp_path):
    make_folder(tmp_path, [pa.table({"text": [f"row {i}" * 10 for i in range(2000)]})], batch_rows=2000)
    path = tmp_path / "shard-00000.arrow"
    data = bytearray(path.read_bytes())
    at = len(data) // 3
    data[at: at + 16] = b"\x00" * 16
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="shard-00000.arrow"):
        inspect_folder(str(tmp_path))


def test_folder_without_manifest(tmp_path):
    with pytest.raises(DataError) as info:
        inspect_folder(str(tmp_path))
    assert info.value.message == f"{tmp_path} has no {MANIFEST}: it is not a finished gecko output"


def test_not_a_folder(tmp_path):
    (tmp_path / "file.jsonl").write_text("{}")
    with pytest.raises(DataError, match="is not a folder"):
        inspect_folder(str(tmp_path / "file.jsonl"))
