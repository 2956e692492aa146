"""Phases 2-4: the plan (one global step), then a two-pass external shuffle.

`scatter`, per scanned input file: decide how many copies of each document the plan wants, give every copy a
seeded random key, and write the copies' (row, copy, key) grouped by output shard (key modulo the number of
shards), in row order within a shard. `gather`, per output shard: take that shard's copies from every scanned
file (memory-mapped, uncompressed: only those rows are read), put them in key order and write the shard, a
record batch of BATCH_BYTES of text at a time, its texts copied by kernels/texts.py straight out of the files
into buffers that later batches use again. Memory is bounded by one output shard's small columns and a few
record batches of texts. Without the kernel, Arrow takes the texts: when the scanned files hold less text than
the shard takes from them (documents are repeated), from one copy of them, which is then cheaper than reading
each batch's rows file by file.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from gecko_cli import compute, schemas
from gecko_cli.balance import core, mixture
from gecko_cli.balance.config import BalanceConfig
from gecko_cli.balance.work import COPY, KEY, SCAN_META, Work
from gecko_cli.kernels.columns import one_array
from gecko_cli.kernels.order import argsort
from gecko_cli.kernels.texts import TextTaker
from gecko_cli.shards import ShardWriter, open_shard
from gecko_cli.stage import finish

#: Text per record batch of an output shard.
BATCH_BYTES = 8 << 20
#: The most text gather copies out of the scanned files at once (an Arrow string array holds under 2 GiB).
_MAX_COMBINED = (1 << 31) - 1


def load_meta(work: Work, n_units: int) -> np.ndarray:
    parts = [np.asarray(work.meta(u)) for u in range(n_units)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=SCAN_META)


def load_tokenizer(cfg: BalanceConfig):
    """The tokenizer of --by tokens, checked (complete, readable) before any work and loaded again to plan."""
    from gecko_cli.tokenizer.folder import load_tokenizer as load

    return load(cfg.tokenizer, hint="pass --tokenizer with the folder that `gecko train-tokenizer` wrote")[0]


def tokens_per_byte(cfg: BalanceConfig, samples: list[dict]) -> dict[str, float]:
    """Tokens per byte of each language, from the scanned samples and the tokenizer."""
    tok = load_tokenizer(cfg)
    out = {}
    for lang in core.LANG_NAMES:
        texts = [t for s in samples for t in s.get(lang, [])]
        if texts:
            n_tokens = sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))
            out[lang] = n_tokens / max(sum(len(t.encode("utf-8")) for t in texts), 1)
    return out


def make_plan(cfg: BalanceConfig, meta: np.ndarray, samples: list[dict]) -> dict:
    """The mixture plan: sizes per language, copies and thresholds, and the number of output shards."""
    langs = meta["lang"]
    available = {name: float(meta["nbytes"][langs == code].sum()) for name, code in core.LANG_CODES.items()
                 if (langs == code).any()}
    tpb = tokens_per_byte(cfg, samples) if cfg.by == "tokens" else {}
    unit = {lang: tpb[lang] for lang in available} if cfg.by == "tokens" else {lang: 1.0 for lang in available}
    sized = {lang: available[lang] * unit[lang] for lang in available}
    mix = mixture.plan_mixture(sized, cfg.mix_dict, total=cfg.total, max_epochs=cfg.max_epochs,
                               best_effort=cfg.best_effort, unit=cfg.by)
    per_lang = {}
    out_bytes = 0
    for p in mix.langs:
        sel = langs == core.LANG_CODES[p.lang]
        whole, threshold = mixture.copies(meta["key"][sel], meta["nbytes"][sel], p.epochs)
        extra = meta["key"][sel] <= np.uint64(threshold) if threshold >= 0 else np.zeros(int(sel.sum()), bool)
        docs_out = int(whole * sel.sum() + extra.sum())
        bytes_out = int(whole * meta["nbytes"][sel].sum() + meta["nbytes"][sel][extra].sum())
        out_bytes += bytes_out
        per_lang[p.lang] = {"share": p.share, "whole": whole, "threshold": threshold, "epochs": p.epochs,
                            "docs_out": docs_out, "bytes_out": bytes_out,
                            "tokens_per_byte": tpb.get(p.lang)}
    return {"mix": mix.as_dict(), "langs": per_lang, "shards": max(1, math.ceil(out_bytes / cfg.shard_bytes)),
            "bytes_out": out_bytes}


def scatter_unit(cfg: BalanceConfig, work: Work, unit: int, plan: dict, hold: bool = False) -> None:
    """Write where every copy of one scanned file's documents goes, grouped by output shard; with `hold`, keep
    it in `work`'s memory instead (`Work.hold_copies`: for a gather in this process)."""
    if work.is_done("scatter", unit) or work.holds_copies(unit):
        return
    n_out = plan["shards"]
    meta = np.asarray(work.meta(unit))
    n = np.array([plan["langs"].get(name, {}).get("whole", 0) for name in core.LANG_NAMES], np.int64)[meta["lang"]]
    for code, name in enumerate(core.LANG_NAMES):
        threshold = plan["langs"].get(name, {}).get("threshold", -1)
        if threshold >= 0:
            n += (meta["lang"] == code) & (meta["key"] <= np.uint64(threshold))
    rows = np.repeat(np.arange(len(meta)), n)
    copy = (np.arange(len(rows)) - np.repeat(np.cumsum(n) - n, n)).astype(np.int32)
    key = core.copy_keys(meta["key"][rows], copy)
    data = np.empty(len(rows), dtype=COPY)  # filled field by field: a take of whole records is slow
    if n_out > 1:  # grouped by shard (a stable sort: rows stay in order); gather puts each shard in key order
        bucket = key % np.uint64(n_out)
        order = argsort(bucket)
        offsets = np.searchsorted(bucket[order], np.arange(n_out + 1))
        data["row"], data["copy"], data["key"] = rows[order], copy[order], key[order]
    else:
        offsets = np.array([0, len(rows)])
        data["row"], data["copy"], data["key"] = rows, copy, key
    if hold:
        work.hold_copies(unit, data, offsets.tolist())
        return

    def done() -> None:
        work.write_array(work.copies_file(unit), data)
        work.mark_done("scatter", unit, {"offsets": offsets.tolist()})

    finish(done)


