#!/usr/bin/env python3
"""Benchmark the CPU attention implementations of `gecko pretrain` at the shapes of bench_pretrain.py.

Forward and forward+backward (the gradient of sum(out * g) with respect to q, k and v) of causal attention, jitted,
float32, at batch 8 x sequence 256 x 8 heads x head size 64 (flags change them), once with document masking
(4 documents per row, the packed-data case) and once plain causal. Implementations, all through gecko's own
`attention(q, k, v, segment_ids, impl)`:

- `einsum`: gecko's einsum attention (the CPU default), which scores each block of 128 queries only against the
  keys up to the block's end;
- `einsum, full scores`: the same code with one block (the whole causal score matrix is computed and masked);
- `xla`: jax.nn.dot_product_attention(implementation="xla") with the boolean document mask.

For context, PyTorch's F.scaled_dot_product_attention (the kernel `LlamaForCausalLM` uses with
attn_implementation="sdpa") is timed on the same shapes, with a boolean mask for the documents.

Each variant is compiled and warmed up, then all are timed in turn, `--reps` rounds (so a busy machine slows
them alike); the table gives median wall and process CPU milliseconds, and the largest error of the forward
output against a float64 NumPy softmax. The fastest forward+backward by wall time is printed as the winner.

Usage: python benchmarks/bench_attention.py [--reps 10] [--batch 8] [--seq 256] [--heads 8] [--head-dim 64]
           [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def _reference(q, k, v, seg) -> np.ndarray:
    """Attention in float64 NumPy with an explicit causal (and document) mask."""
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    t, d = q.shape[1], q.shape[3]
    s = np.einsum("bthd,bshd->bhts", q, k) / np.sqrt(d)
    allowed = np.tril(np.ones((t, t), bool))[None, None]
    if seg is not None:
        seg = np.asarray(seg)
        allowed = allowed & (seg[:, None, :, None] == seg[:, None, None, :])
    s = np.where(allowed, s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    return np.einsum("bhts,bshd->bthd", p / p.sum(-1, keepdims=True), v)


def _time(fn, reps_log: list, cpu_log: list) -> None:
    t, c = time.perf_counter(), time.process_time()
    fn()
    reps_log.append(time.perf_counter() - t)
    cpu_log.append(time.process_time() - c)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=10, help="timed rounds (the median counts)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--no-torch", action="store_true", help="leave out the PyTorch reference")
    ap.add_argument("--json", help="also write the measurements to this file")
    args = ap.parse_args(argv)

    import jax
    import jax.numpy as jnp

    from gecko_cli.pretrain import attention as attn

    b, t, h, d = args.batch, args.seq, args.heads, args.head_dim
    rng = np.random.default_rng(0)
    q, k, v, g = (rng.normal(size=(b, t, h, d)).astype(np.float32) for _ in range(4))
    docs = 4 if t % 4 == 0 else 1
    seg_doc = np.repeat(np.arange(1, docs + 1, dtype=np.int32), t // docs)[None].repeat(b, 0)
    masks = {"documents": seg_doc, "causal": None}
    g_j = jnp.asarray(g)

    variants = {}  # (name, mask) -> (forward, forward+backward)
    for mask_name, seg in masks.items():
        seg_j = None if seg is None else jnp.asarray(seg)
        for name, impl, blocked in (("einsum", "einsum", True), ("einsum, full scores", "einsum", False),
                                    ("xla", "xla", True)):
            saved = attn.QUERY_BLOCK
            attn.QUERY_BLOCK = saved if blocked else 1 << 30  # read while tracing: one block = full scores
            try:
                def forward(q, k, v, impl=impl, seg=seg_j):
                    return attn.attention(q, k, v, seg, impl)

                def loss(q, k, v, forward=forward):
                    return jnp.sum(forward(q, k, v) * g_j)

                fwd = jax.jit(forward)
                bwd = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
                args_j = tuple(jnp.asarray(x) for x in (q, k, v))
                fwd = fwd.lower(*args_j).compile()
                bwd = bwd.lower(*args_j).compile()
            finally:
                attn.QUERY_BLOCK = saved
            out = np.asarray(fwd(*args_j))
            jax.block_until_ready(bwd(*args_j))
            err = float(np.max(np.abs(out - _reference(q, k, v, seg))))
            variants[(name, mask_name)] = {
                "fwd": lambda f=fwd, a=args_j: jax.block_until_ready(f(*a)),
                "bwd": lambda f=bwd, a=args_j: jax.block_until_ready(f(*a)), "err": err}

    if not args.no_torch:
        import torch
        import torch.nn.functional as F

        tq, tk, tv, tg = (torch.from_numpy(x).transpose(1, 2).contiguous() for x in (q, k, v, g))  # (B, H, T, D)
        for mask_name, seg in masks.items():
            if seg is None:
                kw = {"is_causal": True}
            else:
                s = torch.from_numpy(seg)
                allowed = torch.tril(torch.ones(t, t, dtype=torch.bool)) & (s[:, None, :, None] == s[:, None, None, :])
                kw = {"attn_mask": allowed}

            def tfwd(kw=kw):
                with torch.no_grad():
                    return F.scaled_dot_product_attention(tq, tk, tv, **kw)

            def tbwd(kw=kw):
                a, b_, c = (x.detach().requires_grad_() for x in (tq, tk, tv))
                (F.scaled_dot_product_attention(a, b_, c, **kw) * tg).sum().backward()
                return a.grad

            out = tfwd().transpose(1, 2).numpy()
            tbwd()
            variants[("torch sdpa (reference)", mask_name)] = {
                "fwd": tfwd, "bwd": tbwd, "err": float(np.max(np.abs(out - _reference(q, k, v, seg))))}

    logs = {key: {"fwd": [], "fwd_cpu": [], "bwd": [], "bwd_cpu": []} for key in variants}
    for _ in range(args.reps):
        for key, var in variants.items():
            _time(var["fwd"], logs[key]["fwd"], logs[key]["fwd_cpu"])
            _time(var["bwd"], logs[key]["bwd"], logs[key]["bwd_cpu"])

    rows = []
    for (name, mask_name), log in logs.items():
        rows.append({"impl": name, "mask": mask_name, "err": variants[(name, mask_name)]["err"],
                     **{f"{k}_ms": 1e3 * float(np.median(v)) for k, v in log.items()}})
    print(f"Attention, float32, batch {b} x seq {t} x {h} heads x head size {d}; {args.reps} interleaved rounds, "
          f"medians; {os.cpu_count()} CPUs; jax {jax.__version__}\n")
    print("| implementation | mask | forward ms | fwd+bwd ms | fwd+bwd CPU ms | max abs err (fwd, vs float64) |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['impl']} | {r['mask']} | {r['fwd_ms']:.1f} | {r['bwd_ms']:.1f} | {r['bwd_cpu_ms']:.1f} | "
              f"{r['err']:.1e} |")
    gecko_rows = [r for r in rows if not r["impl"].startswith("torch")]
    report = {"shape": {"batch": b, "seq": t, "heads": h, "head_dim": d}, "reps": args.reps, "rows": rows,
              "cpu_count": os.cpu_count(), "jax": jax.__version__}
    for mask_name in masks:
        best = min((r for r in gecko_rows if r["mask"] == mask_name), key=lambda r: r["bwd_ms"])
        report[f"winner_{mask_name}"] = best["impl"]
        print(f"\nwinner ({mask_name}, fwd+bwd wall): {best['impl']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return report


if __name__ == "__main__":
    sys.exit(main() and 0)
