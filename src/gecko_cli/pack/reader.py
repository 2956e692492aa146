"""Reading packed rows for training: random access by row, and batches that are a pure function of the step.

The training stream is an infinite run of epochs. Epoch e visits every row once, in the order of a permutation
that depends only on (seed, e): rows sorted by a SplitMix64 hash of (seed, e, row), which is plain 64-bit
integer arithmetic, so every host and every numpy version computes the same order. Global position
p = step * global_batch + i reads row perm_{p // num_rows}[p % num_rows]. A batch is therefore a function of
(seed, step, global_batch) alone: resuming at step s needs no iterator state, and each host reads only its own
slice of the global batch.

Rows are read through the shard footers: a random row costs decompressing the one small record batch
(`rows_per_batch` rows) that holds it, never a whole shard; the last few decoded batches are kept (LRU).

Folders packed with `segment_langs` and `text_bytes_<lang>` also give each token's language and each row's text
bytes per language (for bits per byte by language); folders packed before those columns existed read as before,
without them.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from gecko_cli import schemas
from gecko_cli.console import log
from gecko_cli.errors import ConfigError, DataError
from gecko_cli.shards import MANIFEST, check_hosts, open_shard, read_batch, read_manifest

_PACK_HINT = "run `gecko pack` (again, with --overwrite) to write this folder"
_REQUIRED_INTS = ("seq_len", "vocab_size", "bos_id", "pad_id", "rows_per_batch")

# SplitMix64 (Steele, Lea and Flood 2014): the golden-ratio increment and the two multipliers of its finalizer.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1


@dataclass
class Batch:
    """One host's slice of a global training batch (or rows read in order: step -1)."""

    tokens: np.ndarray       # (rows, seq_len) int32
    segment_ids: np.ndarray  # (rows, seq_len) int32: 1, 2, 3... one per document (or piece of one) in the row; 0 on padding
    positions: np.ndarray    # (rows, seq_len) int32: position within the segment, 0 at each segment start
    loss_mask: np.ndarray    # (rows, seq_len) bool: False on padding
    epoch: int               # epoch of the global batch's first row (the same on every host)
    step: int
    # (rows, seq_len) int8 language of each token's document, an index into schemas.PACKED_LANGS (0 ko, 1 en,
    # 2 code, 3 other); -1 on padding. None unless the dataset's has_langs (a folder packed without the language
    # columns, or opened with languages=False).
    langs: np.ndarray | None = None
    # (rows, 4) int64 UTF-8 text bytes each row covers, by language (columns as in PACKED_LANGS); they add up to
    # the row's `text_bytes`. None unless has_langs.
    lang_bytes: np.ndarray | None = None


class _Decoded(NamedTuple):
    """One decoded record batch of n rows."""

    tokens: np.ndarray                 # (n, seq_len) ids in the stored width
    # (n,) int32 real tokens; with the language columns (n, 7) int64: real tokens, text bytes by language (4),
    # where the row's languages start in segment_langs and how many there are.
    meta: np.ndarray
    segment_langs: np.ndarray | None  # int8 languages of the batch's segments, rows in order


#: Columns of _Decoded.meta with the language columns: real tokens, bytes by language, first segment, segments.
_META_WIDTH = 3 + len(schemas.PACKED_LANGS)


