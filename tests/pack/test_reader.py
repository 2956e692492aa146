"""Tests of the packed-rows reader: random access, step-addressed batches, host slices, segments and errors."""

from __future__ import annotations

import logging
import os

import numpy as np
import pyarrow as pa
import pytest

from gecko_cli import schemas
from gecko_cli.errors import ConfigError, DataError
from gecko_cli.pack.reader import PackedDataset, epoch_permutation, segments
from gecko_cli.shards import ShardWriter, read_manifest, write_manifest

SEQ_LEN, VOCAB, BOS, EOS, PAD, PER_BATCH = 16, 300, 1, 2, 0, 4


def make_rows(n: int, rng: np.random.Generator, first_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose first token is a unique id (so a test can tell rows apart), random <s>, padded tails."""
    tokens = rng.integers(3, VOCAB, size=(n, SEQ_LEN), dtype=np.int64)
    tokens[rng.random((n, SEQ_LEN)) < 0.15] = BOS
    tokens[:, 0] = 10 + first_id + np.arange(n)
    used = rng.integers(SEQ_LEN // 2, SEQ_LEN + 1, size=n).astype(np.int32)
    tokens[np.arange(SEQ_LEN)[None, :] >= used[:, None]] = PAD
    return tokens, used


def expected_langs(tokens: np.ndarray, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The languages `packed_table` writes: segment s of a row whose first token is t is in language (t + s) % 4
    (so -1 on padding), and the row's bytes by language are t * (1, 2, 3, 4)."""
    segment_ids, _, loss_mask = segments(tokens, used, BOS)
    langs = np.where(loss_mask, (tokens[:, :1] + segment_ids) % 4, -1).astype(np.int8)
    return langs, tokens[:, :1].astype(np.int64) * np.arange(1, 5)


def packed_table(tokens: np.ndarray, used: np.ndarray, legacy: bool = False) -> pa.Table:
    """The rows as a packed table; `legacy`: without the language columns, as folders packed before them."""
    schema = schemas.packed(SEQ_LEN, VOCAB)
    n = len(used)
    flat = pa.array(tokens.reshape(-1), type=schemas.token_type(VOCAB))
    cols = {schemas.TOKENS: pa.FixedSizeListArray.from_arrays(flat, SEQ_LEN), schemas.USED: pa.array(used)}
    cols |= {name: pa.array(np.zeros(n, np.int32)) for name in schemas.LANG_TOKENS}
    cols[schemas.TEXT_BYTES] = pa.array(tokens[:, 0].astype(np.int64) * 10)
    if legacy:
        return pa.table(cols, schema=pa.schema([schema.field(name) for name in cols]))
    segment_ids, _, _ = segments(tokens, used, BOS)
    lang_bytes = expected_langs(tokens, used)[1]
    cols |= {name: pa.array(lang_bytes[:, i]) for i, name in enumerate(schemas.LANG_BYTES)}
    cols[schemas.SEGMENT_LANGS] = pa.array([[(int(t) + s) % 4 for s in range(1, int(k) + 1)]
                                            for t, k in zip(tokens[:, 0], segment_ids.max(axis=1))], pa.list_(pa.uint8()))
    return pa.table(cols, schema=schema)


def write_packed(folder: str, tokens: np.ndarray, used: np.ndarray, shard_rows: list[int],
                 splits: dict | None = None, legacy: bool = False, table: pa.Table | None = None,
                 **manifest_extra) -> None:
    """A packed folder: shards of `shard_rows` rows, each written as record batches of PER_BATCH rows."""
    os.makedirs(folder, exist_ok=True)
    table, start, shards = table if table is not None else packed_table(tokens, used, legacy), 0, []
    for index, rows in enumerate(shard_rows):
        with ShardWriter(folder, index, table.schema) as writer:
            for offset in range(start, start + rows, PER_BATCH):
                writer.write(table.slice(offset, min(PER_BATCH, start + rows - offset)).combine_chunks())
        shards.append(writer.info.as_dict())
        start += rows
    manifest = {"stage": "pack", "schema": "packed", "shards": shards, "seq_len": SEQ_LEN, "vocab_size": VOCAB,
                "bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "rows_per_batch": PER_BATCH, "splits": splits or {}}
    write_manifest(folder, manifest | manifest_extra)


@pytest.fixture
def packed(tmp_path):
    """A packed folder of 30 rows over 3 shards (13, 8, 9 rows: short last batches), with a 6-row val split."""
    rng = np.random.default_rng(0)
    tokens, used = make_rows(30, rng)
    folder = str(tmp_path / "packed")
    write_packed(os.path.join(folder, "val"), *make_rows(6, rng, first_id=1000), [6])
    write_packed(folder, tokens, used, [13, 8, 9], splits={"val": "val"})
    return folder, tokens, used


def test_rows_returns_what_was_written(packed):
    folder, tokens, used = packed
    ds = PackedDataset(folder)
    assert (ds.num_rows, ds.seq_len, ds.bos_id, ds.pad_id) == (30, SEQ_LEN, BOS, PAD)
    rng = np.random.default_rng(1)
    for idx in (np.arange(30), rng.permutation(30), rng.integers(0, 30, size=50), np.array([29, 0, 29, 29, 13])):
        got_tokens, got_used = ds.rows(idx)
        assert got_tokens.dtype == np.int32 and got_tokens.shape == (len(idx), SEQ_LEN)
        np.testing.assert_array_equal(got_tokens, tokens[idx])
        np.testing.assert_array_equal(got_used, used[idx])
    assert ds.rows(np.array([], dtype=np.int64))[0].shape == (0, SEQ_LEN)
    with pytest.raises(IndexError):
        ds.rows(np.array([30]))


def test_rows_decodes_only_the_batches_it_needs(packed, monkeypatch):
    folder, tokens, _ = packed
    ds = PackedDataset(folder)
    ds.cache_batches = 2
    decoded = []
    original = ds._decoded.__func__

    def spy(self, b):
        if b not in self._cache:
            decoded.append(b)
        return original(self, b)

    monkeypatch.setattr(PackedDataset, "_decoded", spy)
    np.testing.assert_array_equal(ds.rows(np.array([14, 13, 15]))[0], tokens[[14, 13, 15]])
    assert decoded == [4]  # shard 1 starts at row 13: its first batch is global batch 4
    ds.rows(np.array([13, 0, 29]))
    assert decoded == [4, 0, 8]
    assert len(ds._cache) == 2


def test_val_split(packed):
    folder, _, _ = packed
    val = PackedDataset(folder, split="val")
    assert val.num_rows == 6
    np.testing.assert_array_equal(val.rows(np.arange(6))[0][:, 0], 1010 + np.arange(6))


def test_permutation_is_fixed_arithmetic():
    perm = epoch_permutation(1000, seed=7, epoch=3)
    assert sorted(perm.tolist()) == list(range(1000))
    np.testing.assert_array_equal(perm, epoch_permutation(1000, seed=7, epoch=3))
    assert not np.array_equal(perm, epoch_permutation(1000, seed=7, epoch=4))
    assert not np.array_equal(perm, epoch_permutation(1000, seed=8, epoch=3))
    # Pinned: a change here would silently reorder the data of every resumed run.
    assert epoch_permutation(8, seed=0, epoch=0).tolist() == [6, 7, 1, 2, 0, 5, 3, 4]
    for seed, epoch in ((0, 0), (2**64 + 5, 1), (-1, 7)):
        np.testing.assert_array_equal(epoch_permutation(50, seed, epoch), reference_permutation(50, seed, epoch))


def reference_permutation(n: int, seed: int, epoch: int) -> list[int]:
    """The documented definition in plain Python integers: rows sorted by the SplitMix64 stream of a key."""
    mask, golden = (1 << 64) - 1, 0x9E3779B97F4A7C15

    def mix(z: int) -> int:
        z &= mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    key = mix(mix(seed + golden) + epoch)
    return sorted(range(n), key=lambda row: (mix(key + (row + 1) * golden), row))


def test_batch_is_a_pure_function_of_seed_and_step(packed):
    folder, _, _ = packed
    a, b = PackedDataset(folder), PackedDataset(folder)
    forward = [a.batch(s, 8, seed=3).tokens for s in range(10)]
    for s in (9, 2, 7, 0, 5):
        np.testing.assert_array_equal(b.batch(s, 8, seed=3).tokens, forward[s])
    assert not np.array_equal(a.batch(0, 8, seed=4).tokens, forward[0])
    batch = a.batch(4, 8, seed=3)
    assert (batch.step, batch.epoch) == (4, a.epoch_of(4, 8)) == (4, 1)
    assert batch.tokens.dtype == batch.segment_ids.dtype == batch.positions.dtype == np.int32
    assert batch.loss_mask.dtype == bool


def test_permutation_is_computed_once_per_epoch(packed, monkeypatch):
    from gecko_cli.pack import reader

    folder, _, _ = packed
    calls = []

    def counting(num_rows, seed, epoch):
        calls.append(epoch)
        return epoch_permutation(num_rows, seed, epoch)

    monkeypatch.setattr(reader, "epoch_permutation", counting)
    ds = PackedDataset(folder)
    for step in range(8):  # 8 rows a step over 30 rows: step 3 straddles epochs 0 and 1
        ds.batch(step, 8, seed=0)
    assert calls == [0, 1, 2]


def test_every_row_once_per_epoch_and_epochs_differ(packed):
    folder, tokens, _ = packed
    ds = PackedDataset(folder)
    # 7 rows a step over 30 rows: batches straddle epoch boundaries.
    stream = np.concatenate([ds.batch(s, 7, seed=11).tokens[:, 0] for s in range(13)])
    first_ids = tokens[:, 0]
    epochs = [stream[e * 30:(e + 1) * 30] for e in range(3)]
    for epoch in epochs:
        assert sorted(epoch.tolist()) == sorted(first_ids.tolist())
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])


