"""Phase 1, per input file: tokenize every document, split off the held-out ones, pack both splits into rows."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from gecko_cli import schemas
from gecko_cli.kernels.columns import filter_rows
from gecko_cli.pack import core
from gecko_cli.pack.config import PackConfig
from gecko_cli.pack.work import ROW_META, SPLITS, TokenizerInfo, Work
from gecko_cli.shards import InputFile, iter_records
from gecko_cli.stage import memmap
from gecko_cli.tokenizer.sample import is_heldout

LANG_CODES = {lang: i for i, lang in enumerate(schemas.PACKED_LANGS)}
PACKERS = {"concat": core.pack_concat, "best-fit": core.pack_best_fit}

#: Per packed row, beside the work's ROW_META: text bytes per language (schemas.PACKED_LANGS) and its segments.
ROW_LANGS = np.dtype([("lang_bytes", "<i8", (len(schemas.PACKED_LANGS),)), ("segments", "<i4")])


def langs_file(work: Work, split: str, unit: int) -> str:
    """The ROW_LANGS of the rows an input file packed."""
    return work.path("encode", f"langs-{split}-{unit:05d}.bin")


def segment_langs_file(work: Work, split: str, unit: int) -> str:
    """The uint8 language of every segment of the rows an input file packed, rows in order."""
    return work.path("encode", f"segment-langs-{split}-{unit:05d}.bin")


def row_langs(work: Work, split: str, unit: int) -> tuple[np.ndarray, np.ndarray]:
    """(ROW_LANGS per row, uint8 segment languages) of the rows an input file packed."""
    return memmap(langs_file(work, split, unit), ROW_LANGS), memmap(segment_langs_file(work, split, unit), np.uint8)


def wrap(ids: list[list[int]], bos: int, eos: int) -> tuple[np.ndarray, np.ndarray]:
    """Documents' ids as one array, each wrapped as <s> ids </s>; returns (tokens, offsets)."""
    lens = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids)) + 2
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    out = np.empty(offsets[-1], dtype=np.uint32)
    inner = np.ones(len(out), dtype=bool)
    inner[offsets[:-1]] = False
    inner[offsets[1:] - 1] = False
    out[offsets[:-1]] = bos
    out[offsets[1:] - 1] = eos
    if offsets[-1] > 2 * len(ids):
        out[inner] = np.concatenate([np.asarray(x, dtype=np.uint32) for x in ids])
    return out, offsets


def _languages(table, texts) -> np.ndarray:
    from gecko_cli.balance.langid import detect

    labels = table[schemas.LANG].to_pylist()
    return np.array([LANG_CODES.get(lang if lang in LANG_CODES else detect(t), 3) for lang, t in zip(labels, texts)],
                    dtype=np.uint8)


def run_unit(cfg: PackConfig, work: Work, f: InputFile, info: TokenizerInfo) -> None:
    """Tokenize and pack one input file into work rows for both splits, then its done marker."""
    if work.is_done("encode", f.index):
        return
    tok = info.load()
    parts: dict[str, list[core.Docs]] = {split: [] for split in SPLITS}
    bad = 0
    for batch in iter_records(f, text_field=cfg.text_field, on_bad=cfg.on_bad_record, batch_rows=cfg.batch_rows,
                              want_table=True):
        good = np.array([t is not None for t in batch.texts], dtype=bool)
        bad += int((~good).sum())
        table = filter_rows(batch.table, good)
        texts = [t for t in batch.texts if t is not None]
        val = np.array([is_heldout(i, cfg.val_fraction, cfg.seed) if cfg.val_fraction else False
                        for i, ok in zip(batch.ids, good) if ok], dtype=bool)
        encs = tok.encode_batch_fast(texts, add_special_tokens=False)
        tokens, offsets = wrap([e.ids for e in encs], info.bos_id, info.eos_id)
        docs = core.Docs(tokens=tokens, offsets=offsets, langs=_languages(table, texts),
                         nbytes=pc.binary_length(table[schemas.TEXT]).to_numpy(zero_copy_only=False).astype(np.int64))
        for split, mask in (("train", ~val), ("val", val)):
            parts[split].append(_select(docs, mask))
    stats = {"bad_records": bad}
    for split in SPLITS:
        docs = core.concat_docs(parts[split]) if parts[split] else core.empty_docs()
        rows = PACKERS[cfg.strategy](docs, cfg.seq_len, info.pad_id, bos_id=info.bos_id, eos_id=info.eos_id)
        meta = np.zeros(len(rows.used), dtype=ROW_META)
        meta["used"], meta["lang_tokens"], meta["text_bytes"] = rows.used, rows.lang_tokens, rows.text_bytes
        langs = np.zeros(len(rows.used), dtype=ROW_LANGS)
        langs["lang_bytes"], langs["segments"] = rows.lang_bytes, rows.segment_counts
        work.write_array(work.rows_file(split, f.index), rows.tokens.astype(info.dtype))
        work.write_array(work.meta_file(split, f.index), meta)
        work.write_array(langs_file(work, split, f.index), langs)
        work.write_array(segment_langs_file(work, split, f.index), rows.segment_langs)
        stats[split] = {"documents": rows.docs, "documents_cut": rows.docs_cut, "rows": int(len(rows.used)),
                        "tokens": int(rows.used.sum()), "padding": rows.padding,
                        "tokens_by_lang": dict(zip(schemas.PACKED_LANGS, rows.lang_tokens.sum(axis=0).tolist())),
                        "text_bytes": int(rows.text_bytes.sum())}
    work.mark_done("encode", f.index, stats)


def _select(docs: core.Docs, mask: np.ndarray) -> core.Docs:
    """The documents where mask is True, as a new Docs."""
    idx = np.flatnonzero(mask)
    lens = np.diff(docs.offsets)[idx]
    offsets = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    if len(idx):
        starts = docs.offsets[idx]
        take = np.repeat(starts - offsets[:-1], lens) + np.arange(offsets[-1])
        tokens = docs.tokens[take]
    else:
        tokens = np.zeros(0, dtype=docs.tokens.dtype)
    return core.Docs(tokens=tokens, offsets=offsets, langs=docs.langs[idx], nbytes=docs.nbytes[idx])
