import itertools

import numpy as np

from gecko_cli.dedup import core, lsh
from gecko_cli.dedup.unionfind import UnionFind, components
from gecko_cli.dedup.work import BAD, EMPTY_DOC, EXACT, KEPT, NEAR, OK


def test_union_find_roots_are_smallest_and_order_free():
    edges = np.array([[5, 9], [9, 12], [3, 4], [12, 7], [4, 100]])
    for perm in itertools.permutations(range(len(edges))):
        nodes, roots = components(edges[list(perm)])
        got = dict(zip(nodes.tolist(), roots.tolist()))
        assert got == {3: 3, 4: 3, 100: 3, 5: 5, 7: 5, 9: 5, 12: 5}


def test_union_find_long_chain():
    n = 20000
    edges = np.stack([np.arange(n - 1, 0, -1), np.arange(n - 2, -1, -1)], axis=1)
    uf = UnionFind(edges.ravel())
    uf.union_edges(edges)
    assert set(uf.roots().tolist()) == {0}


def test_candidate_pairs_small_and_large_buckets():
    keys = np.array([7, 7, 7, 1, 2, 2] + [9] * 40, dtype=np.uint64)
    ids = np.arange(len(keys), dtype=np.int64)[::-1].copy()
    pairs = lsh.candidate_pairs(keys, ids)
    got = {tuple(p) for p in pairs.tolist()}
    small = {tuple(sorted(p)) for p in itertools.combinations(ids[:3].tolist(), 2)} | {tuple(sorted(ids[4:6]))}
    assert small <= got
    big = sorted(ids[6:].tolist())
    # a large bucket links every member to its first member, so verified pairs can connect it all
    assert all((big[0], m) in got for m in big[1:])
    assert all(a < b for a, b in got)
    assert len(got) == len(pairs)


def test_verify_keeps_only_similar_pairs():
    sig = np.zeros((3, 10), dtype=np.uint32)
    sig[1] = sig[0]
    sig[1, :1] = 99   # 0.9 similar to row 0
    sig[2, :5] = 99   # 0.5 similar to row 0
    pairs = np.array([[0, 1], [0, 2]])
    kept = lsh.verify(pairs, lambda idx: sig[idx], threshold=0.8)
    assert kept.tolist() == [[0, 1]]


def test_optimal_bands_matches_banding_theory():
    b, r = lsh.optimal_bands(0.8, 112)
    assert b * r <= 112
    # the S-curve's steepest point (1/b)^(1/r) sits near the threshold
    assert abs((1 / b) ** (1 / r) - 0.8) < 0.1


def test_exact_representatives_first_in_order():
    hashes = np.array([[1, 1], [2, 2], [1, 1], [3, 3], [2, 2], [1, 1]], dtype=np.uint64)
    ok = np.array([True, True, True, True, True, False])
    rep = core.exact_representatives(hashes, ok)
    assert rep.tolist() == [0, 1, 0, 3, 1, 5]


def _decide(keep="first", nchars=None):
    # docs: 0 base, 1 exact copy of 0, 2 near 0, 3 alone, 4 empty, 5 bad, 6 near 2 (chain)
    status = np.array([OK, OK, OK, OK, EMPTY_DOC, BAD, OK], dtype=np.uint8)
    rep = np.array([0, 0, 2, 3, 4, 5, 6])
    edges = np.array([[0, 2], [2, 6]])
    nchars = np.array([10, 10, 30, 5, 0, 0, 20]) if nchars is None else nchars
    return core.decide(status, rep, edges, nchars, keep)


def test_decide_first():
    d = _decide()
    assert d["reason"].tolist() == [KEPT, EXACT, NEAR, KEPT, 3, 4, NEAR]
    assert d["dup_of"].tolist() == [-1, 0, 0, -1, -1, -1, 0]
    assert d["cluster"].tolist() == [0, 0, 0, -1, -1, -1, 0]


def test_decide_longest_keeps_longest_and_exact_copies_follow():
    d = _decide(keep="longest")
    assert d["reason"].tolist() == [NEAR, EXACT, KEPT, KEPT, 3, 4, NEAR]
    assert d["dup_of"].tolist() == [2, 2, -1, -1, -1, -1, 2]
    assert d["cluster"].tolist() == [2, 2, 2, -1, -1, -1, 2]


def test_cluster_summary_and_shard_plan():
    cluster = np.array([0, 0, 0, -1, 4, 4, -1])
    s = core.cluster_summary(cluster)
    assert s["count"] == 2 and s["documents"] == 5
    assert s["largest"][0] == (0, 3)
    assert s["size_histogram"]["2"] == 1 and s["size_histogram"]["3-4"] == 1
    plan = core.shard_plan([np.array([5, 5, 5, 5]), np.array([], dtype=np.int64), np.array([20])], 10)
    assert plan == [[2, 2], [], [1]]
