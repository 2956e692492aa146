"""Phase 2: per LSH band, candidate pairs from shared buckets, each verified against the threshold."""

from __future__ import annotations

import io

import numpy as np

from gecko_cli.dedup import lsh, minhash
from gecko_cli.dedup.config import DedupConfig
from gecko_cli.dedup.core import exact_representatives
from gecko_cli.dedup.work import OK, RowStore, Work
from gecko_cli.shards import write_bytes_atomic


def load_meta(work: Work, n_units: int) -> np.ndarray:
    """META rows of every input file, end to end (global document order)."""
    parts = [np.asarray(work.meta(u)) for u in range(n_units)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=work.meta(0).dtype)


def eligible(meta: np.ndarray) -> np.ndarray:
    """Documents that take part in near-duplicate search: readable, not empty, first of their exact group."""
    ok = meta["status"] == OK
    rep = exact_representatives(meta["hash"], ok)
    return ok & (rep == np.arange(len(meta)))


def run_bands(cfg: DedupConfig, work: Work, bands: list[int], counts: list[int]) -> None:
    """Write the verified pairs of each band not yet done, then its done marker."""
    todo = [b for b in bands if not work.is_done("pairs", b)]
    if not todo:
        return
    meta = load_meta(work, len(counts))
    idx = np.flatnonzero(eligible(meta))
    store = RowStore.signatures(work, counts, cfg.num_perm)
    if cfg.verify_bins:
        check, estimate = RowStore.sketches(work, counts, cfg.verify_bins), minhash.estimate_from_sketches
    else:
        check, estimate = store, minhash.estimate_jaccard
    for band in todo:
        keys = lsh.band_keys(store.columns(band * cfg.rows, (band + 1) * cfg.rows)[idx])
        candidates = lsh.candidate_pairs(keys, idx)
        verified = lsh.verify(candidates, check.rows, cfg.threshold, estimate)
        buf = io.BytesIO()
        np.save(buf, verified.astype(np.int64))
        write_bytes_atomic(work.band_file(band), buf.getvalue())
        work.mark_done("pairs", band, {"candidates": int(len(candidates)), "verified": int(len(verified))})


def load_pairs(work: Work, bands: int) -> np.ndarray:
    """The verified pairs of all bands, without repeats."""
    parts = [np.load(work.band_file(b)) for b in range(bands)]
    return lsh.unique_pairs(np.concatenate(parts)) if parts else np.zeros((0, 2), np.int64)
