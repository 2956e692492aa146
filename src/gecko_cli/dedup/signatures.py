"""Phase 1: per input file, the normalized-text hash and MinHash signature of every record."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from gecko_cli.dedup import minhash
from gecko_cli.dedup.config import DedupConfig
from gecko_cli.dedup.normalize import exact_hashes, normalize_batch
from gecko_cli.dedup.work import BAD, EMPTY_DOC, META, OK, Work, schema_to_text
from gecko_cli.errors import DataError
from gecko_cli.shards import InputFile, iter_records

_CHUNK_CHARS = 1 << 20  # signatures are computed over about this many characters at a time (cache-friendly)


def compute(texts: list[str], cfg: DedupConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signatures, verification sketches and META rows (hash, nchars, status; nbytes left 0) of texts."""
    n = len(texts)
    meta = np.zeros(n, dtype=META)
    sig = np.full((n, cfg.num_perm), minhash.EMPTY, dtype=np.uint32)
    sketch = np.full((n, cfg.verify_bins), minhash.SKETCH_EMPTY, dtype=np.uint16)
    start = 0
    for stop in _chunk_bounds(texts):
        part = texts[start:stop]
        codes, offsets = normalize_batch(part)
        m = meta[start:stop]
        m["nchars"] = np.diff(offsets)
        m["hash"] = exact_hashes(codes, offsets)
        m["status"] = np.where(m["nchars"] == 0, EMPTY_DOC, OK)
        tokens, tok_off = (codes, offsets) if cfg.shingle == "char" else minhash.word_tokens(codes, offsets)
        hashes, doc = minhash.shingle_hashes(tokens, tok_off, cfg.ngram, seed=cfg.seed)
        sig[start:stop] = minhash.signatures(cfg.scheme, hashes, doc, len(part), cfg.num_perm, seed=cfg.seed)
        if cfg.verify_bins:
            sketch[start:stop] = minhash.verification_sketch(hashes, doc, len(part), cfg.verify_bins)
        start = stop
    return sig, sketch, meta


def _chunk_bounds(texts: list[str]) -> list[int]:
    bounds, acc = [], 0
    for i, t in enumerate(texts):
        acc += len(t)
        if acc >= _CHUNK_CHARS:
            bounds.append(i + 1)
            acc = 0
    if not bounds or bounds[-1] != len(texts):
        bounds.append(len(texts))
    return bounds


def run_unit(cfg: DedupConfig, work: Work, f: InputFile) -> None:
    """Write signatures, META rows and ids of one input file, then its done marker."""
    if work.is_done("signatures", f.index):
        return
    paths = [work.sig_file(f.index), work.meta_file(f.index), work.ids_file(f.index), work.sketch_file(f.index)]
    tmps = [f"{p}.tmp-{os.getpid()}" for p in paths]
    records = bad = 0
    text_bytes = 0
    extras = None
    try:
        with open(tmps[0], "wb") as sig_out, open(tmps[1], "wb") as meta_out, \
                pa.OSFile(tmps[2], "wb") as ids_sink, open(tmps[3], "wb") as sketch_out:
            ids_writer = pa.ipc.new_file(ids_sink, pa.schema([("id", pa.string())]))
            for batch in iter_records(f, text_field=cfg.text_field, on_bad=cfg.on_bad_record,
                                      batch_rows=cfg.batch_rows):
                texts = ["" if t is None else t for t in batch.texts]
                sig, sketch, meta = compute(texts, cfg)
                meta["nbytes"] = [len(t.encode("utf-8")) for t in texts]
                if batch.bad:
                    rows = np.fromiter(batch.bad, dtype=np.int64)
                    meta["status"][rows] = BAD
                    meta["nbytes"][rows] = 0
                    sig[rows] = minhash.EMPTY
                    sketch[rows] = minhash.SKETCH_EMPTY
                sig_out.write(sig.tobytes())
                sketch_out.write(sketch.tobytes())
                meta_out.write(meta.tobytes())
                ids_writer.write_batch(pa.record_batch([pa.array(batch.ids, pa.string())], names=["id"]))
                records += len(batch)
                bad += len(batch.bad)
                text_bytes += int(meta["nbytes"].sum())
                extras = _unify(extras, batch.extras_schema, f)
            ids_writer.close()
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    finally:
        for tmp in tmps:
            if os.path.exists(tmp):
                os.remove(tmp)
    work.mark_done("signatures", f.index, {"file": f.relpath, "records": records, "bad_records": bad,
                                           "text_bytes": text_bytes, "extras_schema": schema_to_text(extras)})


def _unify(current: pa.Schema | None, new: pa.Schema | None, f: InputFile) -> pa.Schema | None:
    if new is None:
        return current
    if current is None:
        return new
    try:
        return pa.unify_schemas([current, new], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise DataError(f"{f.path}: extra fields change type between records ({e})",
                        hint="give each field one type in every record") from None