def test_batch_larger_than_the_dataset(packed):
    folder, _, _ = packed
    ds = PackedDataset(folder)
    ids = ds.batch(1, 70, seed=0).tokens[:, 0]  # rows 70..139: the end of epoch 2, all of 3, part of 4
    assert len(ids) == 70 and ds.epoch_of(1, 70) == 2
    assert sorted(ids[20:50].tolist()) == sorted(range(10, 40))


def test_host_slices_concatenate_to_the_global_batch(packed):
    folder, _, _ = packed
    ds = PackedDataset(folder)
    for step in (0, 3, 8):
        whole = ds.batch(step, 12, seed=5)
        parts = [PackedDataset(folder).batch(step, 12, seed=5, host_index=h, num_hosts=4) for h in range(4)]
        for field in ("tokens", "segment_ids", "positions", "loss_mask"):
            np.testing.assert_array_equal(np.concatenate([getattr(p, field) for p in parts]), getattr(whole, field))
        assert {p.epoch for p in parts} == {whole.epoch}
    with pytest.raises(ConfigError, match="split evenly over 5 hosts") as info:
        ds.batch(0, 12, seed=5, host_index=0, num_hosts=5)
    assert "multiple of 5" in info.value.hint
    with pytest.raises(ConfigError):
        ds.batch(0, 12, seed=5, host_index=4, num_hosts=4)
    with pytest.raises(ConfigError):
        ds.batch(-1, 12, seed=5)


