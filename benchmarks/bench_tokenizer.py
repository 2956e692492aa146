#!/usr/bin/env python3
"""Benchmark gecko's BPE tokenizer trainer against sentencepiece BPE, and its efficiency against Mistral's.

1. Builds a training sample from shared/corpus/{ko,en,code}/*.jsonl.zst in the 35/28/37 ko/en/code mix by UTF-8
   bytes (--sample-mb in all; a language with less text is taken whole and the achieved mix is reported). About
   10 % of each language's documents (by a hash of the id) are held out for evaluation; a training document
   whose text equals a held-out one is dropped, so nothing is both trained on and measured.
2. Trains gecko's tokenizer (`gecko_cli.tokenizer.trainer`) and sentencepiece BPE on the same sample, each in its
   own subprocess (wall time, CPU time and peak RSS from os.wait4), with the same thread count (--threads,
   default all CPUs: RAYON_NUM_THREADS for gecko, num_threads for sentencepiece), --repeat times (default 3;
   the run with the median wall time counts). sentencepiece gets the sample
   one text line per sentence (it learns no newlines) with LLaMA's settings: identity normalization, no
   whitespace collapsing, byte fallback, split digits, character_coverage 0.9995.
3. Measures tokens per 1,000 characters per language on the held-out documents for gecko, that sentencepiece
   model, Mistral v1 (the reference), cl100k and o200k, and checks the targets: gecko Korean <= 0.45x Mistral,
   English and code <= 1.05x Mistral, training wall time <= 1.5x sentencepiece's.

Writes OUT/tokenizer_bench.json (all numbers and machine info) and prints a markdown report with PASS/FAIL.

Usage: python benchmarks/bench_tokenizer.py [--out benchmarks/out] [--sample-mb 30] [--vocab 32000] [--threads N]
       [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import REPO, measure, shared_dir  # noqa: E402

MIX = {"ko": 0.35, "en": 0.28, "code": 0.37}
HELDOUT_PER_MILLE = 100
TARGETS = {"ko": 0.45, "en": 1.05, "code": 1.05}
MAX_TRAIN_TIME_RATIO = 1.5
REFERENCES = ("mistral_v1_tokenizer.model", "cl100k_base.tiktoken", "o200k_base.tiktoken")
SPM_MAX_LINE_BYTES = 1 << 16


def doc_hash(doc_id: str) -> int:
    """A stable 64-bit hash of a document id: the held-out split and the sampling order both come from it."""
    return int.from_bytes(hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest(), "big")


def read_corpus(corpus: Path) -> dict[str, list[dict]]:
    """Every document of the three languages, each with its `hash`, in sorted file order."""
    import zstandard

    docs: dict[str, list[dict]] = {}
    for lang in MIX:
        docs[lang] = []
        for path in sorted((corpus / lang).glob("*.jsonl.zst")):
            with zstandard.open(path, "rt", encoding="utf-8") as fh:
                for line in fh:
                    doc = json.loads(line)
                    docs[lang].append({"id": doc["id"], "text": doc["text"], "hash": doc_hash(str(doc["id"]))})
    return docs


def split(docs: dict[str, list[dict]], sample_mb: float) -> tuple[dict, list[tuple[str, str]], dict]:
    """Hold out ~10 % per language, then fill each language's share of `sample_mb` in hash order.

    Returns:
        (training texts per language, held-out (lang, text) pairs, per-language statistics).
    """
    train: dict[str, list[str]] = {}
    heldout: list[tuple[str, str]] = []
    stats: dict[str, dict] = {}
    for lang, items in docs.items():
        held = [d for d in items if d["hash"] % 1000 < HELDOUT_PER_MILLE]
        held_texts = {d["text"] for d in held}
        rest = sorted((d for d in items if d["hash"] % 1000 >= HELDOUT_PER_MILLE), key=lambda d: (d["hash"], d["id"]))
        pool = [d for d in rest if d["text"] not in held_texts]
        target = MIX[lang] * sample_mb * 1e6
        chosen, n_bytes = [], 0
        for d in pool:
            if n_bytes >= target:
                break
            chosen.append(d["text"])
            n_bytes += len(d["text"].encode("utf-8"))
        train[lang] = chosen
        heldout += [(lang, d["text"]) for d in held]
        stats[lang] = {"documents_total": len(items), "heldout_documents": len(held),
                       "dropped_same_text_as_heldout": len(rest) - len(pool), "train_documents": len(chosen),
                       "train_bytes": n_bytes, "target_bytes": int(target), "short": n_bytes < target}
    total = sum(s["train_bytes"] for s in stats.values())
    for lang, s in stats.items():
        s["achieved_share"] = s["train_bytes"] / total if total else 0.0
        s["target_share"] = MIX[lang]
    return train, heldout, stats


def write_sample(train: dict[str, list[str]], work: Path) -> tuple[Path, Path]:
    """The sample as JSON lines (gecko: whole documents) and as text lines (sentencepiece: one line a sentence)."""
    jsonl, txt = work / "train.jsonl", work / "train.txt"
    with open(jsonl, "w", encoding="utf-8") as fj, open(txt, "w", encoding="utf-8") as ft:
        for texts in train.values():
            for text in texts:
                fj.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
                ft.writelines(line + "\n" for line in text.splitlines() if line.strip())
    return jsonl, txt


def worker_gecko(sample: Path, folder: Path, vocab: int) -> dict:
    """Train and save gecko's tokenizer (runs in its own process)."""
    from gecko_cli.tokenizer.trainer import TrainSpec, save, train

    with open(sample, encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    spec = TrainSpec(vocab=vocab, byte_fallback=True, max_token_chars=16, min_frequency=2)
    t0 = time.perf_counter()
    tok = train(texts, spec)
    train_s = time.perf_counter() - t0
    save(tok, str(folder))
    return {"train_s": train_s, "vocab_size": tok.get_vocab_size(with_added_tokens=True)}


def spm_options(sample: Path, prefix: Path, vocab: int, threads: int) -> dict:
    """sentencepiece trainer options: BPE in LLaMA/Mistral's layout."""
    return {"input": str(sample), "model_prefix": str(prefix), "model_type": "bpe", "vocab_size": vocab,
            "byte_fallback": True, "split_digits": True, "character_coverage": 0.9995, "num_threads": threads,
            "normalization_rule_name": "identity", "remove_extra_whitespaces": False,
            "allow_whitespace_only_pieces": True, "max_sentencepiece_length": 16,
            "max_sentence_length": SPM_MAX_LINE_BYTES, "input_sentence_size": 0, "minloglevel": 1}


def worker_spm(sample: Path, prefix: Path, vocab: int, threads: int) -> dict:
    """Train a sentencepiece BPE model (runs in its own process)."""
    import sentencepiece as spm

    t0 = time.perf_counter()
    spm.SentencePieceTrainer.train(**spm_options(sample, prefix, vocab, threads))
    return {"train_s": time.perf_counter() - t0, "vocab_size": vocab}


def run_worker(tool: str, args: argparse.Namespace, work: Path, run: int) -> dict:
    """Run one trainer once as `this_script --worker TOOL`; its process measurements merged with its own report."""
    cmd = [sys.executable, __file__, "--worker", tool, "--work", str(work), "--vocab", str(args.vocab),
           "--threads", str(args.threads)]
    log = work / f"train_{tool}_{run}.log"
    result = measure(cmd, log)
    text = log.read_text(encoding="utf-8", errors="replace")
    result.update(json.loads([line for line in text.splitlines() if line.startswith("{")][-1]))
    return result


def train_both(args: argparse.Namespace, work: Path) -> dict:
    """Train gecko and sentencepiece --repeat times, interleaved so that load from elsewhere hits both alike.

    Returns:
        Per tool, the run with the median wall time, with every run's wall time in `wall_s_all`.
    """
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # inherited by the workers: tokenizers' thread pool
    runs: dict[str, list[dict]] = {"gecko": [], "sentencepiece": []}
    for i in range(args.repeat):
        for tool, results in runs.items():
            results.append(run_worker(tool, args, work, i))
    medians = {}
    for tool, results in runs.items():
        results.sort(key=lambda r: r["wall_s"])
        medians[tool] = dict(results[len(results) // 2], wall_s_all=[round(r["wall_s"], 3) for r in results])
    return medians


def roundtrip(folder: Path, heldout: list[tuple[str, str]]) -> dict[str, int]:
    """Held-out documents per language that gecko's tokenizer does not decode back exactly (should be none)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    texts = [text for _, text in heldout]
    encodings = tok.encode_batch(texts, add_special_tokens=False)
    decoded = tok.decode_batch([e.ids for e in encodings], skip_special_tokens=False)
    failures = {lang: 0 for lang, _ in heldout}
    for (lang, text), back in zip(heldout, decoded):
        failures[lang] += back != text
    return failures


def machine_info(threads: int) -> dict:
    """CPU, memory and library versions, so numbers from different machines can be told apart."""
    import sentencepiece
    import tiktoken
    import tokenizers

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0) if Path("/proc/meminfo").exists() else 0
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "threads": threads, "memory_gb": round(mem_kb / 2**20, 1),
            "platform": platform.platform(), "python": platform.python_version(),
            "tokenizers": tokenizers.__version__, "sentencepiece": sentencepiece.__version__,
            "tiktoken": tiktoken.__version__}


def checks(result: dict, runs: dict) -> list[dict]:
    """The targets, each with its measured value and whether it passes."""
    gecko = result["encoders"]["gecko"]["languages"]
    rows = [{"check": f"gecko {lang} tokens vs Mistral", "value": gecko[lang]["ratio_to"], "limit": limit,
             "pass": gecko[lang]["ratio_to"] is not None and gecko[lang]["ratio_to"] <= limit}
            for lang, limit in TARGETS.items()]
    ratio = runs["gecko"]["wall_s"] / runs["sentencepiece"]["wall_s"]
    rows.append({"check": "gecko training wall time vs sentencepiece", "value": ratio, "limit": MAX_TRAIN_TIME_RATIO,
                 "pass": ratio <= MAX_TRAIN_TIME_RATIO})
    return rows


def print_report(report: dict, table: str) -> None:
    """The markdown report on stdout."""
    m, s = report["machine"], report["sample"]
    print(f"Machine: {m['cpu']}, {m['cpu_count']} CPUs, {m['memory_gb']} GB; both trainers use {m['threads']} threads\n")
    print("| lang | train docs | train MB | target MB | mix (target) | held-out docs |")
    print("|---|---:|---:|---:|---:|---:|")
    for lang, r in s.items():
        short = " (all there is)" if r["short"] else ""
        print(f"| {lang} | {r['train_documents']:,} | {r['train_bytes'] / 1e6:.2f} | {r['target_bytes'] / 1e6:.2f}{short} "
              f"| {r['achieved_share']:.1%} ({r['target_share']:.0%}) | {r['heldout_documents']:,} |")
    print(f"\nTraining, median of {report['repeat']} runs each (wall s of every run in the JSON):\n")
    print("| trainer | wall s | train s (in process) | CPU s | peak RSS MB | vocab |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in report["training"].items():
        print(f"| {name} | {r['wall_s']:.1f} | {r['train_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} "
              f"| {r['vocab_size']:,} |")
    print("\nTokens per 1,000 characters on the held-out documents (ratios against Mistral v1):\n")
    print(table)
    for c in report["checks"]:
        value = "n/a" if c["value"] is None else f"{c['value']:.3f}x"
        print(f"- {'PASS' if c['pass'] else 'FAIL'}: {c['check']} = {value} (limit {c['limit']}x)")
    lossy = {lang: n for lang, n in report["roundtrip_failures"].items() if n}
    print(f"- WARNING: held-out documents gecko does not decode back: {lossy}" if lossy
          else "- gecko decodes every held-out document back exactly")
    print(f"\n{'PASS' if report['pass'] else 'FAIL'}")


def bench(args: argparse.Namespace) -> None:
    """The whole benchmark: sample, train both, measure, check, report."""
    from gecko_cli.tokenizer import efficiency, refs

    shared = shared_dir()
    out = Path(args.out).resolve()
    work = out / "tokenizer"
    work.mkdir(parents=True, exist_ok=True)
    train, heldout, sample_stats = split(read_corpus(shared / "corpus"), args.sample_mb)
    write_sample(train, work)
    del train
    runs = train_both(args, work)
    encoders = [refs.load(str(shared / "refs" / REFERENCES[0])), refs.load(str(work / "gecko")),
                refs.load(str(work / "spm.model"))] + [refs.load(str(shared / "refs" / r)) for r in REFERENCES[1:]]
    for encoder, name in zip(encoders, ("mistral-v1", "gecko", "sentencepiece-bpe")):
        encoder.name = name
    t0 = time.perf_counter()
    result = efficiency.measure(encoders, heldout)
    report = {"sample": sample_stats, "training": runs, "efficiency": result, "measure_s": time.perf_counter() - t0,
              "spm_options": spm_options(work / "train.txt", work / "spm", args.vocab, args.threads),
              "machine": machine_info(args.threads), "sample_mb": args.sample_mb, "vocab": args.vocab, "repeat": args.repeat}
    report["roundtrip_failures"] = roundtrip(work / "gecko", heldout)
    report["checks"] = checks(result, runs)
    report["pass"] = all(c["pass"] for c in report["checks"])
    (out / "tokenizer_bench.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_report(report, efficiency.markdown(result))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out"))
    ap.add_argument("--sample-mb", type=float, default=30.0, help="training sample size over all languages")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for each trainer")
    ap.add_argument("--repeat", type=int, default=3, help="train each tool this many times; the median counts")
    ap.add_argument("--worker", choices=["gecko", "sentencepiece"], help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker == "gecko":
        print(json.dumps(worker_gecko(Path(args.work) / "train.jsonl", Path(args.work) / "gecko", args.vocab)))
    elif args.worker == "sentencepiece":
        print(json.dumps(worker_spm(Path(args.work) / "train.txt", Path(args.work) / "spm", args.vocab, args.threads)))
    else:
        bench(args)


if __name__ == "__main__":
    main()
