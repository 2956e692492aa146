#!/usr/bin/env python3
"""Benchmark the rule-based language labeller (`gecko_cli.balance.langid.detect`) on the labelled shared corpus.

Every document of shared/corpus/{ko,en,code}/*.jsonl.zst is labelled with its `lang` hidden: `detect` sees the
text and the other fields (`id`, `source`). Prints, as markdown, the confusion matrix (true label rows x predicted
columns), accuracy per true label with PASS/FAIL against the 98 % target, accuracy per source (lowest first),
the ids of the first wrong labels per source (never their text: one source holds offensive comments), and the
throughput of `detect()` alone on one core (MB of UTF-8 text per second, best of --repeat timed passes after one
untimed pass), overall, per true label and for documents under and over 1000 bytes (short documents cost a fixed
few microseconds each, so their MB/s says little). `gecko balance` labels with `detect_batch()` (batches of
BATCH documents, fields as columns): its labels are checked against `detect()`'s, one by one, and its
throughput is measured the same way. Writes the numbers to OUT/langid.json.

Usage: python benchmarks/bench_langid.py [--out benchmarks/out] [--repeat 3] [--shared PATH]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
from gecko_cli.balance.langid import LANGS, detect, detect_batch  # noqa: E402

TRUE_LANGS = ("ko", "en", "code")
TARGET_ACCURACY = 0.98
WRONG_IDS_SHOWN = 5
SHORT_BYTES = 1000  # throughput is also reported apart for documents under and over this size
BATCH = 2048  # documents per detect_batch() call, as `gecko balance` reads them


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out"), help="output folder [benchmarks/out]")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the corpus; the best counts [3]")
    ap.add_argument("--shared", default=os.environ.get("GECKO_SHARED") or str(REPO.parent / "shared"),
                    help="shared data folder [$GECKO_SHARED or ../shared]")
    return ap.parse_args(argv)


def load_corpus(shared: str) -> list[dict]:
    """All labelled documents of shared/corpus, in file order."""
    paths = sorted(glob.glob(os.path.join(shared, "corpus", "*", "*.jsonl.zst")))
    if not paths:
        raise SystemExit(f"error: no corpus files under {shared}/corpus\n\nhint: set GECKO_SHARED or pass --shared")
    docs = []
    for path in paths:
        with open(path, "rb") as fh:
            data = zstandard.ZstdDecompressor().stream_reader(fh).read()
        docs.extend(json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip())
    return docs


def time_detect(texts: list[str], metas: list[dict], repeat: int) -> list[float]:
    """Seconds per timed pass of detect() over all documents (after one untimed warm-up pass)."""
    for text, meta in zip(texts, metas):
        detect(text, meta)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for text, meta in zip(texts, metas):
            detect(text, meta)
        times.append(time.perf_counter() - start)
    return times


def batches(texts: list[str], metas: list[dict]) -> list[tuple[list[str], dict[str, list]]]:
    """The documents in batches of BATCH, their fields as columns (None where a document lacks one)."""
    out = []
    for k in range(0, len(texts), BATCH):
        chunk = metas[k:k + BATCH]
        keys = sorted({key for m in chunk for key in m})
        out.append((texts[k:k + BATCH], {key: [m.get(key) for m in chunk] for key in keys}))
    return out


def time_detect_batch(parts: list[tuple[list[str], dict]], repeat: int) -> tuple[list[str], list[float]]:
    """The labels of detect_batch() over the batches, and the seconds of each timed pass (after one untimed)."""
    labels = [label for texts, columns in parts for label in detect_batch(texts, columns)]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for texts, columns in parts:
            detect_batch(texts, columns)
        times.append(time.perf_counter() - start)
    return labels, times


def score(docs: list[dict], preds: list[str]) -> dict:
    """Confusion matrix, accuracy per true label and per source, and the wrong ids per source."""
    confusion = {t: dict.fromkeys(LANGS, 0) for t in TRUE_LANGS}
    per_source: dict[str, Counter] = defaultdict(Counter)
    wrong: dict[str, list[str]] = defaultdict(list)
    for doc, pred in zip(docs, preds):
        confusion[doc["lang"]][pred] += 1
        key = f"{doc['lang']}/{doc['source']}"
        per_source[key]["docs"] += 1
        per_source[key]["right"] += pred == doc["lang"]
        if pred != doc["lang"]:
            per_source[key][f"as_{pred}"] += 1
            wrong[key].append(doc["id"])
    accuracy = {t: confusion[t][t] / max(sum(confusion[t].values()), 1) for t in TRUE_LANGS}
    sources = sorted(
        ({"source": key, "docs": c["docs"], "accuracy": c["right"] / c["docs"],
          "wrong_as": {k[3:]: v for k, v in c.items() if k.startswith("as_")}} for key, c in per_source.items()),
        key=lambda row: (row["accuracy"], row["source"]),
    )
    return {"confusion": confusion, "accuracy": accuracy, "sources": sources, "wrong_ids": dict(wrong)}


def report(result: dict) -> None:
    """Print the result as markdown tables."""
    print("## Confusion matrix (rows: true label, columns: predicted)\n")
    print("| true \\ pred | " + " | ".join(LANGS) + " | docs |")
    print("|---" * (len(LANGS) + 2) + "|")
    for true, row in result["confusion"].items():
        print(f"| {true} | " + " | ".join(f"{row[p]:,}" for p in LANGS) + f" | {sum(row.values()):,} |")
    print("\n## Accuracy per true label\n")
    print("| label | accuracy | target | |")
    print("|---|---|---|---|")
    for lang, acc in result["accuracy"].items():
        print(f"| {lang} | {acc:.4%} | {TARGET_ACCURACY:.0%} | {'PASS' if acc >= TARGET_ACCURACY else 'FAIL'} |")
    print("\n## Accuracy per source (lowest first)\n")
    print("| source | docs | accuracy | wrong as | first wrong ids |")
    print("|---|---|---|---|---|")
    for row in result["sources"]:
        ids = result["wrong_ids"].get(row["source"], [])[:WRONG_IDS_SHOWN]
        wrong_as = ", ".join(f"{k} {v}" for k, v in sorted(row["wrong_as"].items()))
        print(f"| {row['source']} | {row['docs']:,} | {row['accuracy']:.2%} | {wrong_as} | {' '.join(ids)} |")
    b = result["batch"]
    print(f"\n## detect_batch() (the stage's labeller, {BATCH} documents a call)\n")
    print(f"labels identical to detect(): {b['identical']:,} of {b['docs']:,} "
          f"({'PASS' if b['identical'] == b['docs'] else 'FAIL'}); {b['mb_per_s']:.1f} MB/s on one core "
          f"(best of {len(b['pass_s'])}: {b['best_s']:.3f} s), {b['us_per_doc']:.2f} us/doc")
    t = result["throughput"]
    print(f"\n## Throughput of detect() (one core, best of {len(t['pass_s'])})\n")
    print(f"{t['mb']:.1f} MB in {t['docs']:,} documents: {t['best_s']:.3f} s, {t['mb_per_s']:.1f} MB/s, "
          f"{t['us_per_kb']:.2f} us/KB, {t['us_per_doc']:.2f} us/doc")
    print("\n| documents | docs | MB | MB/s | us/KB | us/doc |")
    print("|---|---|---|---|---|---|")
    for name, row in t["groups"].items():
        print(f"| {name} | {row['docs']:,} | {row['mb']:.1f} | {row['mb_per_s']:.1f} | {1e3 / row['mb_per_s']:.2f} "
              f"| {row['us_per_doc']:.2f} |")


def main(argv: list[str] | None = None) -> int:
    """Label the corpus, score, time, print and write OUT/langid.json."""
    args = parse_args(argv)
    docs = load_corpus(args.shared)
    texts = [d["text"] for d in docs]
    metas = [{k: v for k, v in d.items() if k not in ("text", "lang")} for d in docs]
    preds = [detect(text, meta) for text, meta in zip(texts, metas)]
    result = score(docs, preds)
    sizes = [len(text.encode("utf-8", "surrogatepass")) for text in texts]
    times = time_detect(texts, metas, args.repeat)
    groups = {f"label {lang}": [i for i, d in enumerate(docs) if d["lang"] == lang] for lang in TRUE_LANGS}
    groups[f"under {SHORT_BYTES} B"] = [i for i, size in enumerate(sizes) if size < SHORT_BYTES]
    groups[f"{SHORT_BYTES} B or more"] = [i for i, size in enumerate(sizes) if size >= SHORT_BYTES]
    per_group = {}
    for name, idx in groups.items():
        best = min(time_detect([texts[i] for i in idx], [metas[i] for i in idx], args.repeat))
        mb = sum(sizes[i] for i in idx) / 1e6
        per_group[name] = {"docs": len(idx), "mb": mb, "best_s": best, "mb_per_s": mb / best,
                           "us_per_doc": best / max(len(idx), 1) * 1e6}
    total_mb, best = sum(sizes) / 1e6, min(times)
    result["throughput"] = {
        "docs": len(docs), "mb": total_mb, "pass_s": times, "best_s": best, "mb_per_s": total_mb / best,
        "us_per_kb": best / (sum(sizes) / 1e3) * 1e6, "us_per_doc": best / len(docs) * 1e6, "groups": per_group,
    }
    batch_preds, batch_times = time_detect_batch(batches(texts, metas), args.repeat)
    result["batch"] = {"docs": len(docs), "identical": sum(a == b for a, b in zip(preds, batch_preds)),
                       "pass_s": batch_times, "best_s": min(batch_times), "mb_per_s": total_mb / min(batch_times),
                       "us_per_doc": min(batch_times) / len(docs) * 1e6}
    result["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
    report(result)
    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, "langid.json")
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    print(f"\nwrote {out}", file=sys.stderr)
    return 0 if result["batch"]["identical"] == len(docs) else 1


if __name__ == "__main__":
    sys.exit(main())
