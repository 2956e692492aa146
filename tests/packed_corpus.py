"""A small slice of the real sample corpus in every language, and packed rows of it (for the pretrain tests)."""

from __future__ import annotations

import json
import os

import zstandard

from helpers import CORPUS, write_jsonl

#: (corpus file, language, documents taken): a small slice of each language, Korean prose, English prose, code.
_SLICE = (("ko/nsmc_reviews", "ko", 400), ("ko/rust_book_ko", "ko", 40), ("en/tiny_shakespeare", "en", 60),
          ("en/rust_book_en", "en", 40), ("code/py_flask", "code", 40), ("code/c_lua", "code", 30))


def _read(rel: str, n: int) -> list[dict]:
    with open(os.path.join(CORPUS, f"{rel}.jsonl.zst"), "rb") as fh:
        text = zstandard.ZstdDecompressor().stream_reader(fh).read().decode("utf-8")
    return [json.loads(line) for line in text.splitlines()[:n]]


def corpus_docs() -> list[dict]:
    docs = []
    for rel, lang, n in _SLICE:
        docs += [{"id": d["id"], "text": d["text"][:4000], "lang": lang} for d in _read(rel, n)]
    return docs


def pack_corpus(root, tokenizer_dir: str, seq_len: int, name: str) -> str:
    from gecko_cli.pack.config import PackConfig
    from gecko_cli.pack.run import run

    mixed = os.path.join(str(root), "mixed")
    if not os.path.exists(mixed):
        write_jsonl(os.path.join(mixed, "docs.jsonl"), corpus_docs())
    out = os.path.join(str(root), name)
    run(PackConfig(input=mixed, output=out, tokenizer=tokenizer_dir, seq_len=seq_len, val_fraction=0.1))
    return out