def gather_unit(cfg: BalanceConfig, work: Work, shard: int, n_units: int, threads: int = 1) -> None:
    """Write output shard `shard`: its copies from every scanned file, in key order; `threads` compress its
    record batches."""
    if work.is_done("gather", shard):
        return
    tables, rows, bases, keys, copies, texts = [], [], [], [], [], []
    held = 0  # rows of the scanned files that hold copies for this shard
    for unit in range(n_units):
        offsets, unit_copies = work.scattered(unit)
        lo, hi = offsets[shard: shard + 2]
        if hi <= lo:
            continue
        sel = np.asarray(unit_copies[lo:hi])
        kept = open_shard(work.kept_file(unit)).read_all()
        texts.append((kept[schemas.TEXT], sel["row"]))
        tables.append(kept.drop_columns([c for c in (schemas.TEXT, KEY) if c in kept.column_names]))
        rows.append(sel["row"].astype(np.int64))
        bases.append(held)
        held += kept.num_rows
        keys.append(sel["key"])
        copies.append(sel["copy"])
    if not tables:
        work.mark_done("gather", shard, {"name": None, "rows": 0, "bytes": 0})
        return
    order = argsort(np.concatenate(keys))  # key order (ties, if any, in the order the files give them)
    copy = np.concatenate(copies)[order]
    # The small columns, in one chunk (a take across many chunks is much slower than from one), and the row of
    # them of each output row: all of them when the shard takes no fewer rows than the files hold (documents are
    # repeated), else only the rows taken.
    if len(order) >= held:
        small = pa.concat_tables(tables, promote_options="default").combine_chunks()
        at = np.concatenate([r + base for r, base in zip(rows, bases)])[order]
    else:
        small = pa.concat_tables([compute.take(t, compute.array(r, np.int64)) for t, r in zip(tables, rows)],
                                 promote_options="default").combine_chunks()
        at = order
    at_id = small.schema.get_field_index(schemas.ID)
    schema = pa.schema([schemas.DOCS.field(schemas.TEXT), *small.schema]).set(at_id + 1, schemas.DOCS.field(schemas.ID))

    def batch(lo: int, hi: int, text) -> pa.RecordBatch:  # rows lo to hi - 1 of the shard, its texts from text()
        columns = [one_array(c) for c in compute.take(small, compute.array(at[lo:hi], np.int64)).columns]
        columns[at_id] = core.copy_id_column(columns[at_id], copy[lo:hi])
        return pa.RecordBatch.from_arrays([text(), *columns], schema=schema)

    # Written a record batch of BATCH_BYTES of text at a time: the memory of one batch is reused for the next.
    # With several threads, each builds a batch (its texts, its rows of the small columns) and compresses it.
    with ShardWriter(cfg.output, shard, schema, threads=threads) as w:
        for lo, hi, text in interleaved_batches(texts, order, BATCH_BYTES, reuse=threads + 1, later=True):
            w.write_made(functools.partial(batch, lo, hi, text), hi - lo)
    work.mark_done("gather", shard, w.info.as_dict())


def interleave_texts(sources: list[tuple[pa.ChunkedArray, np.ndarray]], order: np.ndarray) -> pa.Array:
    """One string array of the given rows of several string columns, in `order`.

    The texts are copied once, straight out of the (memory-mapped) columns, by one Arrow take.

    Args:
        sources: per source, a string column and the rows taken from it.
        order: positions in the concatenation of all taken rows, in output order.

    Returns:
        A string array.
    """
    columns, rows, _, _ = _text_rows(sources, order)
    return take_rows(columns, rows)


