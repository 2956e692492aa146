"""Phase 3 (one host): exact groups and near-duplicate clusters, the fate of every document, the shard plan."""

from __future__ import annotations

import numpy as np

from gecko_cli.console import log
from gecko_cli.dedup import core
from gecko_cli.dedup.config import DedupConfig
from gecko_cli.dedup.pairs import load_meta, load_pairs
from gecko_cli.dedup.work import KEPT, IdStore, Work


def run(cfg: DedupConfig, work: Work, counts: list[int], relpaths: list[str]) -> None:
    """Decide every document's fate and write per-file decisions, then the phase's done marker."""
    if work.is_done("clusters", None):
        return
    meta = load_meta(work, len(counts))
    edges = load_pairs(work, cfg.bands)
    ok = meta["status"] == 0
    rep = core.exact_representatives(meta["hash"], ok)
    decision = core.decide(meta["status"], rep, edges, meta["nchars"], cfg.keep)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    kept_bytes, dropped_bytes = [], []
    for u in range(len(counts)):
        d = decision[offsets[u]:offsets[u + 1]]
        work.write_array(work.decision_file(u), d)
        nbytes = meta["nbytes"][offsets[u]:offsets[u + 1]]
        kept_bytes.append(nbytes[d["reason"] == KEPT])
        dropped_bytes.append(np.maximum(nbytes[d["reason"] != KEPT], 1))
    summary = core.cluster_summary(decision["cluster"])
    ids = IdStore(work, counts)
    largest = []
    for kept, size in summary["largest"]:
        unit = int(np.searchsorted(offsets, kept, side="right") - 1)
        largest.append({"size": size, "kept_id": ids.lookup(np.array([kept]))[0], "file": relpaths[unit]})
    summary["largest"] = largest
    big = [c for c in largest if c["size"] >= cfg.warn_cluster_size]
    summary["at_least_warn_size"] = int(
        np.sum(np.unique(decision["cluster"][decision["cluster"] >= 0], return_counts=True)[1] >= cfg.warn_cluster_size)
    )
    for c in big:
        log.warning(f"warning: a cluster of {c['size']} near-duplicates keeps {c['kept_id']!r} ({c['file']}); "
                    "worth a look (boilerplate, or a threshold that is too low)")
    pair_info = [work.done_info("pairs", b) for b in range(cfg.bands)]
    work.mark_done("clusters", None, {
        "plan": core.shard_plan(kept_bytes, cfg.shard_bytes),
        "dropped_plan": core.shard_plan(dropped_bytes, cfg.shard_bytes),
        "clusters": summary,
        "lsh": {"bands": cfg.bands, "rows": cfg.rows,
                "candidate_pairs": sum(p["candidates"] for p in pair_info),
                "verified_pairs": sum(p["verified"] for p in pair_info),
                "distinct_verified_pairs": int(len(edges))},
    })
