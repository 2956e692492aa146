"""Core of pack: concat and best-fit packing of hand-made and random documents."""

from __future__ import annotations

import numpy as np
import pytest

from gecko_cli.pack.core import (
    N_LANGS,
    Docs,
    Rows,
    concat_docs,
    cut_share,
    empty_docs,
    pack_best_fit,
    pack_concat,
    padding_share,
)
from gecko_cli.pack.encode import wrap
from gecko_cli.pack.reader import segments

PAD, BOS, EOS = 0, 1, 2
STRATEGIES = [pack_concat, pack_best_fit]


def make_docs(lengths: list[int], langs: list[int] | None = None, nbytes: list[int] | None = None,
              first_id: int = 1) -> Docs:
    """Documents of the given lengths with distinct ids (first_id, first_id + 1, ...): no id equals PAD."""
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    langs = [i % 4 for i in range(len(lengths))] if langs is None else langs
    nbytes = [3 * n + 1 for n in lengths] if nbytes is None else nbytes
    return Docs(tokens=np.arange(first_id, first_id + offsets[-1], dtype=np.uint32), offsets=offsets,
                langs=np.asarray(langs, np.uint8), nbytes=np.asarray(nbytes, np.int64))


def random_docs(n: int, low: int, high: int, seed: int) -> Docs:
    """n random documents of low..high tokens, random ids, languages and byte counts."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(low, high + 1, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Docs(tokens=rng.integers(1, 50_000, offsets[-1], dtype=np.uint32), offsets=offsets,
                langs=rng.integers(0, 4, n).astype(np.uint8), nbytes=rng.integers(0, 10 * lengths + 1))


def doc_tokens(docs: Docs, i: int) -> np.ndarray:
    return docs.tokens[docs.offsets[i]:docs.offsets[i + 1]]


def real_tokens(rows: Rows) -> np.ndarray:
    """The real tokens of the rows, read row by row."""
    return rows.tokens[np.arange(rows.tokens.shape[1]) < rows.used[:, None]]


def check_invariants(docs: Docs, rows: Rows, seq_len: int) -> None:
    """What holds for any strategy: shapes, padding only at the end, counts and byte totals."""
    n_rows = len(rows.tokens)
    assert rows.tokens.shape == (n_rows, seq_len) and rows.tokens.dtype == np.uint32
    assert rows.used.dtype == np.int32 and rows.lang_tokens.dtype == np.int32 and rows.text_bytes.dtype == np.int64
    assert rows.lang_tokens.shape == rows.lang_bytes.shape == (n_rows, 4) and rows.lang_bytes.dtype == np.int64
    assert rows.segment_langs.dtype == np.uint8 and rows.segment_counts.dtype == np.int32
    assert np.all((rows.used >= 1) & (rows.used <= seq_len))
    pad_mask = np.arange(seq_len) >= rows.used[:, None]
    assert np.all(rows.tokens[pad_mask] == PAD)
    assert rows.padding == int(pad_mask.sum()) == n_rows * seq_len - int(rows.used.sum())
    np.testing.assert_array_equal(rows.lang_tokens.sum(axis=1), rows.used)
    lengths = np.diff(docs.offsets)
    want_lang = np.bincount(docs.langs, weights=lengths, minlength=4).astype(np.int64)
    np.testing.assert_array_equal(rows.lang_tokens.sum(axis=0), want_lang)
    assert int(rows.text_bytes.sum()) == int(docs.nbytes[lengths > 0].sum())
    assert np.all(rows.text_bytes >= 0)
    # Bytes by language: they add up to each row's text bytes, and to each language's documents over all rows.
    np.testing.assert_array_equal(rows.lang_bytes.sum(axis=1), rows.text_bytes)
    assert np.all(rows.lang_bytes >= 0) and np.all((rows.lang_bytes > 0) <= (rows.lang_tokens > 0))
    want_bytes = np.bincount(docs.langs[lengths > 0], weights=docs.nbytes[lengths > 0], minlength=4)
    np.testing.assert_array_equal(rows.lang_bytes.sum(axis=0), want_bytes.astype(np.int64))
    assert len(rows.segment_counts) == n_rows and np.all(rows.segment_counts >= 1)
    assert int(rows.segment_counts.sum()) == len(rows.segment_langs)
    assert np.all(rows.segment_langs < N_LANGS)
    assert rows.docs == int(np.count_nonzero(lengths))
    np.testing.assert_array_equal(np.sort(real_tokens(rows)), np.sort(docs.tokens))


def test_concat_is_the_stream_cut_into_rows():
    docs = make_docs([3, 5, 2, 6])  # 16 tokens
    rows = pack_concat(docs, seq_len=4, pad_id=PAD)
    np.testing.assert_array_equal(rows.tokens, docs.tokens.reshape(4, 4))
    np.testing.assert_array_equal(rows.used, [4, 4, 4, 4])
    assert rows.padding == 0 and rows.docs == 4
    assert rows.docs_cut == 2  # doc1 spans rows 0-1, doc3 rows 2-3
    check_invariants(docs, rows, 4)


def test_concat_long_document_spans_rows_and_last_row_is_padded():
    docs = make_docs([2, 11], langs=[0, 2], nbytes=[5, 110])
    rows = pack_concat(docs, seq_len=4, pad_id=PAD)
    assert rows.tokens.shape == (4, 4)
    np.testing.assert_array_equal(rows.used, [4, 4, 4, 1])
    np.testing.assert_array_equal(rows.tokens[3], [13, PAD, PAD, PAD])
    assert rows.padding == 3 and rows.docs_cut == 1
    np.testing.assert_array_equal(rows.lang_tokens, [[2, 0, 2, 0], [0, 0, 4, 0], [0, 0, 4, 0], [0, 0, 1, 0]])
    # doc1 (110 bytes, 11 tokens) gives 10 bytes per token; doc0 all its 5 bytes to row 0.
    np.testing.assert_array_equal(rows.text_bytes, [25, 40, 40, 10])
    check_invariants(docs, rows, 4)


def test_byte_shares_add_up_per_document():
    docs = make_docs([7], nbytes=[10])
    rows = pack_concat(docs, seq_len=3, pad_id=PAD)
    # cumulative floor: floor(10*3/7)=4, floor(10*6/7)=8, 10 -> 4, 4, 2
    np.testing.assert_array_equal(rows.text_bytes, [4, 4, 2])
    rows = pack_best_fit(docs, seq_len=3, pad_id=PAD)
    np.testing.assert_array_equal(rows.text_bytes, [4, 4, 2])


def test_best_fit_never_cuts_short_documents():
    docs = make_docs([5, 3, 8, 2, 6, 1, 4, 7, 8])
    rows = pack_best_fit(docs, seq_len=8, pad_id=PAD)
    assert rows.docs_cut == 0
    for i in range(len(docs)):
        want = doc_tokens(docs, i)
        hits = [r for r in range(len(rows.tokens)) if want[0] in rows.tokens[r, :rows.used[r]]]
        assert len(hits) == 1
        r = hits[0]
        pos = int(np.flatnonzero(rows.tokens[r] == want[0])[0])
        np.testing.assert_array_equal(rows.tokens[r, pos:pos + len(want)], want)
    # 44 tokens in rows of 8: best-fit decreasing finds the 6 rows that are the minimum.
    assert len(rows.tokens) == 6 and rows.padding == 4
    check_invariants(docs, rows, 8)


def test_best_fit_hand_order():
    docs = make_docs([3, 5, 2, 6], langs=[0, 1, 2, 3], nbytes=[30, 50, 20, 60])
    rows = pack_best_fit(docs, seq_len=8, pad_id=PAD)
    # Decreasing: 6 (doc3) opens row 0, 5 (doc1) opens row 1, 3 (doc0) into row 1 (room 3), 2 (doc2) into row 0.
    want0 = np.concatenate([doc_tokens(docs, 3), doc_tokens(docs, 2)])
    want1 = np.concatenate([doc_tokens(docs, 1), doc_tokens(docs, 0)])
    np.testing.assert_array_equal(rows.tokens, [want0, want1])
    np.testing.assert_array_equal(rows.used, [8, 8])
    np.testing.assert_array_equal(rows.lang_tokens, [[0, 0, 2, 6], [3, 5, 0, 0]])
    np.testing.assert_array_equal(rows.text_bytes, [80, 80])
    assert rows.padding == 0 and rows.docs_cut == 0


def test_best_fit_picks_the_fullest_row_that_fits():
    # 7 opens row 0 (room 3), 6 opens row 1 (room 4), 4 goes to row 1, 3 to row 0 (the fullest that fits).
    docs = make_docs([6, 7, 3, 4])
    rows = pack_best_fit(docs, seq_len=10, pad_id=PAD)
    np.testing.assert_array_equal(rows.tokens[0], np.concatenate([doc_tokens(docs, 1), doc_tokens(docs, 2)]))
    np.testing.assert_array_equal(rows.tokens[1], np.concatenate([doc_tokens(docs, 0), doc_tokens(docs, 3)]))


def test_best_fit_cuts_long_documents_and_counts_them():
    docs = make_docs([10, 3, 8, 16], langs=[1, 0, 2, 3], nbytes=[100, 3, 8, 32])
    rows = pack_best_fit(docs, seq_len=4, pad_id=PAD)
    # doc0 -> 2 full rows + remainder 2; doc1 (3) not cut; doc2 -> 2 full rows; doc3 -> 4 full rows.
    assert rows.docs_cut == 3
    np.testing.assert_array_equal(rows.tokens[:2].ravel(), doc_tokens(docs, 0)[:8])
    np.testing.assert_array_equal(rows.tokens[2:4].ravel(), doc_tokens(docs, 2))
    np.testing.assert_array_equal(rows.tokens[4:8].ravel(), doc_tokens(docs, 3))
    # Remainders: doc1 (3) opens row 8, doc0's 2 tokens open row 9 (no room left in row 8).
    np.testing.assert_array_equal(rows.tokens[8], [*doc_tokens(docs, 1), PAD])
    np.testing.assert_array_equal(rows.tokens[9], [*doc_tokens(docs, 0)[8:], PAD, PAD])
    np.testing.assert_array_equal(rows.text_bytes[[0, 1, 9]], [40, 40, 20])
    check_invariants(docs, rows, 4)


def first_fit_padding(lengths: np.ndarray, seq_len: int) -> int:
    """Padding of a naive first-fit in input order (documents no longer than seq_len)."""
    rooms: list[int] = []
    for n in lengths.tolist():
        for i, room in enumerate(rooms):
            if room >= n:
                rooms[i] -= n
                break
        else:
            rooms.append(seq_len - n)
    return sum(rooms)


def test_best_fit_fills_rows_better_than_first_fit():
    docs = random_docs(2000, 2, 512, seed=3)
    rows = pack_best_fit(docs, seq_len=512, pad_id=PAD)
    lengths = np.diff(docs.offsets)
    assert rows.docs_cut == 0
    assert rows.padding < first_fit_padding(lengths, 512)
    assert len(rows.tokens) >= -(-int(lengths.sum()) // 512)
    assert padding_share(rows) < 0.01
    check_invariants(docs, rows, 512)


@pytest.mark.parametrize("pack", STRATEGIES)
def test_deterministic(pack):
    a = pack(random_docs(500, 1, 300, seed=1), 128, PAD)
    b = pack(random_docs(500, 1, 300, seed=1), 128, PAD)
    for name in ("tokens", "used", "lang_tokens", "lang_bytes", "text_bytes", "segment_langs", "segment_counts"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
    assert (a.docs, a.docs_cut, a.padding) == (b.docs, b.docs_cut, b.padding)


@pytest.mark.parametrize("pack", STRATEGIES)
def test_empty_input_gives_zero_rows(pack):
    for docs in (empty_docs(), make_docs([0, 0])):
        rows = pack(docs, 8, PAD)
        assert rows.tokens.shape == (0, 8)
        assert len(rows.used) == len(rows.text_bytes) == 0 and rows.lang_tokens.shape == (0, 4)
        assert (rows.docs, rows.docs_cut, rows.padding) == (0, 0, 0)
        assert padding_share(rows) == 0.0 and cut_share(rows) == 0.0


@pytest.mark.parametrize("pack", STRATEGIES)
def test_seq_len_two(pack):
    docs = make_docs([2, 3, 2, 1, 5])
    rows = pack(docs, 2, PAD)
    check_invariants(docs, rows, 2)
    assert len(rows.tokens) == 7  # best-fit: 5 full rows, then remainders 1 + 1 and 1


@pytest.mark.parametrize("pack", STRATEGIES)
def test_empty_documents_are_skipped(pack):
    docs = make_docs([3, 0, 4, 0], nbytes=[3, 7, 4, 9])
    rows = pack(docs, 4, PAD)
    assert rows.docs == 2
    check_invariants(docs, rows, 4)


@pytest.mark.parametrize("pack", STRATEGIES)
@pytest.mark.parametrize("seed", range(6))
def test_random_documents_keep_every_token(pack, seed):
    rng = np.random.default_rng(100 + seed)
    seq_len = int(rng.integers(1, 64))
    docs = random_docs(int(rng.integers(1, 300)), 1, 3 * seq_len, seed=seed)
    rows = pack(docs, seq_len, PAD)
    check_invariants(docs, rows, seq_len)
    if pack is pack_concat:
        np.testing.assert_array_equal(real_tokens(rows), docs.tokens)
        assert rows.padding < seq_len
    else:
        lengths = np.diff(docs.offsets)
        assert rows.docs_cut == int(np.count_nonzero(lengths > seq_len))


def test_concat_docs_joins_batches():
    a, b = make_docs([2, 3], langs=[0, 1]), make_docs([4], langs=[2], first_id=100)
    docs = concat_docs([a, empty_docs(), b])
    np.testing.assert_array_equal(docs.offsets, [0, 2, 5, 9])
    np.testing.assert_array_equal(docs.tokens, np.concatenate([a.tokens, b.tokens]))
    np.testing.assert_array_equal(docs.langs, [0, 1, 2])
    np.testing.assert_array_equal(docs.nbytes, np.concatenate([a.nbytes, b.nbytes]))
    assert docs.tokens.dtype == np.uint32 and docs.offsets.dtype == np.int64
    assert len(concat_docs([])) == 0 and len(docs) == 3


@pytest.mark.parametrize("bad", [dict(seq_len=0), dict(pad_id=-1), dict(langs=[0, 4]), dict(offsets=[0, 2, 4])])
def test_bad_arguments_raise(bad):
    docs = make_docs([2, 3])
    if "langs" in bad:
        docs.langs = np.asarray(bad["langs"], np.uint8)
    if "offsets" in bad:
        docs.offsets = np.asarray(bad["offsets"], np.int64)
    with pytest.raises(ValueError):
        pack_concat(docs, bad.get("seq_len", 4), bad.get("pad_id", PAD))


def wrapped_docs(lengths: list[int], langs: list[int], nbytes: list[int] | None = None) -> Docs:
    """Documents wrapped as <s> ids </s> (ids from 3 up, all distinct), as pack's encode makes them."""
    ids, first = [], 3
    for n in lengths:
        ids.append(list(range(first, first + n)))
        first += n
    tokens, offsets = wrap(ids, BOS, EOS)
    nbytes = [7 * n + 5 for n in lengths] if nbytes is None else nbytes
    return Docs(tokens=tokens, offsets=offsets, langs=np.asarray(langs, np.uint8), nbytes=np.asarray(nbytes, np.int64))


