"""Efficiency numbers checked against counts worked out by hand on toy encoders."""

from __future__ import annotations

import pytest

from gecko_cli.errors import ConfigError
from gecko_cli.tokenizer import efficiency


class CharEncoder:
    """One token per character."""

    name, vocab_size = "chars", 1000

    def encode(self, text: str) -> list[int]:
        return [ord(c) % 1000 for c in text]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]


class WordEncoder(CharEncoder):
    """One token per whitespace-separated word."""

    name, vocab_size = "words", 50

    def encode(self, text: str) -> list[int]:
        return [len(w) for w in text.split()]


DOCS = [("ko", "가나 다라"), ("en", "ab cd ef"), ("ko", "마바사")]  # ko: 5 + 3 chars, 13 + 9 bytes


def test_counts_by_hand():
    result = efficiency.measure([CharEncoder(), WordEncoder()], DOCS)
    assert result["reference"] == "chars"
    assert result["languages"] == ["ko", "en"]
    chars, words = result["encoders"]["chars"], result["encoders"]["words"]
    assert chars["vocab_size"] == 1000 and words["vocab_size"] == 50
    assert chars["languages"]["ko"] == {"documents": 2, "characters": 8, "bytes": 22, "tokens": 8,
                                        "tokens_per_1k_chars": 1000.0, "tokens_per_byte": 8 / 22, "ratio_to": 1.0}
    ko = words["languages"]["ko"]
    assert (ko["tokens"], ko["tokens_per_1k_chars"], ko["tokens_per_byte"]) == (3, 375.0, 3 / 22)
    assert ko["ratio_to"] == pytest.approx(0.375)
    en = words["languages"]["en"]
    assert (en["documents"], en["characters"], en["bytes"], en["tokens"]) == (1, 8, 8, 3)
    assert en["ratio_to"] == pytest.approx(3 / 8)


def test_batches_are_split_and_summed(monkeypatch):
    monkeypatch.setattr(efficiency, "BATCH_DOCS", 2)
    result = efficiency.measure([CharEncoder()], [("en", "abc")] * 5)
    assert result["encoders"]["chars"]["languages"]["en"]["tokens"] == 15


def test_repeated_names_are_kept_apart():
    result = efficiency.measure([CharEncoder(), CharEncoder()], DOCS)
    assert list(result["encoders"]) == ["chars", "chars#2"]


def test_empty_texts_give_zero_and_no_ratio():
    result = efficiency.measure([CharEncoder(), WordEncoder()], [("x", "")])
    row = result["encoders"]["words"]["languages"]["x"]
    assert (row["tokens_per_1k_chars"], row["tokens_per_byte"], row["ratio_to"]) == (0.0, 0.0, None)
    assert "n/a" in efficiency.markdown(result)


def test_no_encoders():
    with pytest.raises(ConfigError):
        efficiency.measure([], DOCS)


def test_markdown_table():
    result = efficiency.measure([CharEncoder(), WordEncoder()], DOCS)
    lines = efficiency.markdown(result).splitlines()
    assert lines[0] == "| tokenizer | vocab | ko tok/1k chars | ko vs chars | en tok/1k chars | en vs chars |"
    assert lines[1] == "|---|---:|---:|---:|---:|---:|"
    assert lines[2] == "| chars | 1,000 | 1000.0 | 1.000x | 1000.0 | 1.000x |"
    assert lines[3] == "| words | 50 | 375.0 | 0.375x | 375.0 | 0.375x |"


def test_markdown_other_reference():
    result = efficiency.measure([CharEncoder(), WordEncoder()], DOCS)
    lines = efficiency.markdown(result, reference="words").splitlines()
    assert "ko vs words" in lines[0]
    assert lines[2] == "| chars | 1,000 | 1000.0 | 2.667x | 1000.0 | 2.667x |"
    with pytest.raises(ConfigError, match="'nope'"):
        efficiency.markdown(result, reference="nope")
