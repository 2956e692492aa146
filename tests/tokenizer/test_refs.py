"""Loading reference tokenizers: the shared files, HF tokenizer.json files and folders, and the errors."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from gecko_cli.errors import DataError
from gecko_cli.tokenizer import refs
from helpers import SHARED

REFS = os.path.join(SHARED, "refs")
MISTRAL = os.path.join(REFS, "mistral_v1_tokenizer.model")
CL100K = os.path.join(REFS, "cl100k_base.tiktoken")
O200K = os.path.join(REFS, "o200k_base.tiktoken")
SAMPLES = ["안녕하세요, 세계! 한국어 문장입니다.", "Hello world, this is English.", "def add(a, b):\n    return a + b\n"]

needs_refs = pytest.mark.skipif(not os.path.isfile(MISTRAL), reason="shared reference tokenizers not found")


@pytest.fixture(scope="module")
def mistral():
    return refs.load(MISTRAL)


@pytest.fixture(scope="module")
def cl100k():
    return refs.load(CL100K)


def tiny_tokenizer() -> Tokenizer:
    """A 300-token byte-level BPE whose post-processor adds a BOS, which `encode` must leave out."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(SAMPLES * 20, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return tok


@needs_refs
def test_mistral_encodes_without_bos_and_decodes_back(mistral):
    assert (mistral.name, mistral.vocab_size) == ("mistral_v1_tokenizer", 32000)
    assert mistral.encode("hello world") == [6312, 28709, 1526]
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=MISTRAL)
    for text, ids in zip(SAMPLES, mistral.encode_batch(SAMPLES)):
        assert ids == mistral.encode(text)
        assert ids and ids[0] != sp.bos_id() and all(0 <= i < 32000 for i in ids)
        assert sp.decode(ids) == text


@needs_refs
def test_mistral_byte_fallback_covers_rare_hangul(mistral):
    ids = mistral.encode("똠")  # not a piece of its own: byte fallback gives <0x..> pieces
    assert len(ids) >= 3


@needs_refs
def test_tiktoken_cl100k_known_ids(cl100k):
    assert cl100k.name == "cl100k_base"
    assert cl100k.encode("hello world") == [15339, 1917]
    assert cl100k.vocab_size == 100277
    # special-token text is ordinary text here, not the special id
    assert 100257 not in cl100k.encode("<|endoftext|>")
    batch = cl100k.encode_batch(SAMPLES)
    assert batch == [cl100k.encode(t) for t in SAMPLES]
    assert len(batch[0]) > len(batch[1]) / 2


@needs_refs
def test_o200k_is_shorter_on_korean(cl100k):
    o200k = refs.load(O200K)
    assert o200k.vocab_size == 200019
    assert len(o200k.encode(SAMPLES[0])) < len(cl100k.encode(SAMPLES[0]))


@needs_refs
def test_load_many_keeps_order():
    encoders = refs.load_many(f"{MISTRAL}, {CL100K}")
    assert [e.name for e in encoders] == ["mistral_v1_tokenizer", "cl100k_base"]


def test_tokenizer_json_file_and_folder(tmp_path):
    tok = tiny_tokenizer()
    folder = tmp_path / "gecko-tok"
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    shutil.copy(folder / "tokenizer.json", tmp_path / "mine.json")
    from_folder, from_file = refs.load(str(folder)), refs.load(str(tmp_path / "mine.json"))
    assert (from_folder.name, from_file.name) == ("gecko-tok", "mine")
    assert from_folder.vocab_size == tok.get_vocab_size(with_added_tokens=True)
    for text, ids in zip(SAMPLES, from_file.encode_batch(SAMPLES)):
        assert ids == from_folder.encode(text) == tok.encode(text, add_special_tokens=False).ids
        assert 0 not in ids  # no BOS from the post-processor
        assert tok.decode(ids) == text


@pytest.mark.parametrize("name", ["missing.model", "missing.tiktoken", "missing.json"])
def test_missing_file(tmp_path, name):
    with pytest.raises(DataError, match="no such file"):
        refs.load(str(tmp_path / name))


def test_folder_without_tokenizer_json(tmp_path):
    with pytest.raises(DataError, match="no tokenizer.json"):
        refs.load(str(tmp_path))


def test_unknown_format(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("a 1\n")
    with pytest.raises(DataError, match="unknown tokenizer format") as err:
        refs.load(str(path))
    assert ".tiktoken" in err.value.hint


@pytest.mark.parametrize("name,content", [
    ("bad.model", b"\x00not a protobuf at all\xff" * 10),
    ("bad.json", b"{\"model\": 3}"),
    ("bad.tiktoken", b"IQ== 0\nnot-base64!! x\n"),
    ("empty.tiktoken", b""),
])
def test_corrupt_files(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    (tmp_path / f"{path.stem}.meta.json").write_text(json.dumps({"pat_str": r"\S+|\s+", "special_tokens": {}}))
    with pytest.raises(DataError):
        refs.load(str(path))


def test_tiktoken_without_meta_says_what_to_write(tmp_path):
    path = tmp_path / "mine.tiktoken"
    path.write_bytes(b"IQ== 0\nIg== 1\n")
    with pytest.raises(DataError, match="mine.meta.json is missing") as err:
        refs.load(str(path))
    assert "pat_str" in err.value.hint and "special_tokens" in err.value.hint


def test_tiktoken_with_bad_meta(tmp_path):
    path = tmp_path / "mine.tiktoken"
    path.write_bytes(b"IQ== 0\nIg== 1\n")
    (tmp_path / "mine.meta.json").write_text("{\"special_tokens\": {}}")
    with pytest.raises(DataError, match="pat_str"):
        refs.load(str(path))


def test_tiktoken_with_bad_pattern(tmp_path):
    path = tmp_path / "mine.tiktoken"
    path.write_bytes(b"IQ== 0\nIg== 1\n")
    (tmp_path / "mine.meta.json").write_text(json.dumps({"pat_str": "(", "special_tokens": {}}))
    with pytest.raises(DataError, match="tiktoken rejected"):
        refs.load(str(path))


def test_tiny_tiktoken_file_loads(tmp_path):
    path = tmp_path / "bytes.tiktoken"
    import base64

    path.write_text("".join(f"{base64.b64encode(bytes([i])).decode()} {i}\n" for i in range(256)))
    (tmp_path / "bytes.meta.json").write_text(json.dumps({"pat_str": r"\S+|\s+", "special_tokens": {"<|end|>": 256}}))
    enc = refs.load(str(path))
    assert enc.vocab_size == 257
    assert enc.encode("ab") == [97, 98]


def test_missing_dependency_is_a_dependency_error(tmp_path, monkeypatch):
    import builtins

    from gecko_cli.errors import DependencyError

    real_import = builtins.__import__

    def no_sentencepiece(name, *args, **kwargs):
        if name == "sentencepiece":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    path = tmp_path / "x.model"
    path.write_bytes(b"x")
    monkeypatch.setattr(builtins, "__import__", no_sentencepiece)
    with pytest.raises(DependencyError) as err:
        refs.load(str(path))
    assert "pip install sentencepiece tiktoken" in err.value.hint


def test_load_many_empty():
    with pytest.raises(DataError, match="no tokenizer paths"):
        refs.load_many(" , ")