def token_languages(docs: Docs, pack, seq_len: int) -> np.ndarray:
    """The language of the document behind each slot of the rows, -1 on padding: the same documents packed
    with every token replaced by its document's language (the layout depends on the lengths alone)."""
    lengths = np.diff(docs.offsets)
    stream = Docs(tokens=np.repeat(docs.langs.astype(np.uint32) + 1, lengths), offsets=docs.offsets,
                  langs=docs.langs, nbytes=docs.nbytes)
    return pack(stream, seq_len, PAD).tokens.astype(np.int64) - 1


def reader_languages(rows: Rows) -> np.ndarray:
    """Each token's language as the reader rebuilds it: its row's segment languages indexed by segment id."""
    segment_ids, _, loss_mask = segments(rows.tokens, rows.used, BOS, EOS)
    np.testing.assert_array_equal(segment_ids.max(axis=1), rows.segment_counts)
    first = np.concatenate([[0], np.cumsum(rows.segment_counts)])[:-1]
    index = np.maximum(first[:, None] + segment_ids - 1, 0)
    return np.where(loss_mask, rows.segment_langs.astype(np.int64)[index], -1)


@pytest.mark.parametrize("pack", STRATEGIES)
def test_segment_languages_on_a_hand_made_mix(pack):
    # ko, en, code and other documents, some longer than a row (cut), some shorter (best-fit moves them around).
    docs = wrapped_docs([3, 14, 1, 6, 25, 2, 9, 4, 0, 11], langs=[0, 1, 2, 0, 2, 1, 3, 2, 1, 0])
    rows = pack(docs, 8, PAD, bos_id=BOS, eos_id=EOS)
    check_invariants(docs, rows, 8)
    assert rows.docs_cut >= 3
    np.testing.assert_array_equal(reader_languages(rows), token_languages(docs, pack, 8))
    # Without a bos id, each piece is a segment: the same for documents wrapped as <s> ... </s>.
    plain = pack(docs, 8, PAD)
    np.testing.assert_array_equal(plain.segment_langs, rows.segment_langs)
    np.testing.assert_array_equal(plain.segment_counts, rows.segment_counts)


