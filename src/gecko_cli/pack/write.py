"""Phase 2, per output shard: the rows of a seeded permutation of all packed rows, written as packed shards."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from gecko_cli import schemas
from gecko_cli.dedup.minhash import splitmix64
from gecko_cli.pack.config import PackConfig
from gecko_cli.pack.encode import ROW_LANGS, row_langs
from gecko_cli.pack.work import ROW_META, TokenizerInfo, Work
from gecko_cli.shards import ShardWriter


def permutation(n: int, seed: int) -> np.ndarray:
    """A seeded permutation of n rows, the same on every machine (argsort of splitmix64 hashes)."""
    return np.argsort(splitmix64(seed ^ 0x9ACC, n), kind="stable")


def rows_per_shard(cfg: PackConfig, info: TokenizerInfo) -> int:
    """Rows per output shard: about --shard-size of tokens, a whole number of record batches."""
    per_row = cfg.seq_len * np.dtype(info.dtype).itemsize
    batches = max(1, cfg.shard_bytes // (per_row * cfg.rows_per_batch))
    return int(batches * cfg.rows_per_batch)


def folder_of(cfg: PackConfig, split: str) -> str:
    return cfg.output if split == "train" else os.path.join(cfg.output, split)


def write_shard(cfg: PackConfig, work: Work, info: TokenizerInfo, split: str, shard: int, counts: list[int]) -> None:
    """Write output shard `shard` of `split`: its slice of the permutation, gathered from the work rows."""
    marker = f"{split}-{shard:05d}"
    if work.is_done("write", marker):
        return
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    per = rows_per_shard(cfg, info)
    rows = permutation(int(offsets[-1]), cfg.seed)[shard * per: (shard + 1) * per]
    unit = np.searchsorted(offsets, rows, side="right") - 1
    tokens = np.empty((len(rows), cfg.seq_len), dtype=info.dtype)
    meta = np.empty(len(rows), dtype=ROW_META)
    langs = np.empty(len(rows), dtype=ROW_LANGS)
    parts = []  # per input file: (rows of the shard, where their segments start in its segment file, that file)
    for u in np.unique(unit):
        sel = np.flatnonzero(unit == u)
        local = rows[sel] - offsets[u]
        tokens[sel] = work.rows(split, int(u), cfg.seq_len, info.dtype)[local]
        meta[sel] = work.meta(split, int(u))[local]
        unit_langs, unit_segments = row_langs(work, split, int(u))
        langs[sel] = unit_langs[local]
        first = np.concatenate([[0], np.cumsum(unit_langs["segments"], dtype=np.int64)])
        parts.append((sel, first[local], unit_segments))
    segment_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(langs["segments"], out=segment_offsets[1:])
    segment_langs = np.empty(segment_offsets[-1], dtype=np.uint8)
    for sel, src, unit_segments in parts:
        n = langs["segments"][sel].astype(np.int64)
        segment_langs[_ranges(segment_offsets[sel], n)] = unit_segments[_ranges(src, n)]
    schema = schemas.packed(cfg.seq_len, info.vocab_size)
    flat = pa.array(tokens.reshape(-1), type=schema.field(schemas.TOKENS).type.value_type)
    columns = [pa.FixedSizeListArray.from_arrays(flat, cfg.seq_len), pa.array(meta["used"], pa.int32())]
    columns += [pa.array(meta["lang_tokens"][:, i], pa.int32()) for i in range(len(schemas.LANG_TOKENS))]
    columns.append(pa.array(meta["text_bytes"], pa.int64()))
    columns += [pa.array(langs["lang_bytes"][:, i], pa.int64()) for i in range(len(schemas.LANG_BYTES))]
    columns.append(pa.ListArray.from_arrays(pa.array(segment_offsets, pa.int32()), pa.array(segment_langs, pa.uint8())))
    table = pa.Table.from_arrays(columns, schema=schema)
    folder = folder_of(cfg, split)
    os.makedirs(folder, exist_ok=True)
    with ShardWriter(folder, shard, schema) as w:
        for batch in table.to_batches(max_chunksize=cfg.rows_per_batch):
            w.write(batch)
    work.mark_done("write", marker, w.info.as_dict())


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indices of the ranges [starts[i], starts[i] + lengths[i]), end to end."""
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(ends[-1] if len(ends) else 0)
