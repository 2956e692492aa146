"""Phase 4: per input file, write the kept documents (and, when asked, the dropped ones) into shards."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gecko_cli import schemas
from gecko_cli.dedup.config import DedupConfig
from gecko_cli.dedup.work import KEPT, REASONS, IdStore, Work, schema_from_text
from gecko_cli.kernels.columns import filter_rows
from gecko_cli.shards import InputFile, ShardWriter, iter_records


class _PlannedShards:
    """Writes rows into consecutive shards whose sizes were planned in advance."""

    def __init__(self, folder: str, first_index: int, counts: list[int]):
        self.folder, self.index, self.counts = folder, first_index, list(counts)
        self.writer: ShardWriter | None = None
        self.left = 0
        self.done: list[dict] = []

    def write(self, table: pa.Table) -> None:
        pos = 0
        while pos < table.num_rows:
            if self.writer is None:
                self.writer = ShardWriter(self.folder, self.index, table.schema)
                self.left = self.counts.pop(0)
            take = min(self.left, table.num_rows - pos)
            self.writer.write(table.slice(pos, take))
            pos += take
            self.left -= take
            if self.left == 0:
                self.done.append(self.writer.close().as_dict())
                self.writer, self.index = None, self.index + 1

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()


def run_unit(cfg: DedupConfig, work: Work, f: InputFile, counts: list[int]) -> None:
    """Write the output shards of one input file and its done marker with its accounting."""
    if work.is_done("filter", f.index):
        return
    info = work.done_info("clusters", None)
    decisions = np.asarray(work.decisions(f.index))
    sig_info = work.done_info("signatures", f.index)
    kept = _PlannedShards(cfg.output, sum(map(len, info["plan"][: f.index])), info["plan"][f.index])
    dropped = None
    if cfg.keep_dropped:
        plan = info["dropped_plan"]
        dropped = _PlannedShards(cfg.keep_dropped, sum(map(len, plan[: f.index])), plan[f.index])
    ids = IdStore(work, counts)
    groups: list[pa.Table] = []
    try:
        for batch in iter_records(f, text_field=cfg.text_field, on_bad=cfg.on_bad_record,
                                  batch_rows=cfg.batch_rows, want_table=True,
                                  extras_schema=schema_from_text(sig_info["extras_schema"])):
            d = decisions[batch.start: batch.start + len(batch)]
            table = batch.table
            keep = d["reason"] == KEPT
            kept.write(filter_rows(table, keep))
            if dropped is not None and not keep.all():
                dropped.write(_dropped_rows(table, d, ~keep, batch.bad, ids))
            groups.append(_tally(table, d["reason"], batch.bad))
    except BaseException:
        kept.abort()
        if dropped is not None:
            dropped.abort()
        raise
    work.mark_done("filter", f.index, {
        "shards": kept.done,
        "dropped_shards": dropped.done if dropped is not None else [],
        "tally": _merge_tallies(groups),
    })


def _dropped_rows(table: pa.Table, d: np.ndarray, mask: np.ndarray, bad: dict, ids: IdStore) -> pa.Table:
    rows = np.flatnonzero(mask)
    out = table.take(pa.array(rows))
    reasons = [REASONS[r] for r in d["reason"][rows]]
    for k, r in enumerate(rows):
        if r in bad:
            reasons[k] = f"{REASONS[4]}: {bad[r]}"
    dup_of = d["dup_of"][rows]
    dup_ids = [None] * len(rows)
    has = np.flatnonzero(dup_of >= 0)
    if len(has):
        for k, v in zip(has, ids.lookup(dup_of[has])):
            dup_ids[k] = v
    cluster = d["cluster"][rows]
    reason_f, cluster_f, dup_f = schemas.DEDUP_DROPPED_FIELDS
    out = out.append_column(reason_f, pa.array(reasons, reason_f.type))
    out = out.append_column(cluster_f, pa.array(cluster, cluster_f.type, mask=cluster < 0))
    return out.append_column(dup_f, pa.array(dup_ids, dup_f.type))


def _tally(table: pa.Table, reason: np.ndarray, bad: dict) -> pa.Table:
    """Documents and text bytes per (lang, source, reason) in one batch (a bad record has no text bytes)."""
    nbytes = pc.binary_length(table[schemas.TEXT]).cast(pa.int64())
    if bad:
        mask = np.zeros(table.num_rows, dtype=bool)
        mask[list(bad)] = True
        nbytes = pc.if_else(pa.array(mask), 0, nbytes)
    t = pa.table({
        "lang": pc.fill_null(table[schemas.LANG], "unknown"),
        "source": table[schemas.SOURCE],
        "reason": pa.array(reason, pa.uint8()),
        "bytes": nbytes,
    })
    return t.group_by(["lang", "source", "reason"]).aggregate([("bytes", "sum"), ("bytes", "count")])


def _merge_tallies(groups: list[pa.Table]) -> list[list]:
    if not groups:
        return []
    t = pa.concat_tables(groups)
    t = t.group_by(["lang", "source", "reason"]).aggregate([("bytes_sum", "sum"), ("bytes_count", "sum")])
    t = t.sort_by([("lang", "ascending"), ("source", "ascending"), ("reason", "ascending")])
    return [[r["lang"], r["source"], REASONS[r["reason"]], r["bytes_count_sum"], r["bytes_sum_sum"]]
            for r in t.to_pylist()]
