"""Shingles and MinHash signatures for a batch of normalized documents, without per-token Python loops.

Two signature schemes give the same kind of signature (`num_perm` 32-bit values per document, where the share of
equal values between two documents estimates their Jaccard similarity):

- `oph` (default): one-permutation hashing. Each shingle is hashed once; the hash picks one of `num_perm` bins
  and the signature keeps the smallest hash in each bin. Bins left empty (short documents) are filled by optimal
  densification (Shrivastava, ICML 2017), which keeps the estimate unbiased and the LSH collision probability
  equal to the Jaccard similarity. Cost: O(shingles + num_perm) per document.
- `perm`: the classic scheme with `num_perm` independent hash functions (multiply-shift), as datasketch computes
  it. Cost: O(shingles x num_perm) per document.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

EMPTY = np.uint32(0xFFFFFFFF)
_P = np.uint64(0xC2B2AE3D27D4EB4F)     # polynomial base (odd) for rolling shingle hashes
_MIX = np.uint64(0x9E3779B97F4A7C15)   # odd multiplier (golden ratio) for the final mix


def splitmix64(state: int, n: int) -> np.ndarray:
    """`n` pseudo-random uint64 values from a seed: identical on every platform and numpy version."""
    with np.errstate(over="ignore"):
        x = (np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) + np.uint64(state & (2**64 - 1))
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def word_tokens(codes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn normalized code points into one uint64 hash per word (words are separated by single spaces).

    Returns:
        (tokens, offsets) in the same layout as the input, with words instead of characters.
    """
    n = len(codes)
    is_space = codes == 32
    starts = np.zeros(n, dtype=bool)
    if n:
        starts[0] = True
        starts[1:] = is_space[:-1]
        starts[offsets[:-1][offsets[:-1] < n]] = True
    starts &= ~is_space
    start_pos = np.flatnonzero(starts)
    # position of each character within its word, for a polynomial hash with a per-position power
    last_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0)) if n else np.zeros(0, np.int64)
    rel = np.minimum(np.arange(n) - last_start, 63)
    powers = _powers()
    with np.errstate(over="ignore"):
        terms = (codes.astype(np.uint64) + np.uint64(1)) * powers[rel]
        terms[is_space] = 0
        tokens = np.add.reduceat(terms, start_pos) if len(start_pos) else np.zeros(0, np.uint64)
    word_index = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(starts, out=word_index[1:])
    return tokens, word_index[offsets]


@lru_cache(maxsize=1)
def _powers() -> np.ndarray:
    out = np.empty(64, dtype=np.uint64)
    acc = 1
    for i in range(64):
        out[i] = acc
        acc = (acc * int(_P)) % 2**64
    return out