def test_new_epoch_is_logged(packed, caplog):
    folder, _, _ = packed
    ds = PackedDataset(folder)
    logger = logging.getLogger("gecko")
    with caplog.at_level(logging.INFO, logger="gecko"):
        logger.propagate, old = True, logger.propagate
        try:
            ds.batch(0, 8, seed=0)
            ds.batch(2, 8, seed=0)
            assert "epoch" not in caplog.text
            ds.batch(3, 8, seed=0)  # rows 24..31 cross row 30
        finally:
            logger.propagate = old
    assert "epoch 1 begins at step 3" in caplog.text


def test_segments_on_hand_made_rows():
    tokens = np.array([
        [7, 8, BOS, 5, 6, BOS, 9, PAD],       # continuation, then two documents, then padding
        [BOS, 5, 6, 7, BOS, 8, 9, 4],         # two whole documents, no padding
        [BOS, 5, PAD, PAD, PAD, PAD, PAD, PAD],
        [PAD] * 8,                            # empty row
    ])
    used = np.array([7, 8, 2, 0])
    segment_ids, positions, loss_mask = segments(tokens, used, BOS)
    np.testing.assert_array_equal(segment_ids, [
        [1, 1, 2, 2, 2, 3, 3, 0],
        [1, 1, 1, 1, 2, 2, 2, 2],
        [1, 1, 0, 0, 0, 0, 0, 0],
        [0] * 8,
    ])
    np.testing.assert_array_equal(positions, [
        [0, 1, 0, 1, 2, 0, 1, 0],
        [0, 1, 2, 3, 0, 1, 2, 3],
        [0, 1, 0, 0, 0, 0, 0, 0],
        [0] * 8,
    ])
    np.testing.assert_array_equal(loss_mask, np.arange(8)[None, :] < used[:, None])
    assert segment_ids.dtype == positions.dtype == np.int32 and loss_mask.dtype == bool


