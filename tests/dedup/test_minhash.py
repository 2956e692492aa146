import random

import numpy as np
import pytest

from gecko_cli.dedup import minhash
from gecko_cli.dedup.normalize import normalize_batch, normalize_text


def _char_shingles(text, k=5):
    t = normalize_text(text)
    return {t[i:i + k] for i in range(len(t) - k + 1)} if len(t) >= k else {t}


def _jaccard(a, b):
    return len(a & b) / len(a | b)


def _sigs(texts, scheme="oph", k=5, num_perm=112):
    codes, off = normalize_batch(texts)
    h, d = minhash.shingle_hashes(codes, off, k)
    return minhash.signatures(scheme, h, d, len(texts), num_perm)


def _variants(seed=0, n=12):
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnop") for _ in range(6)) for _ in range(3000)]
    base = " ".join(rng.choice(words) for _ in range(400))
    out = []
    for i in range(n):
        w = base.split()
        for _ in range(int(len(w) * 0.04 * i)):
            w[rng.randrange(len(w))] = rng.choice(words)
        out.append(" ".join(w))
    return base, out


def test_shingle_count_and_short_documents():
    codes, off = normalize_batch(["abcdefg", "abc", "", "abcde"])
    h, d = minhash.shingle_hashes(codes, off, 5)
    assert np.bincount(d, minlength=4).tolist() == [3, 1, 0, 1]
    assert h.dtype == np.uint32


def test_shingles_identical_text_identical_hashes_and_no_cross_document_windows():
    codes, off = normalize_batch(["hello world", "hello world", "xx"])
    h, d = minhash.shingle_hashes(codes, off, 5)
    assert sorted(h[d == 0]) == sorted(h[d == 1])
    # "xx" is one shingle of its own text only: another neighbour must not change it
    codes2, off2 = normalize_batch(["xx", "something else"])
    h2, d2 = minhash.shingle_hashes(codes2, off2, 5)
    assert h[d == 2].tolist() == h2[d2 == 0].tolist()


@pytest.mark.parametrize("scheme", ["oph", "perm"])
def test_estimate_tracks_exact_jaccard(scheme):
    base, variants = _variants()
    sig = _sigs([base] + variants, scheme)
    errors = []
    for i, v in enumerate(variants):
        exact = _jaccard(_char_shingles(base), _char_shingles(v))
        est = float(minhash.estimate_jaccard(sig[0], sig[i + 1]))
        errors.append(est - exact)
    errors = np.array(errors)
    # 112 values: standard error is at most 0.05; the mean error shows bias
    assert np.abs(errors).max() < 0.15
    assert abs(errors.mean()) < 0.04


def test_identical_documents_have_identical_signatures_and_disjoint_ones_differ():
    sig = _sigs(["the same text here", "The same  TEXT here", "완전히 다른 한국어 문장입니다"])
    assert np.array_equal(sig[0], sig[1])
    assert minhash.estimate_jaccard(sig[0], sig[2]) < 0.1


def test_densification_fills_every_bin_consistently():
    # short documents leave most of the 112 bins empty before densification
    sig = _sigs(["ㅋㅋㅋ 재밌어요", "ㅋㅋㅋ 재밌어요", "a short one", ""])
    assert not (sig[:3] == minhash.EMPTY).any()
    assert (sig[3] == minhash.EMPTY).all()  # an empty document has no shingles
    assert np.array_equal(sig[0], sig[1])


def test_densification_strategies_agree():
    rng = np.random.default_rng(1)
    sig = np.full((300, 112), minhash.EMPTY, np.uint32)
    for r in range(300):
        k = rng.integers(1, minhash._FEW + 1)
        sig[r, rng.choice(112, k, replace=False)] = rng.integers(0, 2**31, k)
    a, b = sig.copy(), sig.copy()
    order, rank = minhash._densify_orders(112)
    rows = np.arange(300)
    minhash._borrow_few(a, rows, rank)
    minhash._borrow_rounds(b, rows, order)
    assert np.array_equal(a, b)
    assert not (a == minhash.EMPTY).any()


def test_word_shingles():
    codes, off = normalize_batch(["one two three four five six", "one two three four five six", "one"])
    tok, toff = minhash.word_tokens(codes, off)
    assert np.diff(toff).tolist() == [6, 6, 1]
    h, d = minhash.shingle_hashes(tok, toff, 5)
    assert np.bincount(d).tolist() == [2, 2, 1]
    assert sorted(h[d == 0]) == sorted(h[d == 1])


def test_seed_changes_hashes():
    codes, off = normalize_batch(["some text to hash"])
    h0, _ = minhash.shingle_hashes(codes, off, 5, seed=0)
    h1, _ = minhash.shingle_hashes(codes, off, 5, seed=1)
    assert not np.array_equal(h0, h1)
