"""The number-run kernel against the regex it stands for, and against the scrubber's own search."""

import random
import re

import pyarrow as pa
import pytest

from gecko_cli import kernels
from gecko_cli.balance import pii
from gecko_cli.kernels import numbers
from helpers import utf8

RUN = re.compile(r"[0-9+(][0-9 ().+-]{8}")  # what the kernel looks for
PIECES = ["0", "1", "9", " ", "(", ")", ".", "+", "-", "a", "한", "\u00a0", "\uff10", "😀", "\n", "010-1234-5678",
          "+82 10 1234 5678", "(02) 123-4567", "123456789", "12345678", "2024.01.15", "v1.2.3.4.5"]


def _random_texts(seed: int, count: int) -> list[str]:
    r = random.Random(seed)
    return ["".join(r.choice(PIECES) for _ in range(r.randint(0, 12))) for _ in range(count)]


def test_runs_are_found_as_the_regex_finds_them():
    texts = _random_texts(0, 5000) + ["\ud800123456789", "12345678\ud800"]
    got = numbers.candidates(utf8(texts))
    assert got is not None and got.dtype == bool
    assert got.tolist() == [RUN.search(t) is not None for t in texts]
    # the scrubber's runs all start so: no text it would change is skipped
    assert all(got[i] for i, t in enumerate(texts) if pii._RUN.search(t))
    assert 0 < got.sum() < len(texts)


def test_sliced_chunked_and_null_texts():
    texts = ["x 123456789", None, "abc", "(02) 123-4567", "", "1234 567", "1234 5678"]
    whole = numbers.candidates(utf8(texts)).tolist()
    assert whole == [True, False, False, True, False, False, True]
    assert numbers.candidates(utf8(texts).slice(2, 3)).tolist() == whole[2:5]
    chunked = pa.chunked_array([utf8(texts[:2]), utf8(texts[2:]).slice(1)])
    assert numbers.candidates(chunked).tolist() == whole[:2] + whole[3:]
    # a null whose bytes would make a run is still no text
    nulled = pa.Array.from_buffers(pa.string(), 1, [pa.array([False]).buffers()[1], *utf8(["123456789"]).buffers()[1:]],
                                   null_count=1)
    assert numbers.candidates(nulled).tolist() == [False]


def test_other_columns_and_off_mean_none(monkeypatch):
    assert numbers.candidates(pa.array(["123456789"], pa.large_string())) is None
    monkeypatch.setenv(kernels.SETTING, "off")
    assert numbers.candidates(pa.array(["123456789"])) is None


def _kept_runs(text: str) -> list[tuple[int, int]]:
    """The matches of pii._RUN that pii._candidates does not drop at once (what run_spans reports)."""
    out = []
    for m in pii._RUN.finditer(text):
        r = m.group()
        digits = sum(c.isdigit() for c in r)
        if (9 <= len(r) <= 19) if r.isdigit() else digits >= pii._MIN_DIGITS:
            out.append(m.span())
    return out


def test_run_spans_are_the_regex_matches_in_characters():
    texts = _random_texts(1, 5000) + ["한국 010-1234-5678 😀 (02) 123-4567", "\ud800 123456789012", "1" * 19, "1" * 20,
                                      "12345678", "1 2 3 4 5 6 7 8 9", "+(( 1234567890", "1 (23) 4567 890"]
    rows = [i for i in range(len(texts)) if i % 3 != 1]  # some of the rows, in order
    which, start, end = numbers.run_spans(utf8(texts), rows)
    got = {}
    for j, s, e in zip(which.tolist(), start.tolist(), end.tolist()):
        got.setdefault(rows[j], []).append((s, e))
    want = {i: spans for i in rows if (spans := _kept_runs(texts[i]))}
    assert got == want and len(want) > 100


def test_run_spans_grow_their_room():
    texts = ["123456789 x " * 5000, "x"]  # 5,000 runs in 60 kB: more than the first guess of room
    which, start, end = numbers.run_spans(utf8(texts), [0, 1])
    assert len(which) == 5000 and set(which.tolist()) == {0}
    assert list(zip(start.tolist(), end.tolist())) == _kept_runs(texts[0])


@pytest.mark.parametrize("again", ["kernel", "regex"])
def test_scrubbing_at_the_runs_found_is_scrubbing_each_text(again, monkeypatch):
    # e-mail addresses replaced first move the runs of their text: those texts are searched again, by the
    # kernel, or by the regex where it does not run
    texts = _random_texts(2, 3000) + ["mail someone.else@example.com or 010-1234-5678",
                                      "010-2222-3333 x@y.org 010-4444-5555 and a.much.longer.name@example.co.kr",
                                      "4111 1111 1111 1111 and 900101-1234567", "no numbers @ all"]
    column = utf8(texts)
    flags = numbers.candidates(column)
    rows = [i for i in range(len(texts)) if flags[i]]
    which, start, end = numbers.run_spans(column, rows)
    runs = (pa.array(rows).to_numpy()[which], start, end)
    if again == "regex":
        monkeypatch.setattr(pii.number_kernel, "run_spans", lambda *args: None)
    changed, total = pii.scrub_batch(texts, flags, runs)
    want_changed, want_total = {}, {}
    for i, text in enumerate(texts):
        out, found = pii.scrub(text)
        if found:
            want_changed[i] = out
            for k, v in found.items():
                want_total[k] = want_total.get(k, 0) + v
    assert changed == want_changed and dict(total) == want_total and len(changed) > 10
