"""The byte-class kernel against Python's count of the same bytes and runs of the first class."""

import random
import re

import numpy as np
import pyarrow as pa
import pytest

from gecko_cli import kernels
from gecko_cli.kernels import byteclasses
from helpers import utf8

CLASSES = (b"ABCabc012+/", b"\\", b"0123456789", b" \n")
PIECES = ["A", "b", "0", "9", "+", "/", "\\", " ", "\n", "한", "x", "=", "Ab0+/" * 13, "\\x41", "1 2 3", "😀"]


def _python(texts: list[str | None], classes) -> tuple[list, list]:
    counts, longest = [], []
    for t in texts:
        raw = (t or "").encode("utf-8", "surrogatepass")
        counts.append([sum(b in c for b in raw) for c in classes])
        longest.append(max((len(m) for m in re.findall(b"[" + re.escape(classes[0]) + b"]+", raw)), default=0))
    return counts, longest


def _random_texts(seed: int, count: int) -> list[str | None]:
    r = random.Random(seed)
    return [None if r.random() < 0.05 else "".join(r.choice(PIECES) for _ in range(r.randint(0, 20)))
            for _ in range(count)]


def test_counts_and_longest_runs_are_pythons():
    texts = _random_texts(0, 2000)
    counts, longest = byteclasses.stats(utf8(texts), np.arange(len(texts)), CLASSES)
    want_counts, want_longest = _python(texts, CLASSES)
    assert counts.tolist() == want_counts and longest.tolist() == want_longest
    assert longest.max() > 64 and (counts.max(axis=0) > 1).all()