def interleaved_batches(sources: list[tuple[pa.ChunkedArray, np.ndarray]], order: np.ndarray,
                        batch_bytes: int, reuse: int = 0, later: bool = False) -> Iterator[tuple[int, int, pa.Array]]:
    """`interleave_texts` cut into pieces of about `batch_bytes` of text, the last one to two `batch_bytes` of it
    into pieces of half that (a text is never split).

    With `reuse`, the texts of a piece are copied by kernels/texts.py into one of `reuse` buffers used in turn:
    a piece stays valid until `reuse` more pieces are taken (the caller writes each one before it holds more).

    With `later`, each piece comes as a function that takes its texts when called (on any thread): piece k into
    buffer k modulo `reuse`, which is then the caller's to keep free (see ShardWriter.write_made).

    Yields:
        (first, end, texts): the texts of positions first to end - 1 of the output (a function with `later`).
    """
    columns, rows, sizes, source_bytes = _text_rows(sources, order)
    ends = np.cumsum(sizes)
    piece = ends // batch_bytes  # a piece ends after the text that crosses a multiple of batch_bytes...
    if len(ends):  # ...or, in the last one to two batch_bytes, of half of it: the threads that compress the last
        tail = max(int(piece[-1]) - 1, 0) * batch_bytes  # pieces then finish closer together
        piece = np.where(ends > tail, piece[-1] + 1 + (ends - tail) // max(batch_bytes // 2, 1), piece)
    cuts = np.flatnonzero(np.diff(piece, prepend=0)) + 1
    bounds = [0, *(int(c) for c in cuts if c < len(rows)), len(rows)]
    taker = TextTaker.make(columns.chunks, reuse) if reuse and len(rows) else None
    if taker is not None:  # straight out of the columns, without combining them
        lengths = np.array([len(c) for c in columns.chunks], np.int64)
        starts = np.cumsum(lengths) - lengths
        chunk = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)[rows]  # (a lookup beats a search)
        local = rows - starts[chunk]
        text_ends = np.concatenate([[0], ends])
        take = lambda lo, hi, k=None: taker.take(chunk[lo:hi], local[lo:hi], int(text_ends[hi] - text_ends[lo]), k)  # noqa: E731
    elif len(rows) and source_bytes <= min(int(ends[-1]), _MAX_COMBINED):
        # The sources hold no more text than the output takes from them (documents are repeated): one copy of
        # them, then one take per batch, costs less than reading each batch's rows chunk by chunk.
        combined = columns.combine_chunks()
        take = lambda lo, hi, k=None: compute.take(combined, compute.array(rows[lo:hi], np.int64))  # noqa: E731
    else:
        take = lambda lo, hi, k=None: take_rows(columns, rows[lo:hi])  # noqa: E731
    pieces = ((lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo)
    for k, (lo, hi) in enumerate(pieces):
        yield lo, hi, (functools.partial(take, lo, hi, k) if later else take(lo, hi))


def take_rows(column: pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """The given rows of a chunked string column, as one array, reading only those rows.

    Arrow's own take on a chunked string column first concatenates all of its chunks: every record batch of an
    output shard would copy (and read from disk) every scanned file's texts again. Here each chunk gives its rows
    (in row order, one take per chunk), and one take of the gathered texts puts them in the order asked for.
    """
    rows = np.asarray(rows, np.int64)
    if not len(rows):
        return pa.array([], column.type)
    starts = np.cumsum([0, *(len(c) for c in column.chunks)])
    chunk = np.searchsorted(starts, rows, side="right") - 1
    by_chunk = np.argsort(chunk, kind="stable")
    bounds = np.searchsorted(chunk[by_chunk], np.arange(column.num_chunks + 1))
    pieces = [compute.take(column.chunk(c), compute.array(rows[by_chunk[bounds[c]:bounds[c + 1]]] - starts[c], np.int64))
              for c in np.flatnonzero(np.diff(bounds))]
    gathered = pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)
    back = np.empty(len(rows), np.int64)
    back[by_chunk] = np.arange(len(rows))
    return compute.take(gathered, compute.array(back, np.int64))


def _text_rows(sources, order) -> tuple[pa.ChunkedArray, np.ndarray, np.ndarray, int]:
    """The sources' columns as one chunked array (no copy), the rows of it in output order, their sizes, and
    the text bytes of the sources."""
    chunks, rows, sizes, base, total = [], [], [], 0, 0
    for column, taken in sources:
        chunks += column.chunks
        rows.append(np.asarray(taken, np.int64) + base)
        lengths = compute.binary_length(column).to_numpy()
        sizes.append(lengths[taken])
        total += int(lengths.sum())
        base += len(column)
    columns = pa.chunked_array(chunks, pa.string())
    if not rows:
        return columns, np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    return columns, np.concatenate(rows)[order], np.concatenate(sizes).astype(np.int64)[order], total


def read_plan(work: Work) -> dict:
    with open(work.done_path("plan", None), encoding="utf-8") as fh:
        return json.load(fh)