def test_segments_start_after_eos():
    # Best-fit puts the rest of a cut document (no <s>) after another document's </s>: a segment of its own.
    tokens = np.array([[BOS, 5, EOS, 7, 8, EOS, BOS, 9, EOS, PAD],
                       [7, EOS, BOS, EOS, BOS, 5, EOS, EOS, EOS, EOS]])
    used = np.array([9, 6])
    segment_ids, positions, _ = segments(tokens, used, BOS, EOS)
    np.testing.assert_array_equal(segment_ids, [[1, 1, 1, 2, 2, 2, 3, 3, 3, 0], [1, 1, 2, 2, 3, 3, 0, 0, 0, 0]])
    np.testing.assert_array_equal(positions, [[0, 1, 2, 0, 1, 2, 0, 1, 2, 0], [0, 1, 0, 1, 0, 1, 0, 0, 0, 0]])
    without, _, _ = segments(tokens, used, BOS)
    np.testing.assert_array_equal(without, [[1, 1, 1, 1, 1, 1, 2, 2, 2, 0], [1, 1, 2, 2, 3, 3, 0, 0, 0, 0]])


def test_segments_ignore_pad_equal_to_bos():
    # A <s> id in the padding (pad_id == bos_id) must not open a segment.
    segment_ids, positions, _ = segments(np.array([[BOS, 4, BOS, BOS]]), np.array([2]), BOS)
    assert segment_ids.tolist() == [[1, 1, 0, 0]] and positions.tolist() == [[0, 1, 0, 0]]


def test_errors(packed, tmp_path):
    folder, tokens, used = packed
    with pytest.raises(DataError, match="no manifest.json"):
        PackedDataset(str(tmp_path))
    with pytest.raises(DataError, match="no 'test' split") as info:
        PackedDataset(folder, split="test")
    assert info.value.hint
    docs = str(tmp_path / "docs")
    os.makedirs(docs)
    write_manifest(docs, {"schema": "docs", "shards": []})
    with pytest.raises(DataError, match="not packed rows"):
        PackedDataset(docs)
    no_val = str(tmp_path / "no_val")
    write_packed(no_val, tokens[:4], used[:4], [4])
    with pytest.raises(DataError, match="no 'val' split"):
        PackedDataset(no_val, split="val")


@pytest.mark.parametrize("listed", [12, 14, 11])
def test_shard_rows_differ_from_manifest(packed, listed):
    folder, _, _ = packed
    manifest = read_manifest(folder)
    manifest["shards"][0]["rows"] = listed  # it holds 13
    write_manifest(folder, manifest)
    with pytest.raises(DataError, match=f"lists {listed}") as info:
        PackedDataset(folder)
    assert "shard-00000.arrow" in str(info.value) and info.value.hint


def test_other_batch_layout_is_read(tmp_path):
    # A shard whose record batches are not rows_per_batch rows each is still read right (by a full scan).
    rng = np.random.default_rng(2)
    tokens, used = make_rows(10, rng)
    folder = str(tmp_path / "odd")
    write_packed(folder, tokens, used, [10], rows_per_batch=3)
    ds = PackedDataset(folder)
    np.testing.assert_array_equal(ds.rows(np.arange(10)[::-1])[0], tokens[::-1])


def test_schema_mismatch(packed):
    folder, _, _ = packed
    manifest = read_manifest(folder)
    manifest["seq_len"] = SEQ_LEN * 2
    write_manifest(folder, manifest)
    with pytest.raises(DataError, match="expected fixed_size_list"):
        PackedDataset(folder)


def test_batches_carry_each_tokens_language(packed):
    folder, tokens, used = packed
    ds = PackedDataset(folder)
    assert ds.has_langs
    want_langs, want_bytes = expected_langs(tokens, used)
    for step in range(6):  # 7 rows a step: batches straddle epochs, rows come from every record batch
        batch = ds.batch(step, 7, seed=2)
        idx = [int(np.flatnonzero(tokens[:, 0] == t)[0]) for t in batch.tokens[:, 0]]
        assert batch.langs.dtype == np.int8 and batch.lang_bytes.dtype == np.int64
        np.testing.assert_array_equal(batch.langs, want_langs[idx])
        np.testing.assert_array_equal(batch.lang_bytes, want_bytes[idx])
    got_langs, got_bytes = ds.row_languages(np.array([29, 0, 13, 13]))
    np.testing.assert_array_equal(got_langs, want_langs[[29, 0, 13, 13]])
    np.testing.assert_array_equal(got_bytes, want_bytes[[29, 0, 13, 13]])


