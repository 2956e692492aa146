"""Training the BPE tokenizer: LLaMA layout, exact vocab size, byte fallback, exact round trip, transformers."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from gecko_cli.errors import ConfigError, DataError
from gecko_cli.tokenizer import trainer as trainer_mod
from gecko_cli.tokenizer.trainer import BYTES, SPECIALS, TrainSpec, save, train

VOCAB = 800

KO = [
    "대한민국의 수도는 서울이며, 서울은 한강을 끼고 발달한 도시이다. 인구는 약 천만 명이다.",
    "오늘은 날씨가 맑고 바람이 시원해서 산책하기 좋은 날이다.",
    "파이썬은 배우기 쉬운 프로그래밍 언어입니다. 함수와 클래스를 사용해 코드를 정리합니다.",
    "이 영화는 정말 재미있었고 배우들의 연기가 훌륭했다. 다시 보고 싶다.",
    "질문: 다음 중 옳은 것은? 정답은 보기 가운데 하나이며, 학생들은 시험을 준비하면서 문제를 풀었다.",
    "러스트는 메모리 안전성을 보장하는 시스템 프로그래밍 언어로, 소유권과 빌림 규칙을 따른다.",
]
EN = [
    "The quick brown fox jumps over the lazy dog while the farmer watches from the porch.",
    "A function returns a value; a class groups data and behaviour. Answer: B",
    "Python is easy to learn, and its standard library covers files, networks and text processing.",
    "Question: which planet is closest to the sun? Students compared orbits, moons and surface temperatures.",
    "Rust guarantees memory safety through ownership and borrowing, without needing a garbage collector.",
]
CODE = [
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n",
    "fn main() {\n    let v: Vec<i32> = (0..10).collect();\n    println!(\"{:?}\", v);\n}\n",
    "if (x === null) {\n\treturn undefined;\n}\n// ------------------------------------------\n",
    "import os\n\n\ndef read_config(path: str) -> dict:\n    with open(path) as fh:\n        return json.load(fh)\n",
    "for (int i = 0; i < count; i++) {\n    total += values[i] * weights[i];\n}\n",
]

TRICKY = [
    "", " ", "  leading and trailing  ", "\tTabbed\tline\n\n\nthree newlines", "hello",
    " hello", "  indented\n    code\n", "emoji 🦎🎉 and rare Hanja 龘 𠀀", "control \x00\x01\x1f\x7f chars",
    "mixed 한국어 English 123 코드 code_42()", "<0x41> <s> </s> <unk> literal",
    "\r\nwindows\r\n", "\u200b zero\u200dwidth \ufeff",
    "ｆｕｌｌ ｗｉｄｔｈ ﬁ ㄱㅏ 가", "number 3.14159 and 1,000,000", "Answer: A", "trailing newline\n",
]


def corpus(repeats: int = 6):
    """A small Korean/English/code corpus, yielded one document at a time like a stream."""
    for i in range(repeats):
        for doc in (*KO, *EN, *CODE):
            yield doc if i % 2 else doc.replace(" ", "  ", 1) + f" {i}"


@pytest.fixture(scope="module")
def tok():
    return train(corpus(), TrainSpec(vocab=VOCAB))


def test_layout_specials_then_bytes(tok):
    for i, special in enumerate(SPECIALS):
        assert tok.id_to_token(i) == special
    for b, name in enumerate(BYTES):
        assert tok.id_to_token(3 + b) == name
    assert tok.token_to_id("<0xFF>") == 258
    added = {t.content for t in tok.get_added_tokens_decoder().values()}
    assert added == set(SPECIALS), "byte tokens must live in the model vocab, not as added tokens"


@pytest.mark.parametrize("vocab", [600, 700, VOCAB])
def test_exact_vocab_size(vocab):
    t = train(corpus(), TrainSpec(vocab=vocab))
    assert t.get_vocab_size(with_added_tokens=True) == vocab
    assert len(t.get_vocab(with_added_tokens=True)) == vocab
    assert max(t.get_vocab(with_added_tokens=True).values()) == vocab - 1


def test_literal_byte_text_is_not_a_byte_token(tok):
    ids = tok.encode("<0x41>", add_special_tokens=False).ids
    assert ids != [3 + 0x41]
    assert tok.decode(ids) == "<0x41>"


def test_unseen_characters_fall_back_to_bytes(tok):
    for text in ("龘", "🦎", "𠀀"):
        enc = tok.encode(text, add_special_tokens=False)
        assert enc.ids == [3 + b for b in text.encode("utf-8")]
        assert 0 not in enc.ids
        assert tok.decode(enc.ids) == text


@pytest.mark.parametrize("text", TRICKY + KO + EN + CODE)
def test_round_trip_is_exact(tok, text):
    assert tok.decode(tok.encode(text, add_special_tokens=False).ids, skip_special_tokens=False) == text
    if not any(special in text for special in SPECIALS):
        assert tok.decode(tok.encode(text).ids) == text


def test_literal_metaspace_decodes_as_space(tok):
    # Known limit shared with LLaMA and Mistral: U+2581 in the input is the space marker, so it comes back as " ".
    # The shared corpus has no U+2581 at all.
    assert tok.decode(tok.encode("a▁b", add_special_tokens=False).ids) == "a b"


def test_bos_is_added_by_default(tok):
    assert tok.encode("hello").ids[0] == 1
    assert tok.encode("hello", add_special_tokens=False).ids[0] != 1


def test_digits_and_answer_letters_are_single_tokens(tok):
    for piece in [*"0123456789", "A", "B", "C", "D", " A", " B", " C", " D"]:
        assert len(tok.encode(piece, add_special_tokens=False).ids) == 1, piece
    assert len(tok.encode("2024", add_special_tokens=False).ids) == 4


def test_answer_letters_are_forced_when_the_corpus_lacks_them():
    # Korean-only text never shows " A".." D"; training must still make each one token, at the exact size.
    korean = [doc.replace(" ", "  ", i % 3) for i in range(12) for doc in KO]
    t = train(iter(korean), TrainSpec(vocab=400))
    assert t.get_vocab_size() == 400
    for piece in (" A", " B", " C", " D", "A", "7"):
        assert len(t.encode(piece, add_special_tokens=False).ids) == 1, piece


def test_long_runs_are_capped():
    t = train(corpus(), TrainSpec(vocab=600, max_token_chars=4))
    assert max(len(tok) for tok in t.get_vocab() if not tok.startswith("<")) <= 4


def test_indentation_run_is_learned(tok):
    # Code indentation should cost one token for the run, not one per space.
    assert "▁▁▁" in tok.get_vocab()


def test_too_little_text_raises():
    with pytest.raises(DataError, match="could be learned"):
        train(iter(["tiny text"]), TrainSpec(vocab=2000))


def test_bad_spec_raises():
    with pytest.raises(ConfigError):
        TrainSpec(vocab=100)


def test_save_writes_three_files_read_by_transformers(tok, tmp_path):
    transformers = pytest.importorskip("transformers")
    folder = str(tmp_path / "tok")
    paths = save(tok, folder)
    assert sorted(os.path.basename(p) for p in paths) == [
        "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]
    assert not [f for f in os.listdir(folder) if f not in {os.path.basename(p) for p in paths}]
    config = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    hf = transformers.AutoTokenizer.from_pretrained(folder)
    assert len(hf) == VOCAB
    assert (hf.bos_token_id, hf.eos_token_id, hf.unk_token_id) == (1, 2, 0)
    for text in (KO[0], EN[0], CODE[0], " A", "emoji 🦎 龘"):
        bare = tok.encode(text, add_special_tokens=False).ids
        assert hf(text, add_special_tokens=False)["input_ids"] == bare
        assert hf(text)["input_ids"] == tok.encode(text).ids == [1, *bare]
        assert hf.decode(bare) == text


def test_training_split_equals_the_saved_pre_tokenizer():
    # Training splits text whose spaces are already ▁ with the regex alone; the saved tokenizer runs Metaspace,
    # the regex and Digits. Both must make the same words, or the merges would be learned on other words.
    from packed_corpus import corpus_docs

    saved, training = trainer_mod.pre_tokenizer(), trainer_mod._training_pre_tokenizer()
    docs = [d["text"] for d in corpus_docs()] + TRICKY + KO + EN + CODE + ["x١٢٣ ², ½ 𝟘 Ⅻ 3rd\u00a0 end"]
    for text in docs:
        want = [w for w, _ in saved.pre_tokenize_str(text)]
        got = [w for w, _ in training.pre_tokenize_str(text.replace(" ", "▁"))]
        assert got == want, text[:80]


def test_alphabet_choice_breaks_ties_by_code_point():
    counts = trainer_mod.count_chars(["ccc bb aa d e f", "zz"])
    assert counts[ord("▁")] == 5 and counts[ord(" ")] == 0
    limit = 15 + 3  # the 15 required characters, then 3 more
    alphabet = trainer_mod.choose_alphabet(counts, limit)
    assert alphabet[:15] == ["▁", "A", "B", "C", "D", *"0123456789"]
    # c (3), then a, b, z (2 each) tied: a and b win by code point
    assert alphabet[15:] == ["c", "a", "b"]


def test_count_chars_equals_a_plain_count_across_chunks(monkeypatch):
    # Chunks of a few characters, so that texts span several bincounts of different lengths (ASCII only, then
    # Hangul, emoji beyond the BMP, a lone surrogate), each added into the full-length array.
    from collections import Counter

    monkeypatch.setattr(trainer_mod, "_COUNT_CHUNK", 7)
    texts = ["abc", "한국어 문장", "emoji 😀🦎 end", "x\ud800y", "", "zzzz zzzz", "\U0010FFFF"]
    counts = trainer_mod.count_chars(texts)
    expected = Counter("".join(texts).replace(" ", "▁"))
    assert {chr(c): int(counts[c]) for c in np.flatnonzero(counts)} == dict(expected)


def test_training_is_deterministic_with_ties_at_the_alphabet_cut():
    # 600 rare characters each seen twice share one count at the alphabet cut (100 characters at vocab 1024); which of
    # them the cut keeps must not change from run to run. Each run is a new process, as each CLI run is.
    import subprocess
    import sys

    code = (
        "import random;"
        "from gecko_cli.tokenizer.trainer import TrainSpec, train;"
        "rng = random.Random(0); syl = ['ka', 'ro', 'mi', 'tes', 'un', 'dor', 'pli', 've', 'sha', 'quo'];"
        "docs = [' '.join(''.join(rng.choices(syl, k=rng.randint(1, 4))) for _ in range(200)) for _ in range(40)];"
        "docs += [' '.join(chr(0x4E00 + i) for i in range(600))] * 2;"
        "print(train(docs, TrainSpec(vocab=1024)).to_str())"
    )
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(3)}
    assert len(outs) == 1


def _no_switch():
    import contextlib

    return contextlib.nullcontext(lambda: None)


def test_serial_merges_learn_the_same_merges_as_parallel_ones(monkeypatch):
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    switched = train(corpus(), TrainSpec(vocab=VOCAB)).to_str()
    monkeypatch.setattr(trainer_mod, "_serial_merges", _no_switch)
    assert train(corpus(), TrainSpec(vocab=VOCAB)).to_str() == switched


@pytest.mark.parametrize("before", [None, "true", "false"])
def test_word_counting_stays_parallel_and_the_setting_is_restored(monkeypatch, before):
    if before is None:
        monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    else:
        monkeypatch.setenv("TOKENIZERS_PARALLELISM", before)
    seen = []

    def docs():
        for doc in corpus():
            seen.append(os.environ.get("TOKENIZERS_PARALLELISM"))
            yield doc

    train(lambda: docs(), TrainSpec(vocab=VOCAB))
    assert set(seen) == {before}  # switched only once every document was read
    assert os.environ.get("TOKENIZERS_PARALLELISM") == before


def test_the_setting_is_restored_when_training_fails_after_the_switch(monkeypatch):
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    spaced = trainer_mod._spaced

    def then_fail(texts, done):
        yield from spaced(texts, done)  # every document handed over: parallelism is off now
        assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
        raise DataError("late failure")

    monkeypatch.setattr(trainer_mod, "_spaced", then_fail)
    with pytest.raises(DataError, match="late failure"):
        train(corpus(), TrainSpec(vocab=VOCAB))
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"
