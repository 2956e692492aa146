"""Pure logic of dedup's global step: exact duplicates, clusters, which document each cluster keeps, and the
layout of the output shards. No files here: arrays in, arrays out."""

from __future__ import annotations

import numpy as np

from gecko_cli.dedup.unionfind import components
from gecko_cli.dedup.work import BAD, BAD_RECORD, DECISION, EMPTY, EMPTY_DOC, EXACT, KEPT, NEAR

_HISTOGRAM = ((2, 2), (3, 4), (5, 8), (9, 16), (17, 64), (65, 256), (257, 1024), (1025, None))


def exact_representatives(hashes: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """For every document, the index of the first document with the same normalized text (itself if none).

    Args:
        hashes: (n, 2) uint64 hashes of the normalized texts.
        ok: which documents take part (not empty, not bad).

    Returns:
        int64 array of length n.
    """
    rep = np.arange(len(hashes), dtype=np.int64)
    idx = np.flatnonzero(ok)
    if len(idx):
        h = hashes[idx]
        order = np.lexsort((idx, h[:, 1], h[:, 0]))  # by hash, then input order
        hs = h[order]
        new_group = np.r_[True, (hs[1:] != hs[:-1]).any(axis=1)]
        group_first = idx[order][new_group]
        rep[idx[order]] = group_first[np.cumsum(new_group) - 1]
    return rep


def decide(status: np.ndarray, rep: np.ndarray, edges: np.ndarray, nchars: np.ndarray, keep: str) -> np.ndarray:
    """The fate of every document.

    Args:
        status: per document OK, EMPTY_DOC or BAD (from the signatures phase).
        rep: exact representative of each document (see exact_representatives).
        edges: verified near-duplicate pairs of global indices (between exact representatives).
        nchars: normalized length of each document, for keep="longest".
        keep: "first" keeps the earliest document of a cluster, "longest" the longest (ties: earliest).

    Returns:
        A DECISION array: reason (KEPT, EXACT, NEAR, EMPTY, BAD_RECORD), dup_of (the kept document, for
        duplicates; else -1) and cluster (the kept document, for every member of a cluster of two or more;
        else -1).
    """
    n = len(status)
    root = np.arange(n, dtype=np.int64)
    nodes, roots = components(edges)
    root[nodes] = roots
    cluster_root = root[rep]  # exact duplicates follow their representative into its near-duplicate cluster
    if keep == "longest":
        members = np.flatnonzero(status == 0)
        order = np.lexsort((members, -nchars[members], cluster_root[members]))
        sorted_roots = cluster_root[members][order]
        first = np.r_[True, sorted_roots[1:] != sorted_roots[:-1]]
        chosen = root.copy()
        chosen[sorted_roots[first]] = members[order][first]
        kept_of = chosen[cluster_root]
    else:
        kept_of = cluster_root
    out = np.zeros(n, dtype=DECISION)
    ok = status == 0
    idx = np.arange(n)
    reason = np.where(idx == kept_of, KEPT, np.where(idx != rep, EXACT, NEAR))
    reason = np.where(ok, reason, np.where(status == EMPTY_DOC, EMPTY, BAD_RECORD))
    out["reason"] = reason
    out["dup_of"] = np.where(ok & (reason != KEPT), kept_of, -1)
    sizes = np.bincount(kept_of[ok], minlength=n)
    out["cluster"] = np.where(ok & (sizes[kept_of] >= 2), kept_of, -1)
    assert not np.any((status == BAD) & (reason != BAD_RECORD))
    return out


def cluster_summary(cluster: np.ndarray, top: int = 10) -> dict:
    """Counts of clusters by size, and the largest ones (as kept-document indices)."""
    ids, sizes = np.unique(cluster[cluster >= 0], return_counts=True)
    hist = {}
    for lo, hi in _HISTOGRAM:
        sel = (sizes >= lo) if hi is None else (sizes >= lo) & (sizes <= hi)
        label = f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}-{hi}")
        hist[label] = int(sel.sum())
    order = np.lexsort((ids, -sizes))[:top]
    return {
        "count": int(len(ids)),
        "documents": int(sizes.sum()),
        "size_histogram": hist,
        "largest": [(int(ids[i]), int(sizes[i])) for i in order],
    }


def shard_plan(unit_bytes: list[np.ndarray], shard_bytes: int) -> list[list[int]]:
    """Split each unit's output documents into shards of about `shard_bytes` of text.

    A document goes to shard floor(text before it / shard_bytes) of its unit, so a shard holds at least one
    document and overshoots the target by less than one document. A shard never spans two units, so units
    write their shards independently; shards are numbered consecutively over units in order.

    Args:
        unit_bytes: per unit, the text bytes of each document it outputs, in order.
        shard_bytes: target shard size.

    Returns:
        Per unit, the number of documents in each of its shards.
    """
    plan = []
    for sizes in unit_bytes:
        sizes = np.asarray(sizes, dtype=np.int64)
        before = np.cumsum(sizes) - sizes
        _, counts = np.unique(before // shard_bytes, return_counts=True)
        plan.append(counts.tolist())
    return plan
