#!/usr/bin/env python3
"""Benchmark `gecko dedup` against datasketch on a corpus with planted duplicates.

One run builds the planted corpus with shared/bench/plant_duplicates.py (split into 8 input files, in order),
then deduplicates it with gecko (default settings with 1 and 2 workers, the classic `--scheme perm`, and
verification by the 112-value signature instead of the finer sketch) and with a datasketch MinHash LSH
pipeline that uses the same normalization, shingles, threshold and banding, at the default threshold 0.8 and
at 0.7. Every tool runs in its own subprocess, so wall time, CPU time and peak RSS are per tool. Scores are
defined in planted_truth.py; the numbers go to OUT/dedup.json and a markdown summary to stdout.

Usage: python benchmarks/bench_dedup.py [--out benchmarks/out] [--per-lang 3000] [--quick]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import gecko_bin, measure, measure_median, shared_dir  # noqa: E402
from planted_truth import NGRAM, Truth  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NUM_PERM, BANDS, ROWS, PARTS = 112, 14, 8, 8
TARGETS = {"precision": 0.99, "recall": 0.95, "hardneg_kept": 0.95, "mb_s_per_core": 10.0}
# (name, workers, threshold, extra gecko flags); datasketch runs at each threshold too.
GECKO_RUNS = (("w1", 1, 0.8, ()), ("w2", 2, 0.8, ()), ("perm", 1, 0.8, ("--scheme", "perm")),
              ("no-sketch", 1, 0.8, ("--verify-bins", "0")), ("w1", 1, 0.7, ()))
THRESHOLDS = (0.8, 0.7)
REPEAT = 3  # gecko runs are timed this many times (the median counts); datasketch's take ~10 s and run once
QUICK_PER_LANG = 300
FULL_PER_LANG = 3000
_SHINGLE_CHUNK = 50_000  # shingles per MinHash.update_batch call, so one huge document cannot blow up memory


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (the hidden --datasketch-worker runs the datasketch side in a subprocess)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out"), help="output folder [benchmarks/out]")
    ap.add_argument("--per-lang", type=int, default=None,
                    help=f"base documents per language [{FULL_PER_LANG}; {QUICK_PER_LANG} with --quick]")
    ap.add_argument("--quick", action="store_true", help=f"small run ({QUICK_PER_LANG} base documents per language)")
    ap.add_argument("--seed", type=int, default=1, help="seed of plant_duplicates.py [1]")
    ap.add_argument("--datasketch-worker", nargs=3, metavar=("RAW", "THRESHOLD", "RESULT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.per_lang is None:
        args.per_lang = QUICK_PER_LANG if args.quick else FULL_PER_LANG
    return args


# ------------------------------------------------------------------------------------------------- inputs
def build_corpus(shared: Path, out: Path, per_lang: int, seed: int) -> tuple[Path, Path]:
    """Plant duplicates into the shared corpus; returns (raw input folder, truth.jsonl)."""
    planted = out / "planted"
    cmd = [sys.executable, str(shared / "bench" / "plant_duplicates.py"), str(shared / "corpus"),
           "--out", str(planted), "--per-lang", str(per_lang), "--seed", str(seed)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    raw = out / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    split_docs(planted / "docs.jsonl.zst", raw, PARTS)  # truth.jsonl stays out of the input
    return raw, planted / "truth.jsonl"


def split_docs(path: Path, raw: Path, parts: int) -> None:
    """Cut a .jsonl.zst file into `parts` consecutive files (document order is kept across them)."""
    import zstandard

    docs = list(read_jsonl_zst(path))
    step = -(-len(docs) // parts)
    for k in range(parts):
        lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs[k * step:(k + 1) * step])
        (raw / f"part-{k:02d}.jsonl.zst").write_bytes(zstandard.ZstdCompressor(level=3).compress(lines.encode()))


def read_raw(raw: Path | str):
    """Every document of the input folder, in gecko's input order (files sorted by name)."""
    for path in sorted(Path(raw).glob("*.jsonl.zst")):
        yield from read_jsonl_zst(path)


def read_jsonl_zst(path: Path | str):
    """Yield the records of a .jsonl.zst file."""
    import zstandard

    with open(path, "rb") as fh:
        for line in io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8"):
            if line.strip():
                yield json.loads(line)


