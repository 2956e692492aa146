"""The line statistics kernel against the same statistics computed by Python's str.splitlines and str.strip."""

import random

import numpy as np
import pyarrow as pa
import pytest

from gecko_cli import kernels
from gecko_cli.balance import rules
from gecko_cli.kernels import lines
from helpers import corpus_texts, utf8

# Every line break of str.splitlines, every other whitespace character of str.strip, letters of 1 to 4 UTF-8
# bytes, a lone surrogate, and characters next to the breaks in code point order.
BREAKS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
SPACES = [" ", "\t", "\x1f", "\xa0", "\u1680", "\u2000", "\u200a", "\u202f", "\u205f", "\u3000"]
OTHERS = ["a", "b", "ab", "é", "한", "국어", "😀", "\ud800", "\x1b", "\u20ac", "\u2027", "\u202a", "\u200b", "x" * 9]


def _random_texts(seed: int, count: int) -> list[str]:
    r = random.Random(seed)
    pieces = BREAKS + SPACES + OTHERS * 2
    return [""] + ["".join(r.choice(pieces) for _ in range(r.randint(0, 30))) for _ in range(count)]


def _same(texts: list[str]) -> None:
    got, want = lines.stats(texts), rules.split_lines(texts, 64)
    assert got is not None
    for name, a, b in zip(lines.LineArrays._fields, got, want):
        np.testing.assert_array_equal(a, b, err_msg=name)


def _same_from_column(texts: list[str]) -> None:
    """`stats_column` on the texts, unstripped, at shuffled rows of a chunked column, is `stats` of them stripped."""
    order = np.random.default_rng(len(texts)).permutation(len(texts))
    shuffled = [texts[i] for i in order]
    column = pa.chunked_array([utf8([" \n x \n"] + shuffled[:5]), utf8(shuffled[5:])])
    rows = np.empty(len(texts), np.int64)
    rows[order] = np.arange(len(texts)) + 1
    got, want = lines.stats_column(column, rows), lines.stats([t.strip() for t in texts])
    assert got is not None
    for name, a, b in zip(lines.LineArrays._fields, got, want):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_the_kernel_builds_here():
    assert lines.available()


@pytest.mark.parametrize("seed", range(4))
def test_random_breaks_spaces_and_letters(seed):
    texts = _random_texts(seed, 2000)
    _same(texts)
    _same_from_column(texts)
    # and the reference is what Python's own strings say, text by text
    got = lines.stats(texts)
    first = 0
    for i, text in enumerate(texts):
        items = [line.strip() for line in text.splitlines()]
        assert got.count[i] == len(items) and got.blanks[i] == items.count("")
        assert got.distinct[i] == len(set(items)) and got.distinct_chars[i] == sum(map(len, set(items)))
        assert got.lengths[first:first + len(items)].tolist() == [len(x) for x in items]
        first += len(items)
        if "" in items and len(items) - items.count("") + 1 > len(set(items)):  # paragraphs can repeat
            parts = [p.strip() for p in "\n".join(items).split("\n\n")]
            full = [p for p in parts if p]
            assert (got.paragraphs[i], got.distinct_paragraphs[i]) == (len(full), len(set(full)))
            assert got.paragraph_chars[i] == sum(map(len, full))
            assert got.distinct_paragraph_chars[i] == sum(map(len, set(full)))
        else:
            assert got.paragraphs[i] == got.distinct_paragraphs[i] == got.paragraph_chars[i] == 0


def test_lines_that_differ_only_past_eight_bytes_or_in_length_are_distinct():
    texts = ["abcdefgh1\nabcdefgh2\nabcdefgh1", "abcdefgh\nabcdefgh\x00\nabcdefgh", "x\n x \nx\t\n\u3000x"]
    # lines hashed 16 bytes at a time in two lanes, then 8, then the rest: a difference in each part counts
    base = "0123456789abcdef" * 3
    for at in range(len(base)):
        changed = base[:at] + "#" + base[at + 1:]
        texts.append(f"{base}\n{changed}\n{base}\n{changed[:at + 1]}\n{base[:at + 1]}")
    got = lines.stats(texts)
    assert got.distinct.tolist() == [2, 2, 1] + [4] * (len(base) - 1) + [2]  # the last: a whole line changed
    _same(texts)


def test_paragraphs_between_runs_of_blank_lines():
    # "\n\n" splits "\n".join(lines): a run of k blank lines leaves (k + 1) // 2 - 1 empty paragraphs, and
    # paragraphs are equal only line for line.
    texts = ["a\n\nb\n\na", "a\n\n\nb\n\n\n\na\n\n\n\n\nb", "\n\na\nb\n\na\nb\n\na\n\n", "a\nb\n\nab\n\na\nb\n\na b",
             "x\n\nx\ny\n\nx\ny\n\ny", " a \n\t\na\n\u3000\n a"]
    got = lines.stats(texts)
    assert got.paragraphs.tolist() == [3, 4, 3, 4, 4, 3]
    assert got.distinct_paragraphs.tolist() == [2, 2, 2, 3, 3, 1]
    _same(texts)


def test_the_shared_corpus():
    texts = corpus_texts(300)
    assert len(texts) > 1000
    _same(texts)
    _same_from_column(texts)


def test_off_means_python(monkeypatch):
    assert lines.stats_column(pa.array(["a\nb"], pa.large_string()), np.array([0])) is None
    monkeypatch.setenv(kernels.SETTING, "off")
    assert lines.stats(["a\nb"]) is None
    assert lines.stats_column(pa.array(["a\nb"]), np.array([0])) is None


def test_a_failed_build_means_python_with_a_warning(monkeypatch, caplog):
    def fail(*args, **kwargs):
        raise kernels.build.BuildError("no C++ compiler found (install g++, or set CXX)")

    monkeypatch.setattr(lines, "_LIB", kernels.build.CFunctions(lines.SOURCE, {}, "balance: line statistics"))
    monkeypatch.setattr(kernels.build, "library", fail)
    with caplog.at_level("WARNING"):
        assert lines.stats(["a\nb"]) is None
    assert "line statistics: the kernel is not available (no C++ compiler found" in caplog.text
    texts = ["a\na\n\nb", "x"]
    assert rules.Docs(texts, "en").lines().repeated.tolist() == [1, 0]
