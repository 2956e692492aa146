#!/usr/bin/env python3
"""Benchmark the fused CPU attention kernel (src/gecko_cli/kernels/) against XLA's online attention.

Forward only, float32, 8 heads of 64 (the `small` preset), at the shapes of bench_eval.py's passes: plain causal
rows (2 x 1,536 and 8 x 416 tokens), a left-padded prompt (1 x 960 with 64 slots of padding, as a cached prefix
is computed) and 8 rows of packed tails of 256 tokens over a 960-slot cached prefix. Both are jitted through
gecko's own functions (`_online` / `_prefix_and_tail_attention` for XLA, kernels/attention_cpu.py for the
kernel); PyTorch's F.scaled_dot_product_attention is timed on the plain shapes for context. Each is compiled and
warmed up, then all are timed in turn, `--reps` rounds; the table gives the median milliseconds and the largest
difference from XLA's output.

Usage: python benchmarks/bench_attention_cpu.py [--reps 9] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import jax
    import jax.numpy as jnp
    import torch

    from gecko_cli.eval.generate import _prefix_and_tail_attention
    from gecko_cli.kernels import attention_cpu
    from gecko_cli.pretrain.attention import _online

    if not attention_cpu.load():
        raise SystemExit(f"the kernel is not available: {attention_cpu._loaded.get('why')}")
    torch.set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(0)
    h, d = 8, 64

    def arrays(*shape):
        return jnp.asarray(rng.standard_normal(shape), jnp.float32)

    cases = {}
    for b, t in ((2, 1536), (8, 416)):
        q, k, v = arrays(b, t, h, d), arrays(b, t, h, d), arrays(b, t, h, d)
        tq, tk, tv = (torch.from_numpy(np.asarray(a)).transpose(1, 2).contiguous() for a in (q, k, v))
        cases[f"{b} x {t}, causal"] = {
            "xla": (jax.jit(lambda q, k, v: _online(q, k, v, None)), (q, k, v)),
            "kernel": (jax.jit(lambda q, k, v: attention_cpu.attention(q, k, v, None)), (q, k, v)),
            "torch sdpa": (lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
                           (tq, tk, tv))}
    q, k, v = arrays(1, 960, h, d), arrays(1, 960, h, d), arrays(1, 960, h, d)
    seg = jnp.asarray((np.arange(960) >= 64)[None].astype(np.int32))
    cases["1 x 960, left-padded"] = {
        "xla": (jax.jit(_online), (q, k, v, seg)),
        "kernel": (jax.jit(attention_cpu.attention), (q, k, v, seg))}
    b, s, t = 8, 960, 256
    q, k, v, pk, pv = arrays(b, t, h, d), arrays(b, t, h, d), arrays(b, t, h, d), arrays(b, s, h, d), arrays(b, s, h, d)
    valid = jnp.asarray(np.arange(s)[None] >= rng.integers(0, 64, size=(b, 1)))
    segments = jnp.asarray(np.repeat(np.arange(t)[None] // 64 + 1, b, axis=0).astype(np.int32))  # 4 tails a row
    allowed = (jnp.tril(jnp.ones((t, t), bool))[None] & (segments[:, :, None] == segments[:, None, :])
               & (segments > 0)[:, None, :])
    cases["8 x 256 tails over 960"] = {
        "xla": (jax.jit(_prefix_and_tail_attention), (q, pk, pv, valid, k, v, allowed)),
        "kernel": (jax.jit(attention_cpu.attention_after_prefix), (q, pk, pv, valid, k, v, segments))}

    def run(fn, a):
        out = fn(*a)
        return out.block_until_ready() if hasattr(out, "block_until_ready") else out

    times = {(c, n): [] for c, impls in cases.items() for n in impls}
    errors = {}
    for c, impls in cases.items():
        want = np.asarray(run(*impls["xla"]))
        for n, (fn, a) in impls.items():
            got = np.asarray(run(fn, a))
            errors[c, n] = float(np.abs((got.transpose(0, 2, 1, 3) if n.startswith("torch") else got) - want).max())
    for _ in range(args.reps):
        for c, impls in cases.items():
            for n, (fn, a) in impls.items():
                t0 = time.perf_counter()
                run(fn, a)
                times[c, n].append(time.perf_counter() - t0)
    rows = [{"case": c, "impl": n, "ms": statistics.median(v) * 1000, "max_diff_vs_xla": errors[c, n]}
            for (c, n), v in times.items()]
    print(f"{os.cpu_count()} CPUs, float32, {h} heads of {d}, median of {args.reps}\n")
    print("| case | implementation | ms | x XLA | max abs diff vs XLA |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        base = next(x["ms"] for x in rows if x["case"] == r["case"] and x["impl"] == "xla")
        print(f"| {r['case']} | {r['impl']} | {r['ms']:.1f} | {base / r['ms']:.2f} | {r['max_diff_vs_xla']:.1e} |")
    report = {"cpu_count": os.cpu_count(), "reps": args.reps, "rows": rows}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


if __name__ == "__main__":
    main()
