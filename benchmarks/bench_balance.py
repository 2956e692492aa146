#!/usr/bin/env python3
"""Benchmark `gecko balance` on the shared sample corpus, with 1 and 2 workers.

The corpus is first deduplicated with `gecko dedup` (untimed), as in the pipeline; then `gecko balance
--relabel` (so that every document's language is detected, as for unlabelled input) runs with --workers 1 and
--workers 2, each in its own process, timed 5 times (the median counts), each run writing a new folder on a
settled file system (the last run's output deleted and `sync` run first, untimed: as a first run, with no earlier
command's writes or deletions still being flushed). Reports documents per second and MB of
input text per second per core for the whole stage, peak RSS, whether both outputs are byte-identical, and the
plan. The stage's fixed cost (start-up, listing, phases, manifest) is measured by the same command on the bundled
examples (a few hundred kB of text), beside the wall time the target allows. Then two --workers 1 runs are
started at once, alternating with one alone: how much a second busy core slows the first on this machine. With
the fixed cost, that estimates what --workers 2 takes here with its work split perfectly. Numbers go to
OUT/balance.json and a markdown summary to stdout.

Usage: python benchmarks/bench_balance.py [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import REPO, gecko_bin, measure, measure_median, settle, shared_dir  # noqa: E402

TARGET_MB_S_PER_CORE = 20.0
REPEAT = 5


def phases(log: Path) -> dict:
    """The wall seconds of each phase of a run, from its --json report (the log's last line)."""
    return {"phases": json.loads(log.read_text().splitlines()[-1])["phases"]}


def together(cmds: list[list[str]], logs: list[Path]) -> float:
    """Start the commands at once; the wall time until the last one has ended."""
    t0 = time.perf_counter()
    procs = []
    for cmd, log in zip(cmds, logs):
        with open(log, "wb") as fh:
            procs.append(subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT))
    for cmd, proc in zip(cmds, procs):
        if proc.wait() != 0:
            sys.exit(f"error: {' '.join(cmd)} exited with {proc.returncode}")
    return time.perf_counter() - t0


