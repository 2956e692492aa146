"""The language-count kernel against the same counts by numpy on the texts' shapes (balance/langid.py)."""

import random

import numpy as np
import pyarrow as pa
import pytest

from gecko_cli import kernels
from gecko_cli.balance import langid
from gecko_cli.kernels import scripts
from helpers import corpus_texts, utf8

# Characters of every class of the shape, both ends of every mixed-block range and their neighbours, 2- to
# 4-byte letters, a lone surrogate and a NUL inside a text. No "\r": langid makes every line end "\n" first.
EDGES = [c for lo, hi in (r for ranges in langid._MIXED_RANGES for r in ranges) for c in (lo - 1, lo, hi, hi + 1)]
PIECES = (["a", "Z", "é", "ÿ", "ž", "한", "글", "ㅋ", "ᄀ", "Я", "α", "あ", "中", "😀", "\ud800", "\0", "7", " ", "\t",
           "\n", "\n\n", "\n\n\n", "$", "(", "{", ";", "@", "_", "\\", ".", ",", "“", "a a", "h h", "한 글", "\n "]
          + [chr(c) for c in EDGES] + [chr(c) for c in range(0x3000, 0x3010)])


def _random_texts(seed: int, count: int) -> list[str]:
    r = random.Random(seed)
    return ["".join(r.choice(PIECES) for _ in range(r.randint(1, 40))) for _ in range(count)]


def _numpy(texts: list[str]) -> scripts.ScriptCounts:
    lengths = np.array([len(t) for t in texts], np.int64)
    data = ("\0".join(texts) + "\0").encode("utf-8", "surrogatepass")
    shape, starts, letters, newlines, pairs = langid._shape_counts(texts, lengths, data, np.ones(len(texts), bool))
    shapes = [shape[a:a + n] for a, n in zip(starts.tolist(), lengths.tolist())]
    word_pairs, symbols, indents, size = langid._shape_parts(shapes, letters[0])
    return letters, newlines, pairs, word_pairs, symbols, indents, size


def _same(texts: list[str]) -> None:
    data = ("\0".join(texts) + "\0").encode("utf-8", "surrogatepass")
    got = scripts.counts(data, np.array([len(t) for t in texts]), langid._CLASSES)
    assert got is not None
    # the same counts read in place from an Arrow column, at shuffled rows of a chunked one
    order = np.random.default_rng(len(texts)).permutation(len(texts))
    shuffled = [texts[i] for i in order]
    column = pa.chunked_array([utf8(["ㅋ a\n"] + shuffled[:3]), utf8(shuffled[3:])])
    rows = np.empty(len(texts), np.int64)
    rows[order] = np.arange(len(texts)) + 1
    in_place = scripts.counts_column(column, rows, langid._CLASSES)
    for name, a, b in zip(scripts.ScriptCounts._fields, in_place, got):
        np.testing.assert_array_equal(a, b, err_msg=name)
    (hangul, latin, other), newlines, pairs, word_pairs, symbols, indents, size = _numpy(texts)
    for name, a, b in [("hangul", got.hangul, hangul), ("latin", got.latin, latin), ("other", got.other, other),
                       ("newlines", got.newlines, newlines), ("pairs", got.newline_pairs, pairs),
                       ("word pairs", got.latin_pairs + got.hangul_pairs, word_pairs), ("symbols", got.symbols, symbols),
                       ("indents", got.indents, indents), ("size", got.size, size)]:
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_the_kernel_builds_here():
    assert scripts.available()


@pytest.mark.parametrize("seed", range(4))
def test_random_texts(seed):
    _same(_random_texts(seed, 3000))


def test_patterns_count_as_bytes_count_does():
    texts = ["a a a", "a  a", "a\ta", "\n\n\n", "\n\n\n\n", "\n \n ", "한 글 한", "é é", "a\n a", "ㅋ ㅋ"]
    got = scripts.counts(("\0".join(texts) + "\0").encode(), np.array([len(t) for t in texts]), langid._CLASSES)
    assert got.latin_pairs.tolist() == [1, 0, 1, 0, 0, 0, 0, 1, 0, 0]
    assert got.hangul_pairs.tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert got.newline_pairs.tolist() == [0, 0, 0, 1, 2, 0, 0, 0, 0, 0]
    assert got.indents.tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 1, 0]
    assert got.hangul.tolist()[-1] == 2  # compatibility jamo are Hangul
    _same(texts)


def test_the_shared_corpus():
    texts = corpus_texts(300)
    assert len(texts) > 1000
    _same([t.replace("\r", "\n") for t in texts if t])


def test_off_means_numpy(monkeypatch):
    monkeypatch.setenv(kernels.SETTING, "off")
    assert scripts.counts(b"a\0", np.array([1]), langid._CLASSES) is None