def test_segment_languages_hand_checked():
    # concat, rows of 6: doc0 (ko) <s> 3 4 </s>, doc1 (code) <s> 5..11 </s> cut twice, doc2 (en) <s> 12 </s>.
    docs = wrapped_docs([2, 7, 1], langs=[0, 2, 1], nbytes=[4, 18, 3])
    rows = pack_concat(docs, 6, PAD, bos_id=BOS, eos_id=EOS)
    np.testing.assert_array_equal(rows.tokens, [[1, 3, 4, 2, 1, 5], [6, 7, 8, 9, 10, 11], [2, 1, 12, 2, 0, 0]])
    np.testing.assert_array_equal(rows.segment_counts, [2, 1, 2])
    np.testing.assert_array_equal(rows.segment_langs, [0, 2, 2, 2, 1])
    # doc1: 18 bytes over 9 tokens, 2 bytes a token: 4 in row 0 (2 tokens), 12 in row 1 (6), 2 in row 2 (1).
    np.testing.assert_array_equal(rows.lang_bytes, [[4, 0, 4, 0], [0, 0, 12, 0], [0, 3, 2, 0]])
    np.testing.assert_array_equal(rows.text_bytes, [8, 12, 5])


def test_best_fit_rest_of_a_cut_document_is_a_segment():
    # Rows of 8: doc0 (en, 11 tokens with <s> </s>) fills row 0 and leaves a 3-token rest without <s>; doc1 (code,
    # 4 tokens) opens row 1 and the rest follows it: a segment of its own, opened by the </s> before it.
    docs = wrapped_docs([9, 2], langs=[1, 2])
    rows = pack_best_fit(docs, 8, PAD, bos_id=BOS, eos_id=EOS)
    np.testing.assert_array_equal(rows.tokens[1], [BOS, 12, 13, EOS, 10, 11, EOS, PAD])
    np.testing.assert_array_equal(rows.segment_counts, [1, 2])
    np.testing.assert_array_equal(rows.segment_langs, [1, 2, 1])
    np.testing.assert_array_equal(reader_languages(rows), [[1] * 8, [2, 2, 2, 2, 1, 1, 1, -1]])


