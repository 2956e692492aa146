"""ParallelFileWriter: the same file as pyarrow's IPC file writer, byte for byte, with batches compressed on threads."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pyarrow as pa
import pytest

from gecko_cli.shards import ShardWriter, open_shard
from gecko_cli.shards.ipc import ParallelFileWriter, has_dictionary


def reference(schema: pa.Schema, batches: list[pa.RecordBatch], compression: str | None = "zstd") -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema, options=pa.ipc.IpcWriteOptions(compression=compression)) as w:
        for b in batches:
            w.write_batch(b)
    return sink.getvalue().to_pybytes()


def parallel(schema: pa.Schema, batches: list[pa.RecordBatch], threads: int, compression: str | None = "zstd") -> bytes:
    sink = pa.BufferOutputStream()
    w = ParallelFileWriter(sink, schema, pa.ipc.IpcWriteOptions(compression=compression), threads)
    for b in batches:
        w.write_batch(b)
    w.close()
    return sink.getvalue().to_pybytes()


def docs_batches(n_batches: int, rows: int, seed: int = 0) -> list[pa.RecordBatch]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_batches):
        n = int(rng.integers(0, rows + 1))
        texts = ["".join(rng.choice(list("abc 가나다\n"), int(rng.integers(0, 200)))) if rng.random() > 0.1 else None
                 for _ in range(n)]
        out.append(pa.record_batch({
            "text": pa.array(texts, pa.string()),
            "id": pa.array([f"{k}-{i}" for i in range(n)]),
            "n": pa.array(rng.integers(-9, 9, n), pa.int64()),
            "tags": pa.array([[str(j) for j in range(i % 4)] for i in range(n)], pa.list_(pa.string())),
            "pos": pa.array([{"x": i, "y": float(i) / 3} for i in range(n)],
                            pa.struct([("x", pa.int32()), ("y", pa.float64())])),
        }))
    return out


@pytest.mark.parametrize("threads", [2, 3, 8])
@pytest.mark.parametrize("n_batches", [0, 1, 2, 7, 40])
def test_same_bytes_as_pyarrow(threads, n_batches):
    batches = docs_batches(n_batches, 300, seed=n_batches)
    schema = batches[0].schema if batches else docs_batches(1, 1)[0].schema
    want = reference(schema, batches)
    assert parallel(schema, batches, threads) == want
    assert pa.ipc.open_file(pa.py_buffer(want)).read_all().equals(pa.Table.from_batches(batches, schema))


@pytest.mark.parametrize("compression", ["zstd", "lz4", None])
def test_same_bytes_with_every_codec_and_schema_metadata(compression):
    batches = [b.replace_schema_metadata({"gecko": "yes", "k": "v"}) for b in docs_batches(5, 500, seed=1)]
    schema = batches[0].schema
    assert schema.metadata
    assert parallel(schema, batches, 2, compression) == reference(schema, batches, compression)


def test_same_bytes_with_empty_batches_and_long_texts():
    schema = pa.schema([("text", pa.string())])
    big = pa.record_batch({"text": ["x" * 1_000_000, "y" * 3, None]}, schema=schema)
    batches = [big, big.slice(0, 0), big.slice(1), big.slice(0, 0)]
    assert parallel(schema, batches, 2) == reference(schema, batches)


def test_batches_are_compressed_on_several_threads(monkeypatch):
    seen = set()
    encode = ParallelFileWriter._encode

    def spy(self, batch):
        seen.add(threading.get_ident())
        return encode(self, batch)

    monkeypatch.setattr(ParallelFileWriter, "_encode", spy)
    batches = docs_batches(30, 200)
    assert parallel(batches[0].schema, batches, 3) == reference(batches[0].schema, batches)
    assert threading.get_ident() not in seen and len(seen) >= 2


def test_has_dictionary_finds_nested_dictionaries():
    dictionary = pa.dictionary(pa.int8(), pa.string())
    assert has_dictionary(pa.schema([("a", dictionary)]))
    assert has_dictionary(pa.schema([("a", pa.list_(pa.struct([("b", dictionary)])))]))
    assert not has_dictionary(pa.schema([("a", pa.list_(pa.struct([("b", pa.string())]))), ("c", pa.int8())]))
    with pytest.raises(ValueError, match="dictionary"):
        ParallelFileWriter(pa.BufferOutputStream(), pa.schema([("a", dictionary)]), pa.ipc.IpcWriteOptions(), 2)


def test_a_batch_of_another_schema_fails_at_once():
    batches = docs_batches(2, 10)
    w = ParallelFileWriter(pa.BufferOutputStream(), batches[0].schema, pa.ipc.IpcWriteOptions(compression="zstd"), 2)
    w.write_batch(batches[0])
    with pytest.raises(pa.ArrowInvalid, match="different schema"):
        w.write_batch(pa.record_batch({"other": [1, 2]}))
    w.cancel()


@pytest.mark.parametrize("dictionary", [False, True])
def test_shard_writer_with_threads_writes_the_same_shard(tmp_path, dictionary):
    batches = docs_batches(9, 400, seed=3)
    if dictionary:  # dictionaries are written by pyarrow's own writer: the same file
        batches = [b.append_column("d", pa.array(["a", "b"] * (b.num_rows // 2) + ["a"] * (b.num_rows % 2))
                                   .dictionary_encode()) for b in batches]
    schema = batches[0].schema
    for threads, folder in ((1, tmp_path / "one"), (4, tmp_path / "four")):
        folder.mkdir()
        with ShardWriter(str(folder), 0, schema, threads=threads) as w:
            for b in batches:
                w.write(b)
        assert w.info.rows == sum(b.num_rows for b in batches)
    assert (tmp_path / "one" / "shard-00000.arrow").read_bytes() == (tmp_path / "four" / "shard-00000.arrow").read_bytes()
    assert open_shard(str(tmp_path / "four" / "shard-00000.arrow")).read_all().equals(pa.Table.from_batches(batches))


def test_shard_writer_with_threads_leaves_nothing_on_failure(tmp_path):
    batches = docs_batches(4, 100)
    with pytest.raises(RuntimeError, match="boom"):
        with ShardWriter(str(tmp_path), 0, batches[0].schema, threads=2) as w:
            for b in batches:
                w.write(b)
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    with pytest.raises(pa.ArrowInvalid):
        with ShardWriter(str(tmp_path), 0, batches[0].schema, threads=2) as w:
            w.write(batches[0])
            w.write(pa.table({"other": [1, 2]}))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_batches_made_on_the_threads_give_the_same_shard(tmp_path, threads):
    batches = docs_batches(12, 300, seed=5)
    made_on = set()

    def make(b):
        made_on.add(threading.get_ident())
        return b

    with ShardWriter(str(tmp_path), 0, batches[0].schema, threads=threads) as w:
        for b in batches:
            w.write_made(lambda b=b: make(b), b.num_rows)
    assert w.info.rows == sum(b.num_rows for b in batches)
    assert (tmp_path / "shard-00000.arrow").read_bytes() == reference(batches[0].schema, [b for b in batches if b.num_rows])
    assert (threading.get_ident() in made_on) == (threads == 1)


def test_memory_of_a_made_batch_is_free_again_threads_plus_one_batches_later():
    # write_made's promise: when batch k is made, batch k - (threads + 1) is written, so its memory can be used
    # again. Each batch is made in one of threads + 1 buffers, in turn, and checked as it is encoded.
    threads, n = 3, 40
    buffers = [np.zeros(1000, np.int64) for _ in range(threads + 1)]
    schema = pa.schema([("x", pa.int64())])
    written = []

    def make(k):
        buf = buffers[k % len(buffers)]
        buf[:] = k
        return pa.record_batch([pa.array(buf.copy())], schema=schema)

    sink = pa.BufferOutputStream()
    w = ParallelFileWriter(sink, schema, pa.ipc.IpcWriteOptions(compression="zstd", use_threads=False), threads)
    encode = w._encode

    def check_then_encode(batch):
        k = batch.column(0)[0].as_py()
        if k % 5 == 0:
            time.sleep(0.01)  # later batches go ahead on the other threads
        assert (buffers[k % len(buffers)] == k).all()  # not yet taken by a later batch
        written.append(k)
        return encode(batch)

    w._encode = check_then_encode
    for k in range(n):
        w.write_made(lambda k=k: make(k))
    w.close()
    table = pa.ipc.open_file(sink.getvalue()).read_all()
    assert sorted(written) == list(range(n))
    assert table.column(0).to_pylist() == [k for k in range(n) for _ in range(1000)]


def test_a_failing_or_miscounted_made_batch_leaves_nothing(tmp_path):
    batches = docs_batches(4, 100, seed=6)

    def boom():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        with ShardWriter(str(tmp_path), 0, batches[0].schema, threads=2) as w:
            w.write_made(lambda: batches[0], batches[0].num_rows)
            w.write_made(boom, 5)
            for b in batches:
                w.write_made(lambda b=b: b, b.num_rows)
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="announced"):
        with ShardWriter(str(tmp_path), 0, batches[0].schema, threads=2) as w:
            w.write_made(lambda: batches[1], batches[1].num_rows + 1)
    assert os.listdir(tmp_path) == []
