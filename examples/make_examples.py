#!/usr/bin/env python3
"""Rebuild examples/raw/ from the sample corpus in ../shared/corpus: a small, attributed slice of Korean,
English and code documents, with a few planted duplicates so that `gecko dedup` has something to find.

Usage: python examples/make_examples.py [--corpus ../shared/corpus]
The result is committed; this script documents how it was made.
"""

import argparse
import gzip
import io
import json
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
# (language, source file, documents taken). Never kocohub_news_comments (offensive comments).
PICK = [
    ("ko", "nsmc_reviews", 300), ("ko", "klue_dev", 200), ("ko", "korsts", 100), ("ko", "rust_book_ko", 4),
    ("ko", "pytorch_tutorials_ko", 2),
    ("en", "rust_book_en", 4), ("en", "tiny_shakespeare", 12), ("en", "docs_flask", 6), ("en", "python_peps", 2),
    ("code", "py_flask", 10), ("code", "js_express", 12), ("code", "rs_rust_book_listings", 30),
    ("code", "c_lua", 3),
]


def read(path):
    with open(path, "rb") as fh:
        for line in io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8"):
            yield json.loads(line)


def near_copy(text, rng):
    words = text.split(" ")
    for _ in range(max(1, len(words) // 40)):
        del words[rng.randrange(len(words))]
    return " ".join(words)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "shared", "corpus"))
    args = ap.parse_args()
    rng = random.Random(7)
    by_lang = {}
    for lang, source, n in PICK:
        docs = list(read(os.path.join(args.corpus, lang, f"{source}.jsonl.zst")))
        docs = [d for d in docs if len(d["text"]) >= 40]
        rng.shuffle(docs)
        by_lang.setdefault(lang, []).extend(sorted(docs[:n], key=lambda d: d["id"]))
    for lang, docs in by_lang.items():
        planted = []
        for i, d in enumerate(rng.sample(docs, max(3, len(docs) // 25))):
            kind = "exact" if i % 3 == 0 else "near"
            text = d["text"] if kind == "exact" else near_copy(d["text"], rng)
            planted.append(dict(d, id=f"{d['id']}~{kind}", text=text))
        docs = docs + planted
        rng.shuffle(docs)
        by_lang[lang] = docs
    out = os.path.join(HERE, "raw")
    os.makedirs(out, exist_ok=True)
    lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in by_lang["ko"]).encode()
    with open(os.path.join(out, "ko.jsonl.zst"), "wb") as fh:
        fh.write(zstandard.ZstdCompressor(level=19).compress(lines))
    lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in by_lang["en"]).encode()
    with gzip.GzipFile(os.path.join(out, "en.jsonl.gz"), "wb", mtime=0) as fh:
        fh.write(lines)
    pq.write_table(pa.Table.from_pylist(by_lang["code"]), os.path.join(out, "code.parquet"), compression="zstd")
    print({lang: len(d) for lang, d in by_lang.items()})


if __name__ == "__main__":
    main()