# ---------------------------------------------------------------------------------------------- measuring
def read_shards(folder: Path, columns: list[str]) -> dict[str, list]:
    """The given columns of every shard-*.arrow in a folder, end to end."""
    import pyarrow as pa

    out: dict[str, list] = {c: [] for c in columns}
    for path in sorted(glob.glob(str(folder / "shard-*.arrow"))):
        table = pa.ipc.open_file(pa.memory_map(path)).read_all()
        for c in columns:
            out[c].extend(table.column(c).to_pylist())
    return out


def run_gecko(out: Path, raw: Path, name: str, workers: int, threshold: float, extra: tuple[str, ...] = ()) -> dict:
    """Run `gecko dedup` once; returns the timing plus kept ids and dup_of of every dropped document."""
    clean, dropped = out / f"clean_{name}_{threshold}", out / f"dropped_{name}_{threshold}"
    cmd = [gecko_bin(), "dedup", str(raw), str(clean), "--workers", str(workers), "--threshold", str(threshold),
           "--keep-dropped", str(dropped), "--overwrite", *extra]
    result = measure_median(cmd, out / "logs" / f"gecko_{name}.log", REPEAT)
    kept = read_shards(clean, ["id"])["id"]
    gone = read_shards(dropped, ["id", "dedup_dup_of"])
    manifest = json.loads((clean / "manifest.json").read_text(encoding="utf-8"))
    result.update(tool=f"gecko {name}", workers=workers, threshold=threshold, command=" ".join(cmd[1:]), kept=kept,
                  dup_of=dict(zip(gone["id"], gone["dedup_dup_of"], strict=True)), lsh=manifest["stats"]["lsh"],
                  manifest_text_bytes=manifest["stats"]["text_bytes"]["read"])
    return result


def compare_folders(a: Path, b: Path) -> dict:
    """Whether two dedup outputs hold byte-identical shard-*.arrow files and manifest.json."""
    def files(folder: Path) -> list[str]:
        return sorted(os.path.basename(p) for p in glob.glob(str(folder / "shard-*.arrow"))) + ["manifest.json"]

    names_a, names_b = files(a), files(b)
    differ = sorted(set(names_a) ^ set(names_b))
    differ += [n for n in names_a if n in names_b and (a / n).read_bytes() != (b / n).read_bytes()]
    return {"identical": not differ, "files": names_a, "differing": differ}


# -------------------------------------------------------------------------------------------- datasketch
def _find(parent: dict[int, int], x: int) -> int:
    """Root of x in a union-find forest kept in a dict (absent means its own root)."""
    while parent.get(x, x) != x:
        parent[x] = parent.get(parent[x], parent[x])  # path halving
        x = parent[x]
    return x


def _union(parent: dict[int, int], a: int, b: int) -> None:
    """Merge the sets of a and b."""
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:  # the smaller index (earlier document) stays the root, so a cluster keeps its first member
        parent[max(ra, rb)] = min(ra, rb)


def _minhash(norm: str, minhash_cls):  # noqa: D103
    """datasketch MinHash of the character 5-grams of a normalized text (a shorter text is one shingle)."""
    grams = {norm[j:j + NGRAM] for j in range(len(norm) - NGRAM + 1)} or {norm}
    m = minhash_cls(num_perm=NUM_PERM)
    grams = [g.encode("utf-8") for g in grams]
    for s in range(0, len(grams), _SHINGLE_CHUNK):
        m.update_batch(grams[s:s + _SHINGLE_CHUNK])
    return m


