#!/usr/bin/env python3
"""Benchmark `gecko pack` against the raw `tokenizers` encode_batch on the same documents, one core each.

Setup (untimed): `gecko dedup` of the shared corpus and a 32K `gecko train-tokenizer` on it. Then, each in its own
process with RAYON_NUM_THREADS=1 (so both figures are per core), 3 times (the median counts):
- `gecko pack clean/ packed/ --tokenizer tok/ --seq-len 8192 --workers 1`: the whole stage (reading, tokenizing,
  packing, shuffling, writing);
- raw: read the same documents' texts, then time only `Tokenizer.encode_batch` over them.
Target: pack's tokens/s at least 0.8x the raw encode_batch's. Also peak RSS of the pack run. Writes
OUT/pack.json and prints a markdown summary.

Usage: python benchmarks/bench_pack.py [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import REPO, gecko_bin, measure, measure_median, shared_dir  # noqa: E402

REPEAT = 3
TARGET = 0.8


def raw_worker(clean: str, tok: str, result: str) -> None:
    """Time encode_batch alone over every document of `clean` (reading is not timed)."""
    import pyarrow as pa
    from tokenizers import Tokenizer

    texts = []
    manifest = json.loads(Path(clean, "manifest.json").read_text())
    for shard in manifest["shards"]:
        texts += pa.ipc.open_file(os.path.join(clean, shard["name"])).read_all().column("text").to_pylist()
    tokenizer = Tokenizer.from_file(os.path.join(tok, "tokenizer.json"))
    tokenizer.encode_special_tokens = True
    t0 = time.perf_counter()
    tokens = 0
    for i in range(0, len(texts), 2048):
        tokens += sum(len(e.ids) for e in tokenizer.encode_batch_fast(texts[i:i + 2048], add_special_tokens=False))
    Path(result).write_text(json.dumps({"seconds": time.perf_counter() - t0, "tokens": tokens, "docs": len(texts)}))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out"))
    ap.add_argument("--raw-worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.raw_worker:
        raw_worker(*args.raw_worker)
        return
    out = Path(args.out).resolve() / "pack"
    out.mkdir(parents=True, exist_ok=True)
    clean, tok, packed = out / "clean", out / "tok", out / "packed"
    measure([gecko_bin(), "dedup", str(shared_dir() / "corpus"), str(clean), "--exclude", "*.md"], out / "dedup.log")
    measure([gecko_bin(), "train-tokenizer", str(clean), str(tok), "--vocab", "32000"], out / "tok.log")
    os.environ["RAYON_NUM_THREADS"] = "1"
    pack = measure_median([gecko_bin(), "pack", str(clean), str(packed), "--tokenizer", str(tok), "--seq-len", "8192",
                           "--workers", "1", "--overwrite"], out / "pack.log", REPEAT)
    raws = []
    for _ in range(REPEAT):
        measure([sys.executable, __file__, "--raw-worker", str(clean), str(tok), str(out / "raw.json")], out / "raw.log")
        raws.append(json.loads((out / "raw.json").read_text()))
    raw = sorted(raws, key=lambda r: r["seconds"])[REPEAT // 2]
    manifest = json.loads((packed / "manifest.json").read_text())
    val = json.loads((packed / "val" / "manifest.json").read_text()) if (packed / "val").exists() else None
    docs = manifest["stats"]["documents"] + (val["stats"]["documents"] if val else 0)
    # the documents' own tokens, as encode_batch counts them: without the <s> and </s> pack adds to each
    tokens = manifest["stats"]["tokens"] + (val["stats"]["tokens"] if val else 0) - 2 * docs
    pack_rate, raw_rate = tokens / pack["wall_s"], raw["tokens"] / raw["seconds"]
    report = {"pack": {**pack, "tokens": tokens, "tokens_per_s": pack_rate}, "raw_encode_batch": {**raw,
              "tokens_per_s": raw_rate}, "ratio": pack_rate / raw_rate, "target": TARGET, "cpu_count": os.cpu_count(),
              "stats": manifest["stats"]}
    (out.parent / "pack.json").write_text(json.dumps(report, indent=2) + "\n")
    mark = "PASS" if report["ratio"] >= TARGET else "FAIL"
    print(f"Documents: {raw['docs']:,} (the shared corpus after gecko dedup); one core each (RAYON_NUM_THREADS=1)\n")
    print("| run | seconds | tokens | tokens/s per core | peak RSS MB |\n|---|---:|---:|---:|---:|")
    print(f"| gecko pack (whole stage) | {pack['wall_s']:.2f} | {tokens:,} | {pack_rate:,.0f} | {pack['peak_rss_mb']:.0f} |")
    print(f"| tokenizers encode_batch alone | {raw['seconds']:.2f} | {raw['tokens']:,} | {raw_rate:,.0f} | |")
    print(f"\npack / encode_batch = {report['ratio']:.2f}x (target >= {TARGET}x): {mark}")
    s = manifest["stats"]
    print(f"rows {s['rows']:,} of 8192 tokens, padding {s['padding_share']:.2%}, documents cut {s['cut_share']:.2%}")


if __name__ == "__main__":
    main()
