"""Tokenizer checks: round-trip counts, single-token letters and digits, vocab composition."""

from __future__ import annotations

import pytest

from gecko_cli.tokenizer.checks import COMPOSITION_KEYS, classify, composition, round_trip, single_tokens
from gecko_cli.tokenizer.trainer import TrainSpec, train

DOCS = [
    "서울은 한국의 수도이며 한강을 끼고 발달한 도시이다. 인구는 약 천만 명이다.",
    "오늘은 날씨가 맑고 바람이 시원해서 산책하기 좋은 날이다. 내일은 비가 온다.",
    "The quick brown fox jumps over the lazy dog. Answer: C",
    "Python is easy to learn, and its standard library covers files and networks.",
    "def add(a, b):\n    return a + b\n\n\nclass Box:\n    def __init__(self):\n        self.items = []\n",
    "fn main() {\n    let total: i32 = (1..=10).sum();\n    println!(\"{}\", total);\n}\n",
]
VOCAB = 500


@pytest.fixture(scope="module")
def tok():
    return train((doc + f" {i}" for i in range(8) for doc in DOCS), TrainSpec(vocab=VOCAB))


def test_round_trip_counts_documents_and_no_failures(tok):
    texts = [*DOCS, "", "  two  spaces  ", "emoji 🦎 and 龘", "tab\there\r\n"]
    report = round_trip(tok, iter(texts))
    assert report == {"documents": len(texts), "failures": 0, "unk_ids": 0, "first_failure": None}


def test_round_trip_reports_first_failure(tok):
    # U+2581 is the space marker, so it decodes as a space: the one input that cannot come back exactly.
    report = round_trip(tok, ["fine", "also fine", "bad▁text", "bad▁again"])
    assert report["failures"] == 2
    assert report["first_failure"] == {"index": 2, "text_prefix": "bad▁text"}


def test_round_trip_streams_many_batches(tok):
    report = round_trip(tok, (DOCS[i % len(DOCS)] for i in range(600)))
    assert (report["documents"], report["failures"]) == (600, 0)


def test_round_trip_counts_unk_ids(tok):
    assert round_trip(tok, ["literal <unk> here"])["unk_ids"] == 1


def test_single_tokens_ok(tok):
    report = single_tokens(tok)
    assert report["ok"]
    assert set(report["letters"]) == {" A", " B", " C", " D", "A", "B", "C", "D"}
    assert set(report["digits"]) == set("0123456789")


def test_single_tokens_detects_a_split_letter():
    from tokenizers import Tokenizer, models

    bare = Tokenizer(models.BPE(vocab={"<unk>": 0, "A": 1}, merges=[], unk_token="<unk>"))
    report = single_tokens(bare)
    assert not report["ok"]
    assert report["letters"]["A"] and not report["letters"]["B"]


def test_composition_sums_to_vocab(tok):
    counts = composition(tok)
    assert set(counts) == set(COMPOSITION_KEYS)
    assert sum(counts.values()) == VOCAB == tok.get_vocab_size()
    assert (counts["special"], counts["byte"]) == (3, 256)
    assert counts["hangul"] > 0 and counts["latin"] > 0 and counts["code_punctuation"] > 0
    assert counts["digit"] >= 10


@pytest.mark.parametrize(("token", "key"), [
    ("<s>", "special"), ("<0x41>", "byte"), ("▁서울", "hangul"), ("ㄱ", "hangul"), ("▁the", "latin"),
    ("é", "latin"), ("7", "digit"), ("▁▁▁", "code_punctuation"), ("):", "code_punctuation"), ("▁", "code_punctuation"),
    ("self.", "other"), ("龘", "other"), ("a가", "other"),
])
def test_classify(token, key):
    assert classify(token) == key