def datasketch_worker(raw: str, threshold_text: str, result_path: str) -> None:
    """Deduplicate with datasketch (exact on normalized text, then MinHash LSH) and write the decisions."""
    from datasketch import MinHash, MinHashLSH

    from gecko_cli.dedup.normalize import normalize_text

    threshold = float(threshold_text)
    t0, c0 = time.perf_counter(), time.process_time()
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM, params=(BANDS, ROWS))
    ids: list[str] = []
    first_of: dict[bytes, int] = {}
    exact_of: dict[int, int] = {}
    empty: set[int] = set()
    sigs: dict[int, MinHash] = {}
    parent: dict[int, int] = {}
    for i, doc in enumerate(read_raw(raw)):
        ids.append(doc["id"])
        norm = normalize_text(doc["text"] or "")
        if not norm:
            empty.add(i)
            continue
        key = hashlib.blake2b(norm.encode("utf-8"), digest_size=16).digest()
        if key in first_of:
            exact_of[i] = first_of[key]
            continue
        first_of[key] = i
        m = _minhash(norm, MinHash)
        for c in lsh.query(m):  # earlier documents only: each is inserted after its own query
            if m.jaccard(sigs[c]) >= threshold:
                _union(parent, i, c)
        lsh.insert(i, m)
        sigs[i] = m
    kept, dup_of = [], {}
    for i, doc_id in enumerate(ids):
        root = _find(parent, exact_of.get(i, i))
        if i in empty:
            dup_of[doc_id] = None
        elif root == i:
            kept.append(doc_id)
        else:
            dup_of[doc_id] = ids[root]
    result = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "kept": kept,
              "dup_of": dup_of, "minhash_scheme": MinHash(num_perm=NUM_PERM).scheme}
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


def run_datasketch(out: Path, raw: Path, threshold: float) -> dict:
    """Run datasketch_worker in its own process; wall and CPU time cover reading to decisions only."""
    result_path = out / f"datasketch_result_{threshold}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--datasketch-worker", str(raw), str(threshold),
           str(result_path)]
    proc = measure(cmd, out / "logs" / f"datasketch_{threshold}.log")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result.update(tool="datasketch", workers=1, threshold=threshold, peak_rss_mb=proc["peak_rss_mb"],
                  process_wall_s=proc["wall_s"], process_cpu_s=proc["cpu_s"])
    return result


# ----------------------------------------------------------------------------------------------- scoring
def targets(row: dict) -> dict:
    """Each target of the issue with the tool's value and whether it is met."""
    return {k: {"target": t, "value": row[k], "pass": row[k] >= t} for k, t in TARGETS.items()}


