"""Phase 1, per input file: label every document, apply the quality rules, scrub personal data, and keep
the survivors (with their language, size and sampling key) for the mixture."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa

from gecko_cli import compute, schemas
from gecko_cli.balance import core
from gecko_cli.balance.config import BalanceConfig
from gecko_cli.balance.work import KEY, SCAN_META, Work
from gecko_cli.console import log
from gecko_cli.errors import DataError
from gecko_cli.kernels.columns import filter_rows, one_array
from gecko_cli.kernels.texts import TextTaker
from gecko_cli.shards import InputFile, ShardWriter, iter_records
from gecko_cli.stage import finish

#: Fields the language detector may read besides the text (file names tell code apart).
META_FIELDS = (schemas.SOURCE, schemas.ID, "path", "filename", "file", "file_path", "ext", "extension", "language",
               "repo_path", "max_stars_repo_path")
BAD_REASON = "bad_record"


def run_unit(cfg: BalanceConfig, work: Work | None, f: InputFile, n_units: int) -> dict:
    """Scan one input file: returns its counts ("info") and the SCAN_META of the documents it kept ("meta"); with
    a work folder, it writes its survivors and done marker, and "meta" is None when an earlier run scanned the
    file or when it takes more than its share (1 / n_units) of Work.META_CACHE_BYTES (the plan reads it back);
    without one (a dry run), it writes nothing and returns samples too."""
    if work is not None and work.is_done("scan", f.index):
        info = work.done_info("scan", f.index)
        if work.kept_intact(f.index, info):
            return {"info": info, "meta": None}
        log.warning(f"warning: {f.relpath} is scanned again: the work file of its earlier scan is missing or "
                    "incomplete (a system crash loses work files that had not reached the disk)")
        work.forget_scan(f.index)
    stats = _Stats()
    sample: dict[str, list[str]] = defaultdict(list)
    sample_left = defaultdict(lambda: max(cfg.token_sample_bytes // max(n_units, 1), 65536))
    kept_w = dropped_w = None
    meta_parts = []
    schema = None
    try:
        for batch in iter_records(f, text_field=cfg.text_field, on_bad=cfg.on_bad_record, batch_rows=cfg.batch_rows,
                                  want_table=True):
            table, schema = _conform(batch.table, schema, f)
            out = _process(cfg, batch, table)
            codes, keep = out.codes, out.kept
            column = one_array(table[schemas.TEXT])
            scrubbed = pa.array([out.texts[i] for i in out.scrubbed], pa.string())  # their texts now
            sizes = compute.binary_length(column).to_numpy(zero_copy_only=False)
            if out.scrubbed:
                sizes = sizes.copy()
                sizes[out.scrubbed] = compute.binary_length(scrubbed).to_numpy(zero_copy_only=False)
            stats.add(table, out, codes, keep, sizes)
            kept = _kept(table, column, codes, keep, out.scrubbed, scrubbed, sizes)
            meta = np.zeros(kept.num_rows, dtype=SCAN_META)
            meta["lang"] = codes[keep]
            meta["nbytes"] = sizes[keep]
            meta["key"] = core.doc_keys(kept[schemas.ID], cfg.seed)
            kept = kept.append_column(pa.field(KEY, pa.uint64()), compute.array(meta["key"]))
            if work is not None and kept_w is None:
                kept_w = ShardWriter(work.kept_dir(), f.index, kept.schema, compression=None, sync=False)
            meta_parts.append(meta)
            if cfg.by == "tokens" or work is None:  # samples estimate tokens per byte
                _take_sample(kept, meta, sample, sample_left)
            if kept_w is not None:
                kept_w.write(kept)
            if cfg.keep_dropped and work is not None:
                dropped = _dropped(table, out, keep)
                if dropped_w is None:
                    dropped_w = ShardWriter(cfg.keep_dropped, f.index, dropped.schema)
                dropped_w.write(dropped)
        meta = np.concatenate(meta_parts) if meta_parts else np.zeros(0, SCAN_META)
        if work is None:  # a dry run: counts, sizes and samples for the plan, nothing written
            return {"info": stats.as_dict(), "meta": meta, "sample": dict(sample)}
    except BaseException:
        _abort(kept_w, dropped_w)
        raise
    info = stats.as_dict()

    def done() -> None:  # the sample rides on the done marker
        try:
            _finish(cfg, work, f, kept_w, dropped_w, schema)
        except BaseException:
            _abort(kept_w, dropped_w)
            raise
        work.mark_done("scan", f.index, {**info, "sample": dict(sample)})

    finish(done)
    return {"info": info, "meta": meta if meta.nbytes * n_units <= Work.META_CACHE_BYTES else None}


def _process(cfg: BalanceConfig, batch, table: pa.Table) -> core.Outcome:
    schema = table.schema
    metas = {c: table[c] for c in META_FIELDS if schema.get_field_index(c) >= 0 and pa.types.is_string(schema.field(c).type)}
    texts = [t if t is not None else "" for t in batch.texts] if batch.bad else batch.texts  # None: a bad record
    out = core.process(texts, None if cfg.relabel else table[schemas.LANG].to_pylist(), metas, relabel=cfg.relabel,
                       keep_other=cfg.keep_other, rule_cfg=cfg.rules if cfg.apply_rules else None,
                       scrub=cfg.scrub_pii, mix_langs={lang for lang, s in cfg.mix if s > 0}, utf8=table[schemas.TEXT])
    for row in batch.bad:
        out.reasons[row] = BAD_REASON
        out.kept[row] = False
    return out


def _kept(table: pa.Table, column: pa.Array, codes: np.ndarray, keep: np.ndarray, rows: list[int],
          scrubbed: pa.Array, sizes: np.ndarray) -> pa.Table:
    """The kept rows of the batch, labelled (`codes`), the texts of the scrubbed `rows` replaced by `scrubbed`.

    The kept texts are copied once, by kernels/texts.py where it runs (Arrow puts the scrubbed texts in place, a
    copy of the column, and the filter copies them again); none are copied when every row is kept and none was
    scrubbed. `sizes`: the bytes of each row's text, as scrubbed.
    """
    taker = TextTaker.make([column, scrubbed], 1) if rows else None
    if taker is not None:
        taken = np.flatnonzero(keep)
        which, at = np.zeros(len(taken), np.int32), taken.copy()
        place = np.searchsorted(taken, rows)  # where each scrubbed row is among the kept ones (if it is kept)
        held = place < len(taken)
        held[held] = taken[place[held]] == np.asarray(rows)[held]
        which[place[held]], at[place[held]] = 1, np.flatnonzero(held)
        texts = taker.take(which, at, int(sizes[taken].sum()))
        labelled = _with_columns(table, column, codes)
        i = labelled.schema.get_field_index(schemas.TEXT)
        return filter_rows(labelled.remove_column(i), keep).add_column(i, labelled.schema.field(i), texts)
    if rows:
        mask = np.zeros(len(column), bool)
        mask[rows] = True
        column = compute.replace_with_mask(column, compute.array(mask), scrubbed)
    return filter_rows(_with_columns(table, column, codes), keep)  # (as it is when it keeps every row)


_LANG_NAMES = pa.array(core.LANG_NAMES, pa.string())


def _with_columns(table: pa.Table, texts: pa.Array, codes: np.ndarray) -> pa.Table:
    table = table.set_column(table.schema.get_field_index(schemas.TEXT), schemas.DOCS.field(schemas.TEXT), texts)
    return table.set_column(table.schema.get_field_index(schemas.LANG), schemas.DOCS.field(schemas.LANG),
                            compute.take(_LANG_NAMES, compute.array(codes)))


def _dropped(table: pa.Table, out: core.Outcome, keep: np.ndarray) -> pa.Table:
    labelled = table.set_column(table.schema.get_field_index(schemas.LANG), schemas.DOCS.field(schemas.LANG),
                                pa.array(out.langs, pa.string()))
    rows = np.flatnonzero(~keep)
    dropped = compute.take(labelled, compute.array(rows, np.int64))
    reasons = pa.array([out.reasons[r] for r in rows], pa.string())
    return dropped.append_column(pa.field(schemas.BALANCE_REASON, pa.string()), reasons)


def _conform(table: pa.Table, schema: pa.Schema | None, f: InputFile) -> tuple[pa.Table, pa.Schema]:
    if schema is None or table.schema.equals(schema):
        return table, table.schema
    try:
        return table.select(schema.names).cast(schema), schema
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as e:
        raise DataError(f"{f.path}: the columns change between records ({e})",
                        hint="give every record the same fields, or run `gecko dedup` first") from None


def _take_sample(kept: pa.Table, meta: np.ndarray, sample: dict, left: dict) -> None:
    # Documents whose key is in the lowest 1/16 of the key space, until the per-language budget is used; a
    # language with no sample yet takes its first documents too, so that small inputs are sampled as well.
    low = meta["key"] < np.uint64(1 << 60)
    chosen = [i for i in range(len(meta)) if low[i] or not sample.get(core.LANG_NAMES[meta["lang"][i]])]
    if not chosen:
        return
    texts = compute.take(kept[schemas.TEXT], compute.array(chosen, np.int64)).to_pylist()
    for i, text in zip(chosen, texts):
        lang = core.LANG_NAMES[meta["lang"][i]]
        if left[lang] > 0:
            sample[lang].append(text)
            left[lang] -= int(meta["nbytes"][i])


def _abort(*writers: ShardWriter | None) -> None:
    for w in writers:
        if w is not None:
            w.abort()


def _finish(cfg, work, f, kept_w, dropped_w, schema) -> None:
    if kept_w is None and schema is not None:
        kept_w = ShardWriter(work.kept_dir(), f.index, schema.append(pa.field(KEY, pa.uint64())), compression=None,
                             sync=False)
    if kept_w is not None:
        kept_w.close()
    if cfg.keep_dropped:
        if dropped_w is None:  # every input file has its dropped shard, empty or not, so names stay dense
            base = schema if schema is not None else schemas.DOCS
            dropped_w = ShardWriter(cfg.keep_dropped, f.index,
                                    base.append(pa.field(schemas.BALANCE_REASON, pa.string())))
        dropped_w.close()


class _Stats:
    """Documents and bytes per language in and kept, drops per language and reason, personal data found."""

    def __init__(self):
        self.docs_in, self.bytes_in = Counter(), Counter()
        self.docs_kept, self.bytes_kept = Counter(), Counter()
        self.dropped: dict[str, Counter] = defaultdict(Counter)
        self.pii = Counter()

    def add(self, table: pa.Table, out: core.Outcome, codes: np.ndarray, keep: np.ndarray,
            out_sizes: np.ndarray) -> None:
        sizes = compute.fill_null(compute.binary_length(table[schemas.TEXT]), 0).to_numpy()
        n = len(core.LANG_NAMES)
        for code, docs, size, kept, kept_size in zip(
                range(n), np.bincount(codes, minlength=n).tolist(), np.bincount(codes, sizes, n).tolist(),
                np.bincount(codes[keep], minlength=n).tolist(), np.bincount(codes[keep], out_sizes[keep], n).tolist()):
            if docs:
                lang = core.LANG_NAMES[code]
                self.docs_in[lang] += docs
                self.bytes_in[lang] += int(size)
                if kept:
                    self.docs_kept[lang] += kept
                    self.bytes_kept[lang] += int(kept_size)
        for row in np.flatnonzero(~keep).tolist():
            self.dropped[out.langs[row]][out.reasons[row]] += 1
        self.pii.update(out.pii)

    def as_dict(self) -> dict:
        langs = sorted(set(self.docs_in), key=core.LANG_NAMES.index)
        return {"langs": {lang: {"docs_in": self.docs_in[lang], "bytes_in": self.bytes_in[lang],
                                 "docs_kept": self.docs_kept[lang], "bytes_kept": self.bytes_kept[lang],
                                 "dropped": dict(sorted(self.dropped[lang].items()))} for lang in langs},
                "pii": dict(sorted(self.pii.items()))}
