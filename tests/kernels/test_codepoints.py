"""The code point kernel against numpy's count of the same code points, and the rules' use of it."""

import random

import numpy as np
import pyarrow as pa
import pytest

from gecko_cli import kernels
from gecko_cli.balance import rules
from gecko_cli.kernels import codepoints
from helpers import utf8

PIECES = ["a", " ", "\n", "\t", "#", "한", "ㅋ", "ㅠ", "\u1100", "\u1161", "\u11a8", "\ua960", "\ud7b0", "\uffa0",
          "\uffdc", "\uffdd", "\u3130", "\u3131", "\u318e", "\u318f", "\u2580", "\u27bf", "\u27c0", "\u2b00", "★",
          "♥", "■", "\u00e9", "\u3000", "😀", "\U0001f64f", "\U0010ffff", "plain ascii text of some length ",
          "\u0000", "\u007f", "\u0080", "\u07ff", "\u0800", "\uffff"]
ASTRAL = ((0x1F600, 0x1F64F), (0x10FFFF, 0x10FFFF))


def _random_texts(seed: int, count: int) -> list[str | None]:
    r = random.Random(seed)
    return [None if r.random() < 0.05 else "".join(r.choice(PIECES) for _ in range(r.randint(0, 30)))
            for _ in range(count)]


def _numpy_counts(texts: list[str | None], ranges) -> list[int]:
    out = []
    for t in texts:
        cps = np.frombuffer((t or "").encode("utf-32-le", "surrogatepass"), np.uint32)
        out.append(int(sum(((cps >= lo) & (cps <= hi)).sum() for lo, hi in ranges)))
    return out


SETS = (*rules.COUNTED_RANGES, ASTRAL, ((0x61, 0x7A),), ((0x1100, 0x11FF), (0x1F600, 0x1F600)), ((0x80, 0x7FF),))


def test_counts_are_numpys():
    texts = _random_texts(0, 3000)
    got = codepoints.counts(utf8(texts), np.arange(len(texts)), SETS)
    assert got is not None and got.shape == (len(texts), len(SETS)) and got.dtype == np.int64
    for s, ranges in enumerate(SETS):
        assert got[:, s].tolist() == _numpy_counts(texts, ranges), s
    assert (got > 0).any(axis=0).all()  # every set is found somewhere


@pytest.mark.parametrize("sets", [SETS, rules.COUNTED_RANGES], ids=["with_ascii", "without_ascii"])
def test_every_character_after_every_run_of_ascii_at_the_end_of_a_text(sets):
    # ASCII is skipped 8 bytes at a time when no set holds it; each sequence length ends a text too
    chars = [p for p in PIECES if len(p) == 1 and not p.isascii()]
    texts = [f"{'x' * run}{c}{tail}" for run in range(20) for c in chars for tail in ("", "y", "ㄱ")]
    got = codepoints.counts(utf8(texts), np.arange(len(texts)), sets)
    for s, ranges in enumerate(sets):
        assert got[:, s].tolist() == _numpy_counts(texts, ranges), s


def test_rows_slices_chunks_and_nulls():
    texts = _random_texts(1, 200)
    want = codepoints.counts(utf8(texts), np.arange(len(texts)), SETS)
    rows = np.random.default_rng(0).permutation(len(texts))[:150]
    assert (codepoints.counts(utf8(texts), rows, SETS) == want[rows]).all()
    sliced = utf8(["ㅋㅋ★"] * 5 + texts).slice(5)
    assert (codepoints.counts(sliced, rows, SETS) == want[rows]).all()
    chunked = pa.chunked_array([utf8(texts[:50]), utf8(texts[50:])])
    assert (codepoints.counts(chunked, rows, SETS) == want[rows]).all()
    nulled = pa.Array.from_buffers(pa.string(), 1, [pa.array([False]).buffers()[1], *utf8(["ㅋㅋ"]).buffers()[1:]],
                                   null_count=1)
    assert codepoints.counts(nulled, np.array([0]), SETS).tolist() == [[0] * len(SETS)]
    assert codepoints.counts(utf8([]), np.zeros(0, np.int64), SETS).shape == (0, len(SETS))


def test_broken_utf8_counts_no_code_point_for_a_broken_sequence():
    # a lead byte without its continuation bytes at the end of a text, and a lone continuation byte
    data = "ㅋ".encode() + "ㅋ".encode()[:2] + b"\x80" + "★".encode()
    column = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(np.array([0, 5, len(data)], np.int32)),
                                                    pa.py_buffer(data)])
    got = codepoints.counts(column, np.array([0, 1]), rules.COUNTED_RANGES)
    assert got[:, 1].tolist() == [1, 0] and got[:, 0].tolist() == [0, 1]


def test_no_whitespace_in_the_counted_ranges():
    # Docs counts them in the texts before they are stripped: a stripped character must never be counted
    for ranges in rules.COUNTED_RANGES:
        for lo, hi in ranges:
            assert not any(chr(c).isspace() for c in range(lo, hi + 1))


def test_other_columns_off_and_too_many_sets(monkeypatch):
    assert codepoints.counts(pa.array(["ㅋ"], pa.large_string()), np.array([0]), SETS) is None
    with pytest.raises(ValueError, match="at most 8"):
        codepoints.counts(pa.array(["ㅋ"]), np.array([0]), [((1, 2),)] * 9)
    monkeypatch.setenv(kernels.SETTING, "off")
    assert codepoints.counts(pa.array(["ㅋ"]), np.array([0]), SETS) is None


@pytest.mark.parametrize("kernel", ["on", "off"])
def test_docs_count_in_is_the_same_with_or_without_the_column(kernel, monkeypatch):
    monkeypatch.setenv(kernels.SETTING, kernel)
    texts = [t or "" for t in _random_texts(2, 500)]
    plain = rules.Docs(texts, "ko")
    order = np.random.default_rng(1).permutation(len(texts))
    column = utf8([texts[i] for i in order])
    rows = np.empty(len(texts), np.int64)
    rows[order] = np.arange(len(texts))
    with_column = rules.Docs(texts, "ko", column, rows)
    for ranges in (*rules.COUNTED_RANGES, ASTRAL):
        want = plain.count_in(ranges)
        assert want.tolist() == _numpy_counts([t.strip() for t in texts], ranges)
        assert with_column.count_in(ranges).tolist() == want.tolist()