def _mix64(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finalizer, elementwise on uint64 (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * _MUL1
    z = (z ^ (z >> np.uint64(27))) * _MUL2
    return z ^ (z >> np.uint64(31))


def _mix_int(x: int) -> int:
    """The SplitMix64 finalizer on one Python int, taken modulo 2**64."""
    return int(_mix64(np.array([x & _MASK64], dtype=np.uint64))[0])


def epoch_permutation(num_rows: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which epoch `epoch` visits rows 0..num_rows-1.

    Args:
        num_rows: rows in the dataset.
        seed: the run's seed (any Python int; taken modulo 2**64).
        epoch: the epoch, from 0.

    Returns:
        An int64 permutation of 0..num_rows-1: rows sorted by the SplitMix64 stream of a key made from
        (seed, epoch). It uses only 64-bit integer arithmetic, so it is the same on every machine.
    """
    key = _mix_int(_mix_int(seed + int(_GOLDEN)) + epoch)
    counters = np.arange(1, num_rows + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        hashes = _mix64(np.uint64(key) + counters * _GOLDEN)
    return np.argsort(hashes, kind="stable")  # stable: the (improbable) ties break by row, everywhere


def segments(tokens: np.ndarray, used: np.ndarray, bos_id: int,
             eos_id: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment ids, positions and loss mask of packed rows.

    A segment starts at the start of each row, at each <s> (`bos_id`) and, given `eos_id`, right after each </s>:
    the tokens before a row's first <s> continue a document cut at the end of an earlier row, and the tokens after
    a </s> that are not a new document are the rest of a document cut over rows (best-fit packs such a rest in
    any row with room for it); each is a segment of its own.

    Args:
        tokens: (rows, seq_len) token ids.
        used: (rows,) how many leading tokens of each row are real; the rest is padding.
        bos_id: the id of <s>.
        eos_id: the id of </s>, or None (segments start at <s> and row starts only).

    Returns:
        (segment_ids, positions, loss_mask): int32 segment ids from 1 in each row (0 on padding), int32
        positions restarting at 0 at each segment start (0 on padding), and a bool mask, False on padding.
    """
    rows, seq_len = tokens.shape
    index = np.arange(seq_len, dtype=np.int32)
    loss_mask = index[None, :] < np.asarray(used, dtype=np.int32)[:, None]  # (rows, seq_len)
    starts = (tokens == bos_id) & loss_mask
    if eos_id is not None and seq_len > 1:
        # Starts in the padding would only count padding, which the mask zeroes below: no need to mask these.
        starts[:, 1:] |= tokens[:, :-1] == eos_id
    if seq_len:
        starts[:, 0] = loss_mask[:, 0]
    segment_ids = np.cumsum(starts, axis=1, dtype=np.int32)
    segment_ids *= loss_mask
    last_start = np.maximum.accumulate(np.where(starts, index[None, :], 0), axis=1)
    positions = (index[None, :] - last_start).astype(np.int32, copy=False)
    positions *= loss_mask
    return segment_ids, positions, loss_mask


def _lang_table(first: np.ndarray, counts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rows' segment languages as a table that segment ids index.

    Args:
        first: (n,) where each row's segment languages start in `values`.
        counts: (n,) how many there are.
        values: int8 segment languages.

    Returns:
        (n, max(counts) + 1) int8: row i is [-1, its segment languages..., -1, ...], so that column s holds the
        language of segment s (ids from 1) and column 0 that of padding (segment id 0).
    """
    n = len(counts)
    table = np.full((n, int(counts.max(initial=0)) + 1), -1, dtype=np.int8)
    ends = np.cumsum(counts)
    cols = np.arange(1, int(ends[-1]) + 1 if n else 1, dtype=np.int64) - np.repeat(ends - counts, counts)
    table[np.repeat(np.arange(n), counts), cols] = values[np.repeat(first, counts) + cols - 1]
    return table


def _token_langs(segment_ids: np.ndarray, used: np.ndarray, counts: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Each token's language: its row of the language table (see `_lang_table`) indexed by its segment id.

    Raises DataError when a row does not have as many segments as it has segment languages.
    """
    rows, width = table.shape
    here = np.arange(rows)
    last = segment_ids[here, np.maximum(used - 1, 0)] * (used > 0)  # segments in each row
    if np.any(last != counts):
        bad = int(np.flatnonzero(last != counts)[0])
        raise DataError(f"a row has {int(last[bad])} segments but {int(counts[bad])} values in its "
                        f"{schemas.SEGMENT_LANGS!r} column", hint=_PACK_HINT)
    index_type = np.int32 if rows * width < 2**31 else np.int64
    index = segment_ids.astype(index_type, copy=False) + (here.astype(index_type) * width)[:, None]
    return table.reshape(-1)[index]


class PackedDataset:
    """The packed rows of a `gecko pack` output folder (or of one of its splits).

    Attributes:
        num_rows: rows in this split.
        seq_len: tokens per row.
        bos_id: the id of <s>, which starts each document.
        eos_id: the id of </s>, which ends each document (None when the manifest does not name it).
        pad_id: the id that fills a row after its `used` tokens.
        has_langs: whether batches carry each token's language and each row's bytes by language: the shards
            hold `segment_langs` and `text_bytes_<lang>` (folders packed before those columns existed do not),
            and they were not turned off.
        manifest: the split's manifest.
    """

    #: Decoded record batches kept in memory (LRU); each is rows_per_batch * seq_len token ids.
    cache_batches = 64

    def __init__(self, folder: str, split: str = "train", languages: bool = True):
        """Open a packed folder and index its record batches (reads one small batch per shard).

        Args:
            folder: the output folder of `gecko pack`.
            split: "train" reads the folder itself; another name (like "val") reads the subfolder that the
                manifest's `splits` names for it.
            languages: read the language columns when the shards have them; False reads only tokens and
                `used` (each record batch then costs about half as much to decode), and batches carry no
                languages.
        """
        path, manifest = _split_manifest(folder, split)
        self.folder, self.manifest = path, manifest
        self.seq_len: int = manifest["seq_len"]
        self.bos_id: int = manifest["bos_id"]
        eos_id = manifest.get("eos_id")
        self.eos_id: int | None = eos_id if isinstance(eos_id, int) and not isinstance(eos_id, bool) else None
        self.pad_id: int = manifest["pad_id"]
        self.rows_per_batch: int = manifest["rows_per_batch"]
        self._paths: list[str] = []
        self._readers: list[pa.ipc.RecordBatchFileReader] = []
        counts, shard_of, index_in_shard, with_langs = [], [], [], []
        for shard in manifest["shards"]:
            shard_path = os.path.join(path, shard["name"])
            reader = open_shard(shard_path)
            with_langs.append(self._check_schema(reader, shard_path))
            sizes = self._batch_sizes(reader, shard_path, shard["rows"])
            shard_of += [len(self._readers)] * len(sizes)
            index_in_shard += range(len(sizes))
            counts += sizes
            self._paths.append(shard_path)
            self._readers.append(reader)
        self._batch_rows = np.asarray(counts, dtype=np.int64)
        self._batch_start = np.concatenate([[0], np.cumsum(self._batch_rows)]).astype(np.int64)
        self._batch_shard = np.asarray(shard_of, dtype=np.int64)
        self._batch_index = np.asarray(index_in_shard, dtype=np.int64)
        self.num_rows: int = int(self._batch_start[-1])
        if self.num_rows == 0:
            raise DataError(f"{path}: the packed split {split!r} holds no rows", hint=_PACK_HINT)
        self.has_langs: bool = languages and all(with_langs)
        # Decode only the columns read: each column of a record batch costs its own decompression.
        wanted = (schemas.TOKENS, schemas.USED, *((schemas.SEGMENT_LANGS, *schemas.LANG_BYTES) if self.has_langs else ()))
        self._readers = [_open_columns(p, r.schema, wanted) for p, r in zip(self._paths, self._readers)]
        self._cache: OrderedDict[int, _Decoded] = OrderedDict()
        self._perms: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

    def _check_schema(self, reader: pa.ipc.RecordBatchFileReader, path: str) -> bool:
        """Check the columns the reader needs; returns whether the shard holds the language columns."""
        expected = schemas.packed(self.seq_len, self.manifest["vocab_size"])
        lang_columns = (schemas.SEGMENT_LANGS, *schemas.LANG_BYTES)
        has_langs = all(name in reader.schema.names for name in lang_columns)
        for name in (schemas.TOKENS, schemas.USED, *(lang_columns if has_langs else ())):
            want = expected.field(name).type
            found = reader.schema.field(name).type if name in reader.schema.names else None
            if found != want:
                raise DataError(f"{path}: column {name!r} is {found or 'missing'}, expected {want} "
                                f"(seq_len {self.seq_len}, vocab_size {self.manifest['vocab_size']} in {MANIFEST})",
                                hint=_PACK_HINT)
        return has_langs

    def _batch_sizes(self, reader: pa.ipc.RecordBatchFileReader, path: str, rows: int) -> list[int]:
        """Rows of each record batch of a shard, checked against the manifest's count.

        Every batch but the last holds rows_per_batch rows, so the footer's batch count and the last batch
        (one small read) settle the layout; each other batch is checked when it is first decoded. A shard
        written with another layout is read whole once to learn its batch sizes.
        """
        per, n = self.rows_per_batch, reader.num_record_batches
        if n == -(-rows // per):
            sizes = [per] * n
            if n:
                sizes[-1] = rows - per * (n - 1)
                if read_batch(reader, path, n - 1).num_rows == sizes[-1]:
                    return sizes
        sizes = [read_batch(reader, path, i).num_rows for i in range(n)]
        if sum(sizes) != rows:
            raise DataError(f"{path}: holds {sum(sizes)} rows, but {MANIFEST} lists {rows}",
                            hint="rerun `gecko pack` with --overwrite")
        return sizes

    def _decoded(self, b: int) -> _Decoded:
        """Record batch `b` (global index), decoded; with its languages when has_langs."""
        hit = self._cache.get(b)
        if hit is not None:
            self._cache.move_to_end(b)
            return hit
        shard = int(self._batch_shard[b])
        path = self._paths[shard]
        rb = read_batch(self._readers[shard], path, int(self._batch_index[b]))
        if rb.num_rows != self._batch_rows[b]:
            raise DataError(f"{path}: record batch {self._batch_index[b]} holds {rb.num_rows} rows, expected "
                            f"{self._batch_rows[b]} ({MANIFEST} rows and rows_per_batch {self.rows_per_batch})",
                            hint="rerun `gecko pack` with --overwrite")
        flat = rb.column(schemas.TOKENS).flatten().to_numpy(zero_copy_only=False)
        meta = rb.column(schemas.USED).to_numpy(zero_copy_only=False)
        segment_langs = None
        if self.has_langs:
            column = rb.column(schemas.SEGMENT_LANGS)
            offsets = column.offsets.to_numpy()
            meta, used = np.empty((rb.num_rows, _META_WIDTH), dtype=np.int64), meta
            meta[:, 0] = used
            for i, name in enumerate(schemas.LANG_BYTES):
                meta[:, 1 + i] = rb.column(name).to_numpy(zero_copy_only=False)
            meta[:, -2] = offsets[:-1]
            np.subtract(offsets[1:], offsets[:-1], out=meta[:, -1])
            if np.any(meta[:, -1] > used):
                raise DataError(f"{path}: record batch {self._batch_index[b]} lists more segment languages than "
                                "a row has tokens", hint=_PACK_HINT)
            segment_langs = column.values.to_numpy(zero_copy_only=False).view(np.int8)
        entry = _Decoded(flat.reshape(rb.num_rows, self.seq_len), meta, segment_langs)
        self._cache[b] = entry
        if len(self._cache) > self.cache_batches:
            self._cache.popitem(last=False)
        return entry

    def rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Read rows by global index (any order, repeats allowed), decoding only the record batches that hold them.

        Args:
            idx: (n,) row indices in 0..num_rows-1.

        Returns:
            (tokens, used): (n, seq_len) int32 token ids and (n,) int32 real-token counts, in the order of `idx`.
        """
        tokens, used, _ = self._read(idx, langs=False)
        return tokens, used

    def row_languages(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The languages of rows read by global index, like `rows`; None unless has_langs.

        Args:
            idx: (n,) row indices in 0..num_rows-1.

        Returns:
            (langs, lang_bytes): (n, seq_len) int8 language of each token (an index into schemas.PACKED_LANGS,
            -1 on padding) and (n, 4) int64 text bytes of each row by language, in the order of `idx`.
        """
        if not self.has_langs:
            return None
        tokens, used, (counts, table, lang_bytes) = self._read(idx, langs=True)
        segment_ids, _, _ = segments(tokens, used, self.bos_id, self.eos_id)
        return _token_langs(segment_ids, used, counts, table), lang_bytes

    def _read(self, idx: np.ndarray, langs: bool) -> tuple[np.ndarray, np.ndarray, tuple | None]:
        """Rows by global index: (tokens, used, languages), the languages (segments per row, the `_lang_table`
        of the rows, bytes by language) only when asked for (which needs has_langs), else None.
        """
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_rows):
            raise IndexError(f"row indices must lie in 0..{self.num_rows - 1}, got {idx.min()}..{idx.max()}")
        tokens = np.empty((idx.size, self.seq_len), dtype=np.int32)
        meta = np.empty((idx.size, _META_WIDTH), np.int64) if self.has_langs else np.empty(idx.size, np.int32)
        which = np.searchsorted(self._batch_start, idx, side="right") - 1
        order = np.argsort(which, kind="stable")
        bounds = np.flatnonzero(np.diff(which[order])) + 1
        groups = np.split(order, bounds) if idx.size else []
        values = []
        for group in groups:
            b = int(which[group[0]])
            entry = self._decoded(b)
            local = idx[group] - self._batch_start[b]
            tokens[group] = entry.tokens[local]
            meta[group] = entry.meta[local]
            values.append(entry.segment_langs)
        if not self.has_langs:
            return tokens, meta, None
        used = meta[:, 0].astype(np.int32)
        if not langs:
            return tokens, used, None
        # Each row's segment languages lie in the values of its group's record batch: index them all end to end.
        group_of = np.empty(idx.size, dtype=np.int64)
        group_of[order] = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
        base = np.cumsum([0] + [len(v) for v in values], dtype=np.int64)
        counts = meta[:, -1]
        table = _lang_table(meta[:, -2] + base[group_of], counts,
                            np.concatenate(values) if values else np.zeros(0, np.int8))
        return tokens, used, (counts, table, np.ascontiguousarray(meta[:, 1:-2]))

    def _permutation(self, seed: int, epoch: int) -> np.ndarray:
        # Two kept: a batch that straddles an epoch boundary needs both without recomputing either.
        key = (seed, epoch)
        if key not in self._perms:
            self._perms[key] = epoch_permutation(self.num_rows, seed, epoch)
            if len(self._perms) > 2:
                self._perms.popitem(last=False)
        return self._perms[key]

    def epoch_of(self, step: int, global_batch: int) -> int:
        """The epoch of the first row of global batch `step`."""
        return (step * global_batch) // self.num_rows

    def batch(self, step: int, global_batch: int, seed: int, host_index: int = 0, num_hosts: int = 1) -> Batch:
        """This host's slice of global batch `step`: a pure function of (seed, step, global_batch).

        Args:
            step: the training step, from 0.
            global_batch: rows per step over all hosts; a multiple of `num_hosts`.
            seed: the seed of the epoch permutations.
            host_index: this host, in 0..num_hosts-1.
            num_hosts: hosts sharing each global batch; host h reads rows
                [h * global_batch / num_hosts, (h + 1) * global_batch / num_hosts) of it.

        Returns:
            The host's rows (global_batch / num_hosts of them) with their segments, positions and loss mask.
        """
        _check_batch_args(step, global_batch, num_hosts, host_index)
        per_host = global_batch // num_hosts
        first = step * global_batch
        positions = first + host_index * per_host + np.arange(per_host, dtype=np.int64)
        epochs, offsets = np.divmod(positions, self.num_rows)
        idx = np.empty(per_host, dtype=np.int64)
        for epoch in np.unique(epochs):
            here = epochs == epoch
            idx[here] = self._permutation(seed, int(epoch))[offsets[here]]
        last = first + global_batch - 1
        for epoch in range(-(-first // self.num_rows), last // self.num_rows + 1):
            if epoch:
                log.info("epoch %d begins at step %d (%d rows per epoch, global batch %d)",
                         epoch, step, self.num_rows, global_batch)
        return self._batch(idx, epoch=first // self.num_rows, step=step)

    def sequential_batch(self, start_row: int, rows: int) -> Batch:
        """Rows start_row..start_row + rows - 1 in stored order, for a sweep over a whole split (validation).

        Args:
            start_row: the first row, in 0..num_rows.
            rows: how many rows (0 or more); start_row + rows must not pass num_rows.

        Returns:
            A Batch like `batch` gives, with step -1 and epoch 0.
        """
        start_row, rows = int(start_row), int(rows)
        if start_row < 0 or rows < 0 or start_row + rows > self.num_rows:
            raise IndexError(f"rows {start_row}..{start_row + rows - 1} do not lie in 0..{self.num_rows - 1}")
        return self._batch(np.arange(start_row, start_row + rows, dtype=np.int64), epoch=0, step=-1)

    def _batch(self, idx: np.ndarray, epoch: int, step: int) -> Batch:
        """The Batch of rows idx: tokens, segments and, when the folder has them, languages."""
        tokens, used, languages = self._read(idx, langs=True)
        segment_ids, pos, loss_mask = segments(tokens, used, self.bos_id, self.eos_id)
        if languages is None:
            return Batch(tokens, segment_ids, pos, loss_mask, epoch=epoch, step=step)
        counts, table, lang_bytes = languages
        return Batch(tokens, segment_ids, pos, loss_mask, epoch=epoch, step=step,
                     langs=_token_langs(segment_ids, used, counts, table), lang_bytes=lang_bytes)


def _check_batch_args(step: int, global_batch: int, num_hosts: int, host_index: int) -> None:
    check_hosts(num_hosts, host_index)
    if step < 0:
        raise ConfigError(f"step must be 0 or more, not {step}")
    if global_batch < 1:
        raise ConfigError(f"the global batch must be at least 1 row, not {global_batch}")
    if global_batch % num_hosts:
        raise ConfigError(f"a global batch of {global_batch} rows cannot be split evenly over {num_hosts} hosts",
                          hint=f"make the global batch a multiple of {num_hosts}")


def _open_columns(path: str, schema: pa.Schema, names: tuple[str, ...]) -> pa.ipc.RecordBatchFileReader:
    """A shard opened for random access that decodes only the named columns of its record batches.

    Decompression stays on the calling thread: a record batch of a few rows is a few buffers, and handing each to
    the thread pool costs more than it saves.
    """
    options = pa.ipc.IpcReadOptions(included_fields=[schema.get_field_index(name) for name in names], use_threads=False)
    try:
        return pa.ipc.open_file(pa.memory_map(path), options=options)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: not a readable Arrow shard ({e})", hint="rerun `gecko pack` with --overwrite") from None


def _split_manifest(folder: str, split: str) -> tuple[str, dict]:
    """The folder holding `split` of a packed output (itself for "train", else a subfolder), and its manifest."""
    top = _packed_manifest(folder)
    if split == "train":
        return folder, top
    splits = top.get("splits") or {}
    name = splits.get(split) if isinstance(splits, dict) else None
    if not isinstance(name, str) or not os.path.isdir(os.path.join(folder, name)):
        known = ", ".join(["train", *sorted(splits)]) if isinstance(splits, dict) else "train"
        raise DataError(f"{folder} has no {split!r} split (it has: {known})",
                        hint="pack with a validation share to write one, or read the 'train' split")
    path = os.path.join(folder, name)
    return path, _packed_manifest(path)


def _packed_manifest(folder: str) -> dict:
    """The manifest of a packed folder, checked: written by `gecko pack`, with the fields the reader needs."""
    manifest = read_manifest(folder)
    path = os.path.join(folder, MANIFEST)
    if manifest.get("schema") != "packed":
        raise DataError(f"{path}: holds {manifest.get('schema') or 'unnamed'} shards, not packed rows",
                        hint="pass the output folder of `gecko pack`")
    for key in _REQUIRED_INTS:
        value = manifest.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DataError(f"{path}: {key!r} is {value!r}, expected a non-negative integer", hint=_PACK_HINT)
    if manifest["seq_len"] < 1 or manifest["rows_per_batch"] < 1:
        raise DataError(f"{path}: seq_len and rows_per_batch must be at least 1", hint=_PACK_HINT)
    return manifest