def test_long_texts_count_past_every_lane_flush():
    texts = ["A" * n + "\\" * (n // 2) + "5" * (3 * n) + "한" * n for n in (0, 1, 254, 255, 256, 511, 5000)]
    counts, longest = byteclasses.stats(utf8(texts), np.arange(len(texts)), CLASSES)
    assert (counts.tolist(), longest.tolist()) == _python(texts, CLASSES)


def test_rows_chunks_and_nulls():
    texts = _random_texts(1, 300)
    counts, longest = byteclasses.stats(utf8(texts), np.arange(len(texts)), CLASSES)
    rows = np.random.default_rng(0).permutation(len(texts))[:200]
    chunked = pa.chunked_array([utf8(texts[:100]), utf8(["\\\\\\"] + texts[100:]).slice(1)])
    got = byteclasses.stats(chunked, rows, CLASSES)
    assert (got[0] == counts[rows]).all() and (got[1] == longest[rows]).all()
    nulled = pa.Array.from_buffers(pa.string(), 1, [pa.array([False]).buffers()[1], *utf8(["\\\\"]).buffers()[1:]],
                                   null_count=1)
    assert byteclasses.stats(nulled, np.array([0]), CLASSES)[0].tolist() == [[0] * len(CLASSES)]
    assert byteclasses.stats(utf8([]), np.zeros(0, np.int64), CLASSES)[0].shape == (0, len(CLASSES))


def test_other_columns_off_and_too_many_classes(monkeypatch):
    assert byteclasses.stats(pa.array(["a"], pa.large_string()), np.array([0]), CLASSES) is None
    with pytest.raises(ValueError, match="at most 8"):
        byteclasses.stats(pa.array(["a"]), np.array([0]), [b"a"] * 9)
    monkeypatch.setenv(kernels.SETTING, "off")
    assert byteclasses.stats(pa.array(["a"]), np.array([0]), CLASSES) is None


def test_bytes_found_are_pythons_in():
    texts = _random_texts(2, 2000) + ["a\rb", "\r\n", "한\n", ""]
    got = byteclasses.found(utf8(texts), np.arange(len(texts)), b"\n\\+\r")
    want = [[chr(b) in (t or "") for b in b"\n\\+\r"] for t in texts]
    assert got.dtype == bool and got.tolist() == want
    assert got.any(axis=0).all() and not got.all(axis=0).any()
    rows = np.random.default_rng(1).permutation(len(texts))[:500]
    chunked = pa.chunked_array([utf8(texts[:700]), utf8(["\n\r"] + texts[700:]).slice(1)])
    assert (byteclasses.found(chunked, rows, b"\n\\+\r") == got[rows]).all()
    assert byteclasses.found(utf8(texts), np.arange(3), b"").shape == (3, 0)
    with pytest.raises(ValueError, match="ASCII"):
        byteclasses.found(utf8(texts), rows, "한".encode())


@pytest.mark.parametrize("needle", ["...", "\u2026", "```", "::", "ab", "a", "한국", "😀"])
def test_occurrences_are_pythons_count(needle):
    r = random.Random(3)
    pieces = PIECES + ["...", "....", ". .", "..", "\u2026", "``", "```", "````", ":::", "::", "ab", "aab", "한국어", "한"]
    texts = [None if r.random() < 0.05 else "".join(r.choice(pieces) for _ in range(r.randint(0, 30)))
             for _ in range(3000)] + ["", needle, needle * 3, needle[:-1]]
    got = byteclasses.occurrences(utf8(texts), np.arange(len(texts)), needle)
    want = [(t or "").count(needle) for t in texts]
    assert got.dtype == np.int64 and got.tolist() == want
    assert max(want) > 2 and min(want) == 0
    first = byteclasses.occurrences(utf8(texts), np.arange(len(texts)), needle, limit=1)
    assert first.tolist() == [min(n, 1) for n in want]
    assert byteclasses.occurrences(utf8(texts), np.arange(len(texts)), needle, limit=2).tolist() == \
        [min(n, 2) for n in want]
    rows = np.random.default_rng(4).permutation(len(texts))[:700]
    chunked = pa.chunked_array([utf8(texts[:900]), utf8(["x"] + texts[900:]).slice(1)])
    assert (byteclasses.occurrences(chunked, rows, needle) == got[rows]).all()


def test_occurrences_refuse_an_empty_needle_and_are_off_without_the_kernel(monkeypatch):
    with pytest.raises(ValueError, match="empty"):
        byteclasses.occurrences(utf8(["a"]), np.array([0]), "")
    assert byteclasses.occurrences(utf8([]), np.zeros(0, np.int64), "...").shape == (0,)
    assert byteclasses.occurrences(pa.array(["a"], pa.large_string()), np.array([0]), "a") is None
    monkeypatch.setenv(kernels.SETTING, "off")
    assert byteclasses.occurrences(utf8(["a"]), np.array([0]), "a") is None


B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@pytest.mark.parametrize("min_run,max_tail", [(1, 0), (3, 1), (64, 2), (5, 3)])
def test_long_runs_are_the_regexs_matches(min_run, max_tail):
    r = random.Random(min_run)
    pieces = PIECES + ["=", "==", "===", "Zz9+/" * 14, "Q" * 63, "Q" * 64, "가=", " =A"]
    texts = [None if r.random() < 0.05 else "".join(r.choice(pieces) for _ in range(r.randint(0, 25)))
             for _ in range(3000)] + ["", "A" * 64, "A" * 64 + "===", "=" + "B" * 70 + "=" + "C" * 64, "\ud800" + "D" * 80]
    chars = re.escape(B64.decode())
    pattern = re.compile(f"(?<![{chars}])[{chars}]{{{min_run},}}={{0,{max_tail}}}")
    want = [sum(map(len, pattern.findall(t or ""))) for t in texts]
    got = byteclasses.long_runs(utf8(texts), np.arange(len(texts)), B64, min_run, b"=", max_tail)
    assert got.dtype == np.int64 and got.tolist() == want
    assert max(want) > 64 and want.count(0) > 10
    rows = np.random.default_rng(5).permutation(len(texts))[:600]
    chunked = pa.chunked_array([utf8(texts[:1000]), utf8(["A" * 99] + texts[1000:]).slice(1)])
    assert (byteclasses.long_runs(chunked, rows, B64, min_run, b"=", max_tail) == got[rows]).all()


def test_long_runs_refuse_other_bytes_and_are_off_without_the_kernel(monkeypatch):
    for members, tail in [("한".encode(), b"="), (B64, b"A"), (B64, "é".encode())]:
        with pytest.raises(ValueError, match="ASCII"):
            byteclasses.long_runs(utf8(["a"]), np.array([0]), members, 3, tail, 1)
    assert byteclasses.long_runs(utf8([]), np.zeros(0, np.int64), B64, 64).shape == (0,)
    assert byteclasses.long_runs(pa.array(["a"], pa.large_string()), np.array([0]), B64, 1) is None
    monkeypatch.setenv(kernels.SETTING, "off")
    assert byteclasses.long_runs(utf8(["a"]), np.array([0]), B64, 1) is None