def shingle_hashes(tokens: np.ndarray, offsets: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hash every k-token shingle of every document to 32 bits.

    A document with fewer than k tokens (but at least one) is one shingle; an empty document has none.

    Args:
        tokens: code points or word hashes of all documents end to end.
        offsets: document boundaries (len = documents + 1).
        k: tokens per shingle.
        seed: varies the hash function.

    Returns:
        (hashes, doc): uint32 shingle hashes and the int64 document index of each.
    """
    lens = np.diff(offsets)
    n_docs = len(lens)
    n = len(tokens)
    salt = splitmix64(seed, 1)[0]
    parts, docs = [], []
    with np.errstate(over="ignore"):
        if n >= k:
            tok = tokens.astype(np.uint64)
            h = tok[: n - k + 1] + salt
            for j in range(1, k):
                h *= _P
                h += tok[j: n - k + 1 + j]
            # a window starting in the last k-1 positions before a document's end crosses into the next one
            valid = np.ones(n - k + 1, dtype=bool)
            cross = (offsets[1:, None] - np.arange(1, k)[None, :]).ravel()
            valid[cross[(cross >= 0) & (cross < n - k + 1)]] = False
            parts.append(h[valid])
            docs.append(np.repeat(np.arange(n_docs), np.maximum(lens - k + 1, 0)))
        short = np.flatnonzero((lens > 0) & (lens < k))
        if len(short):
            idx = offsets[short][:, None] + np.arange(k)[None, :]
            inside = np.arange(k)[None, :] < lens[short][:, None]
            vals = np.where(inside, tokens[np.minimum(idx, n - 1)].astype(np.uint64), np.uint64(0))
            h = vals[:, 0] + salt
            for j in range(1, k):
                h = h * _P + vals[:, j]
            parts.append(h)
            docs.append(short)
        if not parts:
            return np.zeros(0, np.uint32), np.zeros(0, np.int64)
        h = np.concatenate(parts) if len(parts) > 1 else parts[0]
        h *= _MIX  # multiply-shift: the top 32 bits of h * odd constant are a universal hash of h
        h >>= np.uint64(32)
    return h.astype(np.uint32), (np.concatenate(docs) if len(docs) > 1 else docs[0])


def oph_signatures(hashes: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int, seed: int = 0) -> np.ndarray:
    """One-permutation MinHash with optimal densification: an (n_docs, num_perm) uint32 array.

    Rows of documents without shingles are all EMPTY. `seed` is unused: the shingle hashes carry it.
    """
    bins = ((hashes.astype(np.uint64) * np.uint64(num_perm)) >> np.uint64(32)).astype(np.int64)
    sig = np.full(n_docs * num_perm, EMPTY, dtype=np.uint32)
    np.minimum.at(sig, doc * num_perm + bins, hashes)
    sig = sig.reshape(n_docs, num_perm)
    _densify(sig)
    return sig


def _densify(sig: np.ndarray) -> None:
    # Empty bin j borrows the value of the first non-empty bin in a fixed random order of the bins (its own
    # permutation pi_j, the same for every document), so two documents with the same non-empty bins fill their
    # empty bins the same way.
    empty = sig == EMPTY
    n_full = sig.shape[1] - empty.sum(axis=1)
    todo = np.flatnonzero((n_full > 0) & (n_full < sig.shape[1]))
    if not len(todo):
        return
    order, rank = _densify_orders(sig.shape[1])
    few = todo[n_full[todo] <= _FEW]
    many = todo[n_full[todo] > _FEW]
    for start in range(0, len(few), 4096):
        _borrow_few(sig, few[start: start + 4096], rank)
    if len(many):
        _borrow_rounds(sig, many, order)


_FEW = 16


def _borrow_few(sig: np.ndarray, rows: np.ndarray, rank: np.ndarray) -> None:
    """Documents with few non-empty bins: pick, for every bin, the best-ranked non-empty bin directly."""
    block = sig[rows]                                   # (R, m)
    full = block != EMPTY
    # the non-empty bins of each row, in bin order; rows have at most _FEW of them
    nz = np.argsort(~full, axis=1, kind="stable")[:, :_FEW]
    nz_ok = np.take_along_axis(full, nz, axis=1)
    rank_t = np.ascontiguousarray(rank.T)               # rank_t[k, j]: position of bin k in bin j's order
    best = nz[:, :1].repeat(block.shape[1], axis=1)     # (R, m) best source bin so far for each bin
    best_rank = rank_t[nz[:, 0]]
    for s in range(1, nz.shape[1]):
        cand = nz[:, s]
        r = rank_t[cand]                                # (R, m)
        better = (r < best_rank) & nz_ok[:, s:s + 1]
        np.copyto(best_rank, r, where=better)
        np.copyto(best, cand[:, None], where=better)
    borrowed = np.take_along_axis(block, best, axis=1)
    sig[rows] = np.where(full, block, borrowed)


def _borrow_rounds(sig: np.ndarray, rows: np.ndarray, order: np.ndarray) -> None:
    """Documents with many non-empty bins: walk each empty bin's order until a non-empty bin turns up."""
    orig = sig[rows]
    filled = orig.copy()
    missing = orig == EMPTY
    live = np.arange(len(rows))
    for t in range(order.shape[0]):
        src = orig[:, order[t]]
        hit = missing & (src != EMPTY)
        np.copyto(filled, src, where=hit)
        missing ^= hit
        if t % 4 == 3:  # drop finished rows now and then, not every round
            keep = missing.any(axis=1)
            if not keep.any():
                break
            if keep.mean() < 0.75:
                sig[rows[live[~keep]]] = filled[~keep]
                orig, filled, missing, live = orig[keep], filled[keep], missing[keep], live[keep]
    sig[rows[live]] = filled


@lru_cache(maxsize=4)
def _densify_orders(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """order[t, j]: the t-th bin in bin j's order; rank[j, k]: the position of bin k in bin j's order."""
    keys = splitmix64(0xD3A5, num_perm * num_perm).reshape(num_perm, num_perm)
    perm = np.argsort(keys, axis=1, kind="stable")      # row j: bin j's order
    rank = np.argsort(perm, axis=1, kind="stable").astype(np.uint8)
    return np.ascontiguousarray(perm.T), rank


def perm_signatures(hashes: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int, seed: int = 0,
                    chunk: int = 2048) -> np.ndarray:
    """Classic MinHash with `num_perm` multiply-shift hash functions: an (n_docs, num_perm) uint32 array."""
    coef = splitmix64(seed ^ 0x5EED, 2 * num_perm)
    a = coef[:num_perm] | np.uint64(1)
    b = coef[num_perm:]
    order = np.argsort(doc, kind="stable")
    x = hashes[order].astype(np.uint64)
    d = doc[order]
    sig = np.full((n_docs, num_perm), EMPTY, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for s in range(0, len(x), chunk):
            xs, ds = x[s: s + chunk], d[s: s + chunk]
            h = xs[:, None] * a[None, :]
            h += b
            h >>= np.uint64(32)
            starts = np.flatnonzero(np.r_[True, ds[1:] != ds[:-1]])
            mins = np.minimum.reduceat(h, starts, axis=0).astype(np.uint32)
            rows = ds[starts]
            sig[rows] = np.minimum(sig[rows], mins)
    return sig


SIGNATURES = {"oph": oph_signatures, "perm": perm_signatures}


def signatures(scheme: str, hashes: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int,
               seed: int = 0) -> np.ndarray:
    """MinHash signatures with the named scheme (a key of SIGNATURES)."""
    return SIGNATURES[scheme](hashes, doc, n_docs, num_perm, seed=seed)


SKETCH_EMPTY = np.uint16(0xFFFF)


def verification_sketch(hashes: np.ndarray, doc: np.ndarray, n_docs: int, bins: int) -> np.ndarray:
    """A finer one-permutation sketch for verifying candidate pairs: an (n_docs, bins) uint16 array.

    Each shingle hash falls in one of `bins` bins; a bin keeps the low 16 bits of its smallest hash, or
    SKETCH_EMPTY. Empty bins are not filled in: `estimate_from_sketches` skips bins empty in both documents
    (the one-permutation estimator of Li, Owen and Zhang, NIPS 2012). With 448 bins the estimate's standard
    error is half that of 112 values, which matters for pairs near the threshold.
    """
    fine = ((hashes.astype(np.uint64) * np.uint64(bins)) >> np.uint64(32)).astype(np.int64)
    mins = np.full(n_docs * bins, EMPTY, dtype=np.uint32)
    np.minimum.at(mins, doc * bins + fine, hashes)
    out = (mins & np.uint32(0xFFFF)).astype(np.uint16)
    out[(out == SKETCH_EMPTY) & (mins != EMPTY)] = 0xFFFE  # keep real values apart from the empty mark
    return out.reshape(n_docs, bins)


def estimate_from_sketches(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaccard estimate of row pairs of two verification sketches (bins empty in both do not count)."""
    used = (a != SKETCH_EMPTY) | (b != SKETCH_EMPTY)
    same = (a == b) & used
    return same.sum(axis=-1) / np.maximum(used.sum(axis=-1), 1)


def estimate_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of equal signature values, row by row: the MinHash estimate of Jaccard similarity."""
    return (a == b).mean(axis=-1)