# ------------------------------------------------------------------------------------------------ report
def machine_info() -> dict:
    """CPU and library versions of this machine."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    info = {"cpu_count": os.cpu_count(), "cpu_model": cpu, "platform": platform.platform(),
            "python": platform.python_version()}
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    for pkg in ("numpy", "pyarrow", "datasketch", "gecko-cli"):
        try:
            info[pkg] = version(pkg)
        except PackageNotFoundError:
            info[pkg] = None
    return info


def _label(r: dict) -> str:
    return f"{r['tool']} @{r['threshold']}"


def _cell(value: float, key: str) -> str:
    """A value with PASS or FAIL against its target."""
    mark = "PASS" if value >= TARGETS[key] else "FAIL"
    return f"{value:.2f} {mark}" if key == "mb_s_per_core" else f"{value:.4f} {mark}"


def _main_table(rows: list[dict]) -> list[str]:
    """Timings, throughput and scores, one row per run, with PASS/FAIL against each target."""
    lines = ["| run | wall s | CPU s | MB/s per core | peak RSS MB | precision | recall | recall at threshold "
             "| hard negatives kept |", "|---|" + "---:|" * 8]
    for r in rows:
        lines.append(f"| {_label(r)} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {_cell(r['mb_s_per_core'], 'mb_s_per_core')} "
                     f"| {r['peak_rss_mb']:.0f} | {_cell(r['precision'], 'precision')} | {_cell(r['recall'], 'recall')} "
                     f"| {r['recall_at_threshold']:.4f} ({r['copies_at_threshold']} copies) "
                     f"| {_cell(r['hardneg_kept'], 'hardneg_kept')} |")
    return lines


def _recall_table(rows: list[dict]) -> list[str]:
    """Recall of planted copies by kind, edit rate and exact Jaccard to the base, one column per run."""
    keys = sorted({k for r in rows for k in r["recall_breakdown"]})
    lines = ["Recall of planted copies (found: not left beside their base):", "",
             "| copies | " + " | ".join(_label(r) for r in rows) + " |", "|---|" + "---:|" * len(rows)]
    for k in keys:
        cells = [r["recall_breakdown"].get(k) for r in rows]
        lines.append(f"| {k} | " + " | ".join(
            f"{c['recall']:.3f} ({c['found']}/{c['n']})" if c else "-" for c in cells) + " |")
    return lines


def _wrong_lines(rows: list[dict]) -> list[str]:
    """The wrong drops of each run."""
    lines = ["Wrong drops (not planted duplicates, and below the threshold against every member of their cluster):", ""]
    for r in rows:
        w = r["wrong_drops"]
        lines.append(f"- {_label(r)}: {len(w)} {dict(Counter(d['kind'] for d in w))}"
                     + (f", e.g. {w[0]['id']} (best Jaccard {w[0]['best_jaccard_in_cluster']})" if w else ""))
    return lines


def markdown(report: dict) -> str:
    """The summary tables of a report, as markdown."""
    rows = report["tools"]
    c, m = report["corpus"], report["machine"]
    lines = [f"Corpus: {c['documents']} documents in {PARTS} files, {c['text_mb']:.1f} MB of text {c['kinds']}; "
             f"{m['cpu_count']} CPUs ({m['cpu_model']}). Targets: "
             + ", ".join(f"{k} >= {v}" for k, v in TARGETS.items()), ""]
    lines += _main_table(rows) + [""] + _recall_table(rows) + [""] + _wrong_lines(rows)
    same = report["determinism"]["identical"], report["determinism_dropped"]["identical"]
    lines += ["", f"gecko --workers 2 output byte-identical to --workers 1: {str(same[0]).lower()}"
              f" (dropped folder: {str(same[1]).lower()})"]
    return "\n".join(lines)


def finish(result: dict, truth: Truth, text_mb: float) -> dict:
    """One table row: timings, throughput and scores of a run (without the bulky id lists)."""
    row = {k: v for k, v in result.items() if k not in ("kept", "dup_of")}
    row["mb_s"] = text_mb / result["wall_s"]
    row["mb_s_per_core"] = row["mb_s"] / result["workers"]
    row.update(truth.score(result["kept"], result["dup_of"], result["threshold"]))
    row["targets"] = targets(row)
    return row


def main(argv: list[str] | None = None) -> None:
    """Build the planted corpus, run every tool, score them, print the tables and write dedup.json."""
    args = parse_args(argv)
    if args.datasketch_worker:
        datasketch_worker(*args.datasketch_worker)
        return
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"planting duplicates ({args.per_lang} base documents per language) into {out}/planted", file=sys.stderr)
    raw, truth_path = build_corpus(shared_dir("bench/plant_duplicates.py"), out, args.per_lang, args.seed)
    docs = {d["id"]: d for d in read_raw(raw)}
    text_mb = sum(len(d["text"].encode("utf-8")) for d in docs.values()) / 1e6
    measure([gecko_bin(), "dedup", str(raw), str(out / "warmup"), "--overwrite"], out / "logs" / "warmup.log")
    runs = []  # the untimed run above leaves Python's bytecode caches and the page cache warm for everyone
    for name, workers, threshold, extra in GECKO_RUNS:
        print(f"running gecko dedup {name} at {threshold}", file=sys.stderr)
        runs.append(run_gecko(out, raw, name, workers, threshold, extra))
    for threshold in THRESHOLDS:
        print(f"running datasketch at {threshold}", file=sys.stderr)
        runs.append(run_datasketch(out, raw, threshold))
    truth = Truth(truth_path, docs)
    report = {
        "machine": machine_info(),
        "settings": {"per_lang": args.per_lang, "seed": args.seed, "num_perm": NUM_PERM, "bands": BANDS,
                     "rows": ROWS, "ngram": NGRAM, "input_files": PARTS},
        "corpus": {"documents": len(docs), "text_mb": text_mb,
                   "kinds": dict(Counter(r["kind"] for r in truth.truth.values()))},
        "determinism": compare_folders(out / "clean_w1_0.8", out / "clean_w2_0.8"),
        "determinism_dropped": compare_folders(out / "dropped_w1_0.8", out / "dropped_w2_0.8"),
        "tools": [finish(r, truth, text_mb) for r in runs],
    }
    (out / "dedup.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown(report))
    print(f"\nwrote {out / 'dedup.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