def test_sequential_batch_reads_rows_in_stored_order(packed):
    folder, tokens, used = packed
    ds = PackedDataset(folder)
    want_langs, want_bytes = expected_langs(tokens, used)
    sweep = [ds.sequential_batch(start, min(8, 30 - start)) for start in range(0, 30, 8)]
    assert [len(b.tokens) for b in sweep] == [8, 8, 8, 6]
    assert {(b.step, b.epoch) for b in sweep} == {(-1, 0)}
    np.testing.assert_array_equal(np.concatenate([b.tokens for b in sweep]), tokens)
    np.testing.assert_array_equal(np.concatenate([b.langs for b in sweep]), want_langs)
    np.testing.assert_array_equal(np.concatenate([b.lang_bytes for b in sweep]), want_bytes)
    segment_ids, positions, loss_mask = segments(tokens, used, BOS)
    np.testing.assert_array_equal(np.concatenate([b.segment_ids for b in sweep]), segment_ids)
    np.testing.assert_array_equal(np.concatenate([b.positions for b in sweep]), positions)
    np.testing.assert_array_equal(np.concatenate([b.loss_mask for b in sweep]), loss_mask)
    assert ds.sequential_batch(30, 0).tokens.shape == (0, SEQ_LEN)
    for start, rows in ((-1, 2), (29, 2), (0, -1)):
        with pytest.raises(IndexError):
            ds.sequential_batch(start, rows)
    val = PackedDataset(folder, split="val")
    np.testing.assert_array_equal(val.sequential_batch(2, 3).tokens[:, 0], 1012 + np.arange(3))


def test_languages_turned_off(packed):
    folder, tokens, used = packed
    ds = PackedDataset(folder, languages=False)
    assert not ds.has_langs and ds.row_languages(np.arange(3)) is None
    batch, full = ds.batch(2, 8, seed=1), PackedDataset(folder).batch(2, 8, seed=1)
    assert batch.langs is None and batch.lang_bytes is None and full.langs is not None
    for field in ("tokens", "segment_ids", "positions", "loss_mask"):
        np.testing.assert_array_equal(getattr(batch, field), getattr(full, field))
    np.testing.assert_array_equal(ds.rows(np.arange(30))[1], used)


def test_folder_packed_without_language_columns(tmp_path):
    rng = np.random.default_rng(3)
    tokens, used = make_rows(10, rng)
    folder = str(tmp_path / "legacy")
    write_packed(folder, tokens, used, [6, 4], legacy=True)
    ds = PackedDataset(folder)
    assert not ds.has_langs and ds.row_languages(np.arange(3)) is None
    batch = ds.batch(1, 4, seed=0)
    assert batch.langs is None and batch.lang_bytes is None
    np.testing.assert_array_equal(ds.rows(np.arange(10))[0], tokens)
    sweep = ds.sequential_batch(2, 5)
    np.testing.assert_array_equal(sweep.tokens, tokens[2:7])
    assert sweep.langs is None and sweep.lang_bytes is None


def test_segment_langs_that_disagree_with_the_rows(tmp_path):
    rng = np.random.default_rng(4)
    tokens, used = make_rows(8, rng)
    table = packed_table(tokens, used)
    segment_langs = table[schemas.SEGMENT_LANGS].to_pylist()
    for change in (lambda x: x[:-1], lambda x: x + [0]):  # one segment language too few, one too many
        rows = [change(x) if i == 5 else x for i, x in enumerate(segment_langs)]
        bad = table.set_column(table.schema.get_field_index(schemas.SEGMENT_LANGS), schemas.SEGMENT_LANGS,
                               pa.array(rows, pa.list_(pa.uint8())))
        folder = str(tmp_path / f"bad{len(rows[5])}")
        write_packed(folder, tokens, used, [8], table=bad)
        ds = PackedDataset(folder)
        np.testing.assert_array_equal(ds.rows(np.arange(8))[0], tokens)  # tokens still read
        ds.sequential_batch(0, 5)  # rows without the damage
        with pytest.raises(DataError, match="segment_langs"):
            ds.sequential_batch(4, 2)
    too_many = [x + [0] * SEQ_LEN if i == 1 else x for i, x in enumerate(segment_langs)]
    bad = table.set_column(table.schema.get_field_index(schemas.SEGMENT_LANGS), schemas.SEGMENT_LANGS,
                           pa.array(too_many, pa.list_(pa.uint8())))
    write_packed(str(tmp_path / "long"), tokens, used, [8], table=bad)
    with pytest.raises(DataError, match="more segment languages"):
        PackedDataset(str(tmp_path / "long")).batch(0, 8, seed=0)


def test_language_column_of_another_type(tmp_path):
    rng = np.random.default_rng(5)
    tokens, used = make_rows(4, rng)
    table = packed_table(tokens, used)
    index = table.schema.get_field_index(schemas.LANG_BYTES[0])
    table = table.set_column(index, schemas.LANG_BYTES[0], table[schemas.LANG_BYTES[0]].cast(pa.int32()))
    write_packed(str(tmp_path / "odd"), tokens, used, [4], table=table)
    with pytest.raises(DataError, match="text_bytes_ko"):
        PackedDataset(str(tmp_path / "odd"))
