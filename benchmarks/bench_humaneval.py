#!/usr/bin/env python3
"""Benchmark HumanEval's self-check: the 164 canonical solutions run in the sandbox, with 1 and 2 workers.

Each configuration runs in its own process (`measure`), 3 times (the median counts): `self_check(problems, workers,
sandbox)` on the shared HumanEval.jsonl.gz, for workers 1 and 2 under bubblewrap, and for comparison workers 2 with
`--sandbox none` (same limits, no namespaces). Also the fixed cost of one program (`pass`), bwrap and none, as the
median of 50 runs in this process. Target: the bwrap self-check with 2 workers under 30 s. Writes OUT/humaneval.json
and prints a markdown summary. "wall s (process)" is the whole worker process (interpreter start and loading the
problems included), "wall s (runs)" the runs alone. CPU time is kept in the JSON only: bubblewrap's outer process
does not reap the sandboxed processes, so their CPU time is missing from it.

Usage: python benchmarks/bench_humaneval.py [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import REPO, measure_median, shared_dir  # noqa: E402

REPEAT = 3
STARTS = 50
TARGET_S = 30.0
RUNS = (("bwrap", 1), ("bwrap", 2), ("none", 2))


def worker(folder: str, sandbox: str, workers: int, result: str) -> None:
    """One self-check; the result's counts and its own timing of the runs go to `result`."""
    from gecko_cli.eval import humaneval

    problems = humaneval.load_problems(folder)
    res = humaneval.self_check(problems, workers, sandbox)
    Path(result).write_text(json.dumps({"seconds": res.seconds, "counts": res.counts, "failures": res.failures()}))


def start_cost(sandbox: str) -> float:
    from gecko_cli.eval.sandbox import run_program

    times = []
    for _ in range(STARTS):
        out = run_program("pass", timeout_s=10, sandbox=sandbox)
        if out.status != "ok":
            sys.exit(f"error: a bare program failed under --sandbox {sandbox}: {out}")
        times.append(out.seconds)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out"))
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        folder, sandbox, workers, result = args.worker
        worker(folder, sandbox, int(workers), result)
        return
    from gecko_cli.eval import sandbox as sb

    sb.require("bwrap")
    folder = shared_dir("eval/humaneval") / "eval" / "humaneval"
    out = Path(args.out).resolve() / "humaneval"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for sandbox, workers in RUNS:
        name = f"{sandbox}_w{workers}"
        cmd = [sys.executable, __file__, "--worker", str(folder), sandbox, str(workers), str(out / f"{name}.json")]
        timing = measure_median(cmd, out / f"{name}.log", REPEAT)
        inner = json.loads((out / f"{name}.json").read_text())
        if inner["counts"]["passed"] != 164:
            sys.exit(f"error: self-check {name} did not pass every problem: {inner['failures'][:5]}")
        rows.append({"sandbox": sandbox, "workers": workers, **timing, "runs_s": inner["seconds"], "counts": inner["counts"]})
    starts = {s: start_cost(s) for s in ("bwrap", "none")}
    interp = sb.interpreter()
    report = {"self_check": rows, "start_cost_s": starts, "target_s": TARGET_S, "cpu_count": os.cpu_count(),
              "python": interp.path, "python_version": interp.version}
    (out.parent / "humaneval.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"HumanEval self-check: 164 canonical solutions, each in its own sandboxed {interp.path} ({interp.version}); "
          f"{os.cpu_count()} cores; median of {REPEAT}\n")
    print("| sandbox | workers | wall s (process) | wall s (runs) | programs/s | peak RSS MB |\n"
          "|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['sandbox']} | {r['workers']} | {r['wall_s']:.2f} | {r['runs_s']:.2f} | {164 / r['runs_s']:.0f} | "
              f"{r['peak_rss_mb']:.0f} |")
    print(f"\nOne bare program (`pass`), median of {STARTS}: bwrap {starts['bwrap'] * 1000:.1f} ms, "
          f"none {starts['none'] * 1000:.1f} ms")
    target = next(r for r in rows if r["sandbox"] == "bwrap" and r["workers"] == 2)
    mark = "PASS" if target["wall_s"] < TARGET_S else "FAIL"
    print(f"bwrap, 2 workers: {target['wall_s']:.2f} s (target < {TARGET_S:.0f} s): {mark}")


if __name__ == "__main__":
    main()
