import unicodedata

import numpy as np
import pytest

from gecko_cli.dedup.normalize import exact_hashes, normalize_batch, normalize_text


def test_hangul_stays_composed():
    text = "대한민국 서울특별시 한글 맞춤법"
    out = normalize_text(text)
    assert out == text
    assert unicodedata.is_normalized("NFC", out)
    assert not any(0x1100 <= ord(c) <= 0x11FF for c in out)  # no conjoining jamo


def test_decomposed_hangul_is_recomposed():
    nfd = unicodedata.normalize("NFD", "한국어")
    assert len(nfd) > 3
    assert normalize_text(nfd) == "한국어"


@pytest.mark.parametrize("raw, expected", [
    ("  Hello   WORLD \n\n", "hello world"),
    ("Tab\tand\r\nnewline", "tab and newline"),
    ("ＡＢＣ　１２３", "abc 123"),        # full-width letters, digits and ideographic space fold (NFKC)
    ("İstanbul ÄÖÜ", "istanbul äöü"),   # accents stay: no stripping
    ("x = 3.14159; y = 2024", "x = 3.14159; y = 2024"),  # digits are not folded
    ("\u00a0lead and trail\u2003", "lead and trail"),
    ("   ", ""),
    ("", ""),
])
def test_normalization(raw, expected):
    assert normalize_text(raw) == expected


def test_batch_matches_one_by_one():
    texts = ["A  b", "", "  ", "한국어  텍스트", "x", "End. \n", "Ω mega"]
    codes, offsets = normalize_batch(texts)
    assert len(offsets) == len(texts) + 1
    for i, t in enumerate(texts):
        got = codes[offsets[i]:offsets[i + 1]].tobytes().decode("utf-32-le")
        assert got == normalize_text(t)


def test_exact_hash_equal_iff_normalized_equal():
    texts = ["Hello World", "hello   world", "Hello World!", "HELLO WORLD\n"]
    codes, offsets = normalize_batch(texts)
    h = exact_hashes(codes, offsets)
    assert h.shape == (4, 2)
    assert np.array_equal(h[0], h[1]) and np.array_equal(h[0], h[3])
    assert not np.array_equal(h[0], h[2])