@pytest.mark.parametrize("pack", STRATEGIES)
def test_segments_follow_every_bos_and_eos_token(pack):
    # Whatever the tokens, the segments are the reader's: an <s> or a </s> inside a document opens one too, a row
    # start always does, and a bos or eos id equal to the pad id is ignored in the padding.
    docs = make_docs([5, 3, 9], langs=[1, 2, 0])
    docs.tokens[[2, 6, 10, 12]] = [4, 5, 4, 5]
    for bos, eos in ((4, 5), (4, None), (PAD, PAD), (4, 16)):
        rows = pack(docs, 4, PAD, bos_id=bos, eos_id=eos)
        check_invariants(docs, rows, 4)
        segment_ids, positions, loss_mask = segments(rows.tokens, rows.used, bos, eos)
        np.testing.assert_array_equal(segment_ids.max(axis=1), rows.segment_counts)
        truth = token_languages(docs, pack, 4)
        np.testing.assert_array_equal(rows.segment_langs, truth[(positions == 0) & loss_mask])


@pytest.mark.parametrize("pack", STRATEGIES)
@pytest.mark.parametrize("seed", range(4))
def test_segment_languages_of_random_documents(pack, seed):
    rng = np.random.default_rng(200 + seed)
    seq_len = int(rng.integers(2, 48))
    n = int(rng.integers(1, 200))
    lengths = rng.integers(0, 3 * seq_len, n).tolist()
    docs = wrapped_docs(lengths, langs=rng.integers(0, 4, n).tolist(), nbytes=rng.integers(0, 500, n).tolist())
    rows = pack(docs, seq_len, PAD, bos_id=BOS, eos_id=EOS)
    check_invariants(docs, rows, seq_len)
    np.testing.assert_array_equal(reader_languages(rows), token_languages(docs, pack, seq_len))
