"""Locality-sensitive hashing over MinHash signatures: band keys, candidate pairs, verification, parameters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gecko_cli.dedup.minhash import estimate_jaccard, splitmix64

#: Buckets up to this size are checked pair by pair; larger ones against their first member and neighbours.
ALL_PAIRS_MAX = 32


def band_keys(band: np.ndarray) -> np.ndarray:
    """One uint64 key per row of an (n, rows) uint32 band: equal bands give equal keys."""
    coef = splitmix64(0xBA2D, band.shape[1]) | np.uint64(1)
    key = np.zeros(band.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(band.shape[1]):
            key = (key ^ band[:, j].astype(np.uint64)) * coef[j]
            key ^= key >> np.uint64(31)
    return key


def candidate_pairs(keys: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Pairs of documents that share a bucket.

    Buckets of up to ALL_PAIRS_MAX members give every pair; a larger bucket gives each member paired with the
    bucket's first member and with its successor (in id order), which keeps the work linear while verified
    pairs still connect the true duplicates within it.

    Args:
        keys: band key of each document.
        ids: global document index of each document (same length).

    Returns:
        An (n, 2) int64 array of pairs (a, b) with a < b, without repeats, sorted.
    """
    if len(keys) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    order = np.lexsort((ids, keys))
    k, d = keys[order], ids[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, len(k)])
    out = []
    for m in np.unique(sizes[(sizes >= 2) & (sizes <= ALL_PAIRS_MAX)]):
        s = starts[sizes == m]
        i, j = np.triu_indices(m, 1)
        out.append(np.stack([d[s[:, None] + i[None, :]].ravel(), d[s[:, None] + j[None, :]].ravel()], axis=1))
    big = sizes > ALL_PAIRS_MAX
    if big.any():
        member = np.repeat(np.flatnonzero(big), sizes[big])
        pos = np.concatenate([np.arange(st, st + sz) for st, sz in zip(starts[big], sizes[big])])
        first = starts[member]
        nonfirst = pos != first
        out.append(np.stack([d[first[nonfirst]], d[pos[nonfirst]]], axis=1))
        succ = pos[:-1][member[1:] == member[:-1]]
        out.append(np.stack([d[succ], d[succ + 1]], axis=1))
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    return unique_pairs(np.concatenate(out))


def unique_pairs(pairs: np.ndarray) -> np.ndarray:
    """Order each pair (small, large), drop repeats and sort."""
    if not len(pairs):
        return np.zeros((0, 2), dtype=np.int64)
    p = np.sort(pairs.astype(np.int64), axis=1)
    return np.unique(p, axis=0)


def verify(pairs: np.ndarray, signature_of: Callable[[np.ndarray], np.ndarray], threshold: float,
           estimate: Callable[[np.ndarray, np.ndarray], np.ndarray] = estimate_jaccard,
           chunk: int = 65536) -> np.ndarray:
    """Keep the pairs whose estimated Jaccard similarity reaches the threshold.

    Args:
        pairs: (n, 2) global document indices.
        signature_of: maps an array of global indices to their signatures or sketches (rows).
        threshold: the least estimated Jaccard similarity of a duplicate pair.
        estimate: the Jaccard estimator for two arrays of rows.

    Returns:
        The verified pairs.
    """
    keep = np.zeros(len(pairs), dtype=bool)
    for s in range(0, len(pairs), chunk):
        p = pairs[s: s + chunk]
        keep[s: s + chunk] = estimate(signature_of(p[:, 0]), signature_of(p[:, 1])) >= threshold
    return pairs[keep]


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """The (bands, rows) with bands * rows <= num_perm that minimise the weighted false-positive and
    false-negative probability mass around `threshold` (the rule datasketch uses)."""
    xs = np.linspace(0.0, 1.0, 1001)
    best, best_cost = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1.0 - (1.0 - xs ** r) ** b
            fp = np.trapezoid(np.where(xs < threshold, p, 0.0), xs)
            fn = np.trapezoid(np.where(xs >= threshold, 1.0 - p, 0.0), xs)
            cost = fp_weight * fp + fn_weight * fn
            if cost < best_cost - 1e-12:
                best, best_cost = (b, r), cost
    return best