def identical(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out"))
    args = ap.parse_args(argv)
    out = Path(args.out).resolve() / "balance"
    out.mkdir(parents=True, exist_ok=True)
    clean = out / "clean"
    measure([gecko_bin(), "dedup", str(shared_dir() / "corpus"), str(clean), "--exclude", "*.md", "--overwrite"],
            out / "dedup.log")
    manifest = json.loads((clean / "manifest.json").read_text())
    docs, text_mb = manifest["stats"]["documents"]["kept"], manifest["stats"]["text_bytes"]["kept"] / 1e6
    rows = []
    for workers in (1, 2):
        mixed = out / f"mixed_w{workers}"
        cmd = [gecko_bin(), "balance", str(clean), str(mixed), "--relabel", "--workers", str(workers), "--json"]
        r = measure_median(cmd, out / f"balance_w{workers}.log", REPEAT, read=phases, outputs=(mixed,))
        r.update(workers=workers, docs_s=docs / r["wall_s"], mb_s=text_mb / r["wall_s"],
                 mb_s_per_core=text_mb / r["wall_s"] / workers)
        rows.append(r)
    # The stage's fixed cost: the same command on the bundled examples (a few hundred kB), where the time is
    # almost all start-up, listing, phases and the manifest rather than text.
    tiny = out / "examples_clean"
    measure([gecko_bin(), "dedup", str(REPO / "examples" / "raw"), str(tiny), "--overwrite"], out / "examples_dedup.log")
    tiny_mb = json.loads((tiny / "manifest.json").read_text())["stats"]["text_bytes"]["kept"] / 1e6
    for r in rows:
        workers = r["workers"]
        mixed = out / f"examples_mixed_w{workers}"
        cmd = [gecko_bin(), "balance", str(tiny), str(mixed), "--relabel", "--workers", str(workers), "--json"]
        r["fixed_s"] = measure_median(cmd, out / f"examples_w{workers}.log", REPEAT, outputs=(mixed,))["wall_s"]
        r["budget_s"] = text_mb / TARGET_MB_S_PER_CORE / workers
        r["mb_s_per_core_above_fixed"] = text_mb / max(r["wall_s"] - r["fixed_s"], 1e-9) / workers
    # How this machine runs two busy processes: two --workers 1 runs at once, alternating with one alone.
    alone, pair = [], []
    for _ in range(REPEAT):
        cmds = [[gecko_bin(), "balance", str(clean), str(out / f"pair_{k}"), "--relabel", "--json"] for k in range(2)]
        settle(out / "pair_0", out / "pair_1")
        alone.append(measure(cmds[0], out / "pair_0.log")["wall_s"])
        settle(out / "pair_0", out / "pair_1")
        pair.append(together(cmds, [out / "pair_0.log", out / "pair_1.log"]))
    slowdown = statistics.median(pair) / statistics.median(alone)
    w1, w2 = rows
    # --workers 2 with its work split perfectly between two processes, each slowed as two runs at once are (the
    # runs alone of the same minutes stand for the --workers 1 run: this machine's speed drifts).
    estimate = w2["fixed_s"] + (statistics.median(alone) - w1["fixed_s"]) * slowdown / 2
    concurrency = {"alone_s": statistics.median(alone), "two_at_once_s": statistics.median(pair),
                   "slowdown": slowdown, "workers_2_estimate_s": estimate, "workers_2_budget_s": w2["budget_s"]}
    result = json.loads((out / "balance_w1.log").read_text().splitlines()[-1])
    report = {"input": {"documents": docs, "text_mb": text_mb}, "runs": rows, "concurrency": concurrency,
              "identical_w1_w2": identical(out / "mixed_w1", out / "mixed_w2"), "stats": result["stats"],
              "target_mb_s_per_core": TARGET_MB_S_PER_CORE, "cpu_count": os.cpu_count()}
    (out.parent / "balance.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"Input: {docs:,} documents, {text_mb:.1f} MB of text (the shared corpus after gecko dedup); "
          f"{os.cpu_count()} CPUs\n")
    print("| workers | wall s | CPU s | docs/s | MB/s | MB/s per core | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        mark = "PASS" if r["mb_s_per_core"] >= TARGET_MB_S_PER_CORE else "FAIL"
        print(f"| {r['workers']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['docs_s']:,.0f} | {r['mb_s']:.1f} "
              f"| {r['mb_s_per_core']:.1f} {mark} | {r['peak_rss_mb']:.0f} |")
    print("\nWhere the median run's time went (seconds; the rest is start-up, listing and the manifest):\n")
    print("| workers | scan | scan MB/s per core | plan | scatter | gather | rest |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        p = r["phases"]
        print(f"| {r['workers']} | {p['scan']:.2f} | {text_mb / p['scan'] / r['workers']:.1f} | {p['plan']:.2f} "
              f"| {p['scatter']:.2f} | {p['gather']:.2f} | {r['wall_s'] - sum(p.values()):.2f} |")
    print(f"\nFixed cost: the same command on the bundled examples after gecko dedup ({tiny_mb * 1000:.0f} kB of text), "
          "against the whole wall time the target allows on this corpus:\n")
    print("| workers | fixed s | target's wall s | MB/s per core above the fixed cost |")
    print("|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['workers']} | {r['fixed_s']:.2f} | {r['budget_s']:.2f} | {r['mb_s_per_core_above_fixed']:.1f} |")
    print(f"\nTwo --workers 1 runs at once: {concurrency['two_at_once_s']:.2f} s, against "
          f"{concurrency['alone_s']:.2f} s for one alone (medians of {REPEAT}, alternating): a second busy core slows "
          f"the first {slowdown:.2f} times. With its work split perfectly, --workers 2 takes about the fixed cost "
          f"plus the rest of a --workers 1 run, slowed so and halved: {w2['fixed_s']:.2f} + "
          f"({concurrency['alone_s']:.2f} - {w1['fixed_s']:.2f}) x {slowdown:.2f} / 2 = {estimate:.2f} s (measured: "
          f"{w2['wall_s']:.2f} s), against the {w2['budget_s']:.2f} s the target allows.")
    print(f"\n--workers 2 output byte-identical to --workers 1: {str(report['identical_w1_w2']).lower()}\n")
    print("| lang | docs in | MB in | docs kept | MB kept | docs out | MB out | share | epochs | dropped |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for lang, r in result["stats"]["languages"].items():
        print(f"| {lang} | {r['docs_in']:,} | {r['bytes_in'] / 1e6:.1f} | {r['docs_kept']:,} | {r['bytes_kept'] / 1e6:.1f} "
              f"| {r['docs_out']:,} | {r['bytes_out'] / 1e6:.1f} | {r['share_out']:.1%} | {r['epochs']:.2f} "
              f"| {r['dropped']} |")
    print(f"\npersonal data replaced: {result['stats']['pii']}")


if __name__ == "__main__":
    main()
