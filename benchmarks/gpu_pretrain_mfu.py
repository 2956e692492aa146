#!/usr/bin/env python3
"""Model FLOPs utilization of gecko's pretraining step on one GPU: `gecko-1b` in bfloat16 with cuDNN attention.

The step is built as `gecko pretrain` builds it (state.create on a 1x1x1 mesh, optim.adamw with gecko's default
hyperparameters, step.train_step jitted with the state's shardings and the state donated, the attention picked
by select_implementation: cuDNN flash attention on a GPU), on random tokens packed as 4 documents per row
(document masking on, as in training). MFU = tokens/s x ModelConfig.flops_per_token(seq) / peak, where the
FLOPs per token are 6 x matmul parameters (LM head included) plus the causal attention term
6 x seq x layers x d_model (half of full attention; recomputation under remat is not counted), and the peak
is flops.device_peak's datasheet dense bf16 figure (989 TFLOP/s for an H100/H200).

Batch layout: by default, from the first that fits, 16 rows x 2048 tokens without remat, then 8 rows without
remat, then 16 rows with remat (each block recomputed in the backward pass). A layout fits when XLA's memory
analysis of the compiled step is within the device's memory and the warmup steps run without running out of
memory. `--rows`, `--micro-rows` and `--remat on|off` pin one layout instead.

`--smoke` runs the same code on the CPU with the `tiny` preset (sequence 128, 4 rows, 2 timed steps), peak =
a measured bf16 matmul rate, so that the script can be checked on a machine without a GPU.

Usage:
    python benchmarks/gpu_pretrain_mfu.py [--model gecko-1b] [--seq 2048] [--steps 10] [--warmup 3]
        [--rows N] [--micro-rows N] [--remat auto|on|off] [--no-doc-mask] [--json OUT.json]
    python benchmarks/gpu_pretrain_mfu.py --smoke
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time

import numpy as np

SEED = 0
DOCS_PER_ROW = 4
# gecko pretrain's defaults (PretrainConfig)
LR, WARMUP_STEPS, TOTAL_STEPS, FINAL_LR_RATIO = 3e-4, 100, 1000, 0.1
B1, B2, EPS, WEIGHT_DECAY, CLIP = 0.9, 0.95, 1e-8, 0.1, 1.0


def _is_oom(e: Exception) -> bool:
    text = str(e)
    return "RESOURCE_EXHAUSTED" in text or "Out of memory" in text or "out of memory" in text


def make_batch(rows: int, micro_rows: int, seq: int, vocab: int, step: int) -> dict:
    """(accum, micro_rows, seq) arrays: random tokens, DOCS_PER_ROW documents per row (the last may be padded)."""
    rng = np.random.default_rng([SEED, step])
    accum = rows // micro_rows
    tok = rng.integers(0, vocab, (accum, micro_rows, seq), dtype=np.int32)
    doc = max(seq // DOCS_PER_ROW, 1)
    seg = (np.arange(seq, dtype=np.int32) // doc + 1)
    pos = (np.arange(seq, dtype=np.int32) % doc)
    shape = (accum, micro_rows, seq)
    return {"tokens": tok, "segment_ids": np.broadcast_to(seg, shape).copy(),
            "positions": np.broadcast_to(pos, shape).copy(), "loss_mask": np.ones(shape, bool)}


def memory_need(compiled) -> int | None:
    """Bytes the compiled step needs on the device (arguments + outputs - donated + temporaries), if known."""
    try:
        m = compiled.memory_analysis()
        return int(m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes + m.temp_size_in_bytes)
    except Exception:  # not every backend reports it
        return None


def run_layout(cfg, seq: int, rows: int, micro_rows: int, remat: bool, args, device) -> dict:
    """Build, compile and time one batch layout. Raises MemoryError when it does not fit."""
    from functools import partial

    import jax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from gecko_cli.pretrain import data as datalib
    from gecko_cli.pretrain import mesh as meshlib
    from gecko_cli.pretrain import optim
    from gecko_cli.pretrain import state as statelib
    from gecko_cli.pretrain import step as steplib
    from gecko_cli.pretrain.attention import select_implementation

    mesh = meshlib.make_mesh({"data": 1, "fsdp": 1, "tensor": 1})
    tx = optim.adamw(optim.schedule(LR, WARMUP_STEPS, TOTAL_STEPS, FINAL_LR_RATIO), b1=B1, b2=B2, eps=EPS,
                     weight_decay=WEIGHT_DECAY, clip_norm=CLIP)
    impl = select_implementation(args.attention, device.platform, args.dtype)
    settings = steplib.StepSettings(impl=impl, dtype=args.dtype, doc_mask=args.doc_mask, z_loss=0.0, remat=remat)
    t0 = time.perf_counter()
    graphdef, state, shardings = statelib.create(cfg, tx, mesh, SEED)
    jax.block_until_ready(state)
    print(f"   state created in {time.perf_counter() - t0:.0f} s", flush=True)
    replicated = NamedSharding(mesh, P())
    metrics = {"loss": replicated, "grad_norm": replicated, "tokens": replicated}
    batch_sharding = datalib.batch_sharding(mesh)
    step_fn = jax.jit(partial(steplib.train_step, graphdef, tx, settings), in_shardings=(shardings, batch_sharding),
                      out_shardings=(shardings, metrics), donate_argnums=0)
    batches = [jax.device_put(make_batch(rows, micro_rows, seq, cfg.vocab_size, i), batch_sharding) for i in range(2)]
    layout = {"rows": rows, "micro_rows": micro_rows, "remat": remat, "attention": impl}
    print(f"-- layout: {rows} rows x {seq} tokens, micro-batch {micro_rows} rows, remat {'on' if remat else 'off'}, "
          f"attention {impl}", flush=True)
    with jax.set_mesh(mesh):
        t0 = time.perf_counter()
        try:
            compiled = step_fn.lower(state, batches[0]).compile()
        except Exception as e:
            if _is_oom(e):
                raise MemoryError(str(e).splitlines()[0]) from None
            raise
        compile_s = time.perf_counter() - t0
        need = memory_need(compiled)
        limit = (device.memory_stats() or {}).get("bytes_limit") if hasattr(device, "memory_stats") else None
        layout.update(compile_s=compile_s, memory_need_gb=need / 1e9 if need else None,
                      memory_limit_gb=limit / 1e9 if limit else None)
        if need:
            print(f"   compiled in {compile_s:.0f} s; needs {need / 1e9:.1f} GB"
                  + (f" of {limit / 1e9:.1f} GB" if limit else ""), flush=True)
        if need and limit and need > limit:
            raise MemoryError(f"needs {need / 1e9:.1f} GB, the device has {limit / 1e9:.1f} GB")
        losses, times = [], []
        try:
            for i in range(args.warmup + args.steps):
                t = time.perf_counter()
                state, m = compiled(state, batches[i % 2])
                loss = float(jax.device_get(m)["loss"])
                dt = time.perf_counter() - t
                losses.append(loss)
                if i >= args.warmup:
                    times.append(dt)
        except Exception as e:
            if _is_oom(e):
                raise MemoryError(str(e).splitlines()[0]) from None
            raise
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    layout.update(step_s=float(np.median(times)), step_s_all=[round(t, 4) for t in times], losses=losses,
                  peak_memory_gb=(stats or {}).get("peak_bytes_in_use", 0) / 1e9 or None)
    if not all(np.isfinite(losses)):
        raise RuntimeError(f"the loss is not finite: {losses}")
    return layout


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gecko-1b", help="a preset of gecko_cli.pretrain.model_config.PRESETS")
    ap.add_argument("--seq", type=int, default=2048, help="tokens per row (2048 or 4096)")
    ap.add_argument("--rows", type=int, default=0, help="rows per step (0: try the default layouts)")
    ap.add_argument("--micro-rows", type=int, default=0, help="rows per forward/backward pass (0: all rows)")
    ap.add_argument("--remat", choices=("auto", "on", "off"), default="auto")
    ap.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"))
    ap.add_argument("--attention", default="auto", help="attention implementation (auto: cuDNN on GPU)")
    ap.add_argument("--no-doc-mask", dest="doc_mask", action="store_false", help="plain causal attention")
    ap.add_argument("--steps", type=int, default=10, help="timed steps (the median counts)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (the first one compiles)")
    ap.add_argument("--smoke", action="store_true", help="tiny model on the CPU, 2 steps: a check of the script")
    ap.add_argument("--json", help="also write the result to this file")
    args = ap.parse_args(argv)
    if args.smoke:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        args.model, args.seq, args.steps, args.warmup = "tiny", 128, 2, 1
        args.rows = args.rows or 4
    else:  # let XLA use most of the GPU's memory (its default preallocates 75 %)
        os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.95")

    import jax

    from gecko_cli.pretrain import flops
    from gecko_cli.pretrain.model_config import resolve

    device = jax.devices()[0]
    if not args.smoke and device.platform not in ("gpu", "cuda", "rocm"):
        sys.exit(f"error: no GPU here (jax sees {device.platform}: {device.device_kind})\n\n"
                 "hint: run on a GPU machine, or pass --smoke for a tiny CPU check of the script")
    cfg = resolve(args.model, {})
    if args.seq > cfg.max_seq_len:
        cfg = resolve(args.model, {"max_seq_len": args.seq})
    flops_per_token = cfg.flops_per_token(args.seq)
    peak, peak_source = flops.peak_per_device(device, args.dtype, 0.0)

    if args.rows:
        remats = [args.remat == "on"] if args.remat != "auto" else [False, True]
        layouts = [(args.rows, args.micro_rows or args.rows, r) for r in remats]
    else:
        rows = max(1, 16 * 2048 // args.seq)
        layouts = [(rows, rows, False), (max(rows // 2, 1), max(rows // 2, 1), False), (rows, rows, True)]
        if args.remat != "auto":
            layouts = [x for x in layouts if x[2] == (args.remat == "on")]
    n = cfg.num_params()
    size = f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"
    print(f"{args.model}: {size} parameters (d_model {cfg.d_model}, {cfg.n_layers} layers, "
          f"{cfg.n_heads} heads, d_ff {cfg.d_ff}, vocabulary {cfg.vocab_size:,}); {args.dtype}; "
          f"{flops_per_token / 1e9:.3g} GFLOP per token at sequence {args.seq}; device {device.device_kind}; "
          f"peak {peak / 1e12:.3g} TFLOP/s ({peak_source}); jax {jax.__version__}", flush=True)

    result, failures = None, []
    for rows, micro, remat in layouts:
        try:
            result = run_layout(cfg, args.seq, rows, micro, remat, args, device)
            break
        except MemoryError as e:
            failures.append({"rows": rows, "micro_rows": micro, "remat": remat, "error": str(e)[:300]})
            print(f"   does not fit: {str(e)[:200]}", flush=True)
        gc.collect()  # the failed layout's state and executable, before the next one is built
        jax.clear_caches()
    if result is None:
        sys.exit("error: no batch layout fits; pass a smaller --rows or --remat on")

    tokens_per_step = result["rows"] * args.seq
    tps = tokens_per_step / result["step_s"]
    mfu = tps * flops_per_token / peak
    report = {"model": args.model, "params": cfg.num_params(), "seq_len": args.seq, "dtype": args.dtype,
              "doc_mask": args.doc_mask, "device": device.device_kind, "peak_flops": peak, "peak_source": peak_source,
              "flops_per_token": flops_per_token, "tokens_per_step": tokens_per_step, "tokens_per_s": tps,
              "model_flops_per_s": tps * flops_per_token, "mfu": mfu, "layout": result, "did_not_fit": failures,
              "jax": jax.__version__}
    print("\n| model | seq | rows (micro) | remat | attention | step s | tokens/s | model TFLOP/s | peak TFLOP/s "
          "| MFU |\n|---|---:|---:|---|---|---:|---:|---:|---:|---:|")
    print(f"| {args.model} | {args.seq} | {result['rows']} ({result['micro_rows']}) | "
          f"{'on' if result['remat'] else 'off'} | {result['attention']} | {result['step_s']:.3f} | {tps:,.0f} | "
          f"{tps * flops_per_token / 1e12:.3g} | {peak / 1e12:.3g} | {mfu:.1%} |")
    if result.get("peak_memory_gb"):
        print(f"\npeak device memory {result['peak_memory_gb']:.1f} GB")
    print(f"losses: {', '.join(f'{x:.3f}' for x in result['losses'])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return report


if __name__ == "__main__":
    main()
