"""The number-run kernel against the regex it stands for, and against the scrubber's own search."""

import random
import re

import pyarrow as pa

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
