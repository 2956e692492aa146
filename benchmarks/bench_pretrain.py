#!/usr/bin/env python3
"""Benchmark gecko's pretraining step against HuggingFace transformers + PyTorch on the CPU, same model and batch.

Model: the `small` preset, a LLaMA with d_model 512, 8 layers, 8 heads (head size 64), d_ff 1408, vocabulary
32,000, untied embeddings: 58.5M parameters, 42.1M of them in matmuls (LM head included). Batch: 8 rows of 256
tokens (2,048 tokens per step, one document per row, so document masking and plain causal masking agree), float32
parameters. Optimizer: AdamW (b1 0.9, b2 0.95,
eps 1e-8, weight decay 0.1 on matrices only), global-norm clipping at 1.0, linear warmup + cosine schedule:
`gecko pretrain`'s defaults.

Systems, each in its own process (so each has its own thread pools and the default thread count):
- `gecko`: gecko's own train step, built as `gecko pretrain` builds it (state.create on a 1x1x1 mesh, optim.adamw,
  step.train_step jitted with the state's shardings and the state donated; attention picked by
  select_implementation), float32 compute;
- `gecko-bf16`: the same with bfloat16 compute (StepSettings dtype="bfloat16"; parameters stay float32);
- `torch-sdpa`, `torch-eager`: transformers' `LlamaForCausalLM` of the same shape (attn_implementation "sdpa" or
  "eager"), float32, trained with torch.optim.AdamW (same hyperparameters, no decay on norms) and
  clip_grad_norm_, torch's default threads.

Each system is set up and warmed up (`--warmup` untimed steps; gecko's first one compiles), then the timed steps
run in turn, one step of each system per round (`--steps` rounds), so a busy machine slows them alike; the median
step counts (the best step, the one least disturbed by other processes, is given too). Right after each timed
step, its process also measures its framework's float32 matmul rate (jitted XLA / torch.mm) on a 1024^3 product
and on one shaped like the model's MLP (2048x512 @ 512x1408); each system's model FLOP/s (tokens/s x
ModelConfig.flops_per_token(256): 6 x matmul parameters + causal attention) is given as a share of the median
MLP-shaped rate of its own framework. CPU s/step is the process's CPU time per step.

The gecko processes set glibc malloc as `gecko pretrain` does on a CPU (gecko_cli.allocator.tune_for_cpu: one
arena, no mmap, no trimming below 2 GB), since XLA allocates and frees the step's temporary buffer (1.75 GB here)
every step and would otherwise page-fault it in anew (the page-fault and kernel-time columns show it). `--malloc
none` runs gecko with the default allocator; `--malloc all` gives PyTorch's process the same setting.

Compare on an otherwise idle machine (the header gives the load average at the start): when other processes
compete for the cores, PyTorch's OpenMP threads lose much more than XLA's thread pool (a descheduled thread stalls
its whole parallel loop), which flatters gecko's ratio. Prints a markdown table; `--json` also writes every
measurement.

Usage: python benchmarks/bench_pretrain.py [--steps 6] [--warmup 2] [--systems gecko,torch-sdpa]
           [--malloc gecko|none|all] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SYSTEMS = ("gecko", "gecko-bf16", "torch-sdpa", "torch-eager")
BASELINE = "torch-sdpa"
SEQ, ROWS = 256, 8
SEED = 0
# gecko pretrain's defaults (PretrainConfig)
LR, WARMUP_STEPS, TOTAL_STEPS, FINAL_LR_RATIO = 3e-4, 100, 1000, 0.1
B1, B2, EPS, WEIGHT_DECAY, CLIP = 0.9, 0.95, 1e-8, 0.1, 1.0
MATMULS = {"1024x1024 @ 1024x1024": (1024, 1024, 1024), "2048x512 @ 512x1408 (MLP-shaped)": (2048, 512, 1408)}
MODEL_MATMUL = "2048x512 @ 512x1408 (MLP-shaped)"


def model_config():
    """The benchmark's model: the `small` preset at sequence length 256."""
    import dataclasses

    from gecko_cli.pretrain.model_config import PRESETS

    cfg = dataclasses.replace(PRESETS["small"], max_seq_len=SEQ)
    assert (cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.kv_heads, cfg.d_ff, cfg.vocab_size, cfg.tie_embeddings) == \
        (512, 8, 8, 8, 1408, 32000, False), f"the small preset changed: {cfg}"
    return cfg


def tokens() -> np.ndarray:
    return np.random.default_rng(SEED).integers(0, 32000, (ROWS, SEQ), dtype=np.int32)


def lr_at(step: int) -> float:
    """The learning rate of optim.schedule(LR, WARMUP_STEPS, TOTAL_STEPS, FINAL_LR_RATIO) at `step`."""
    import math

    if step < WARMUP_STEPS:
        return LR * step / WARMUP_STEPS
    frac = min(1.0, (step - WARMUP_STEPS) / max(TOTAL_STEPS - WARMUP_STEPS, 1))
    floor = LR * FINAL_LR_RATIO
    return floor + (LR - floor) * 0.5 * (1 + math.cos(math.pi * frac))


def _timed(fn) -> tuple[float, float, object]:
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


def _rate(fn, flops: float, seconds: float = 0.4) -> float:
    """FLOP/s of `fn` (already warm): the median of as many runs as fit in `seconds` (at least 5)."""
    times, start = [], time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return flops / float(np.median(times))


# -- workers: one process per system, driven over stdin/stdout -------------------------------------------------
class GeckoSystem:
    def __init__(self, dtype: str):
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

        self.jax = jax
        cfg = model_config()
        self.mesh = meshlib.make_mesh({"data": 1, "fsdp": 1, "tensor": 1})
        tx = optim.adamw(optim.schedule(LR, WARMUP_STEPS, TOTAL_STEPS, FINAL_LR_RATIO), b1=B1, b2=B2, eps=EPS,
                         weight_decay=WEIGHT_DECAY, clip_norm=CLIP)
        impl = select_implementation("auto", jax.devices()[0].platform, dtype)
        settings = steplib.StepSettings(impl=impl, dtype=dtype, doc_mask=True, z_loss=0.0, remat=False)
        graphdef, self.state, shardings = statelib.create(cfg, tx, self.mesh, SEED)
        # as Trainer._compile builds it
        replicated = NamedSharding(self.mesh, P())
        metrics = {"loss": replicated, "grad_norm": replicated, "tokens": replicated}
        batch_sharding = datalib.batch_sharding(self.mesh)
        self.step_fn = jax.jit(partial(steplib.train_step, graphdef, tx, settings),
                               in_shardings=(shardings, batch_sharding), out_shardings=(shardings, metrics),
                               donate_argnums=0)
        tok = tokens()[None]  # (accum 1, rows, seq): one document per row
        batch = {"tokens": tok, "segment_ids": np.ones_like(tok), "positions": np.broadcast_to(
                 np.arange(SEQ, dtype=np.int32), tok.shape).copy(), "loss_mask": np.ones(tok.shape, bool)}
        self.batch = jax.device_put(batch, batch_sharding)
        self.info = {"attention": impl, "dtype": dtype, "jax": jax.__version__,
                     "xla_flags": os.environ.get("XLA_FLAGS", "")}

    def step(self) -> float:
        with self.jax.set_mesh(self.mesh):
            self.state, metrics = self.step_fn(self.state, self.batch)
            return float(self.jax.device_get(metrics)["loss"])

    def matmul_rates(self) -> dict:
        import jax
        import jax.numpy as jnp

        out = {}
        for name, (m, k, n) in MATMULS.items():
            a, b = jnp.ones((m, k), jnp.float32), jnp.ones((k, n), jnp.float32)
            f = jax.jit(lambda x, y: x @ y)
            f(a, b).block_until_ready()
            out[name] = _rate(lambda f=f, a=a, b=b: f(a, b).block_until_ready(), 2.0 * m * k * n)
        return out


class TorchSystem:
    def __init__(self, attn: str):
        import torch
        import transformers
        from transformers import LlamaConfig, LlamaForCausalLM

        self.torch = torch
        cfg = model_config()
        hf = LlamaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, intermediate_size=cfg.d_ff,
                         num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads,
                         num_key_value_heads=cfg.kv_heads, max_position_embeddings=SEQ, rms_norm_eps=cfg.norm_eps,
                         rope_theta=cfg.rope_theta, tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
                         initializer_range=cfg.init_std)
        torch.manual_seed(SEED)
        self.model = LlamaForCausalLM._from_config(hf, attn_implementation=attn, dtype=torch.float32)
        self.model.train()
        params = list(self.model.named_parameters())
        groups = [{"params": [p for _, p in params if p.ndim >= 2], "weight_decay": WEIGHT_DECAY},
                  {"params": [p for _, p in params if p.ndim < 2], "weight_decay": 0.0}]
        self.opt = torch.optim.AdamW(groups, lr=lr_at(0), betas=(B1, B2), eps=EPS)
        self.ids = torch.from_numpy(tokens().astype(np.int64))
        self.count = 0
        self.info = {"attention": attn, "dtype": "float32", "torch": torch.__version__,
                     "transformers": transformers.__version__, "threads": torch.get_num_threads()}

    def step(self) -> float:
        torch = self.torch
        for group in self.opt.param_groups:
            group["lr"] = lr_at(self.count)
        self.opt.zero_grad(set_to_none=True)
        loss = self.model(input_ids=self.ids, labels=self.ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), CLIP)
        self.opt.step()
        self.count += 1
        return float(loss.item())

    def matmul_rates(self) -> dict:
        torch = self.torch
        out = {}
        with torch.no_grad():
            for name, (m, k, n) in MATMULS.items():
                a, b = torch.ones(m, k), torch.ones(k, n)
                torch.mm(a, b)
                out[name] = _rate(lambda a=a, b=b: torch.mm(a, b), 2.0 * m * k * n)
        return out


def worker(system: str, warmup: int, malloc: bool) -> None:
    """Serve one system: setup, then `step`, `mm` and `quit` commands, one JSON line per answer."""
    import resource

    from gecko_cli import allocator

    if system.startswith("gecko"):  # as `gecko pretrain` does, unless --malloc none
        malloc_kept = allocator.tune_for_cpu("pretrain") if malloc else False
    else:
        malloc_kept = allocator.keep_freed_memory() if malloc else False

    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to the log, not into the protocol

    def send(obj):
        out.write(json.dumps(obj) + "\n")

    t0 = time.perf_counter()
    sysobj = GeckoSystem("bfloat16" if system == "gecko-bf16" else "float32") if system.startswith("gecko") \
        else TorchSystem(system.split("-", 1)[1])
    setup_s = time.perf_counter() - t0
    losses = [sysobj.step() for _ in range(max(warmup, 1))]
    send({"ready": True, "setup_s": setup_s, "warmup_s": time.perf_counter() - t0 - setup_s, "first_loss": losses[0],
          "malloc_kept": malloc_kept, **sysobj.info})
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "step":
            before = resource.getrusage(resource.RUSAGE_SELF)
            wall, cpu, loss = _timed(sysobj.step)
            after = resource.getrusage(resource.RUSAGE_SELF)
            send({"wall": wall, "cpu": cpu, "sys": after.ru_stime - before.ru_stime, "loss": loss,
                  "page_faults": after.ru_minflt - before.ru_minflt})
        elif cmd == "mm":
            send(sysobj.matmul_rates())
        elif cmd == "quit":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            send({"peak_rss_mb": usage.ru_maxrss / 1024, "minor_page_faults": usage.ru_minflt})
            return


class Worker:
    def __init__(self, system: str, warmup: int, malloc: bool, log_dir: Path):
        self.system = system
        self.log_path = log_dir / f"{system}.log"
        self.log = open(self.log_path, "w")
        cmd = [sys.executable, __file__, "--worker", system, "--warmup", str(warmup), "--malloc",
               "all" if malloc else "none"]
        self.proc = subprocess.Popen(cmd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     bufsize=1)

    def ask(self, cmd: str | None = None) -> dict:
        if cmd:
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.log.flush()
            tail = self.log_path.read_text(errors="replace")[-3000:]
            sys.exit(f"error: the {self.system} worker exited with {self.proc.returncode}\n{tail}")
        return json.loads(line)

    def close(self) -> dict:
        info = self.ask("quit")
        self.proc.wait()
        self.log.close()
        return info


def main(argv: list[str] | None = None) -> dict | None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="timed steps per system (the median counts)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per system first (gecko compiles in the first)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {', '.join(SYSTEMS)}")
    ap.add_argument("--malloc", choices=("none", "gecko", "all"), default="gecko",
                    help="processes that keep freed memory in glibc malloc's heap (gecko_cli.allocator): gecko (as "
                    "`gecko pretrain` runs on a CPU), none, or all (PyTorch too)")
    ap.add_argument("--json", help="also write every measurement to this file")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out"), help="folder for the workers' logs")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.warmup, args.malloc != "none")
        return None
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown or not systems or args.steps < 1:
        sys.exit(f"error: --systems takes a subset of {', '.join(SYSTEMS)} and --steps at least 1")
    log_dir = Path(args.out).resolve() / "pretrain"
    log_dir.mkdir(parents=True, exist_ok=True)

    cfg = model_config()
    flops_per_token = cfg.flops_per_token(SEQ)

    load_before = os.getloadavg()[0]
    workers, ready = {}, {}
    try:
        for s in systems:  # one at a time, so that compilation and warmup do not compete
            tuned = args.malloc == "all" or (args.malloc == "gecko" and s.startswith("gecko"))
            workers[s] = Worker(s, args.warmup, tuned, log_dir)
            ready[s] = workers[s].ask()
        steps, rates = {s: [] for s in systems}, {s: [] for s in systems}
        for _ in range(args.steps):
            for s in systems:  # each step next to a matmul-rate measurement, under the same load
                steps[s].append(workers[s].ask("step"))
                rates[s].append(workers[s].ask("mm"))
        closing = {s: workers[s].close() for s in systems}
    finally:
        for w in workers.values():
            if w.proc.poll() is None:
                w.proc.kill()

    rows = {}
    for s in systems:
        wall = float(np.median([x["wall"] for x in steps[s]]))
        cpu = float(np.median([x["cpu"] for x in steps[s]]))
        faults = float(np.median([x["page_faults"] for x in steps[s]]))
        mm = {name: float(np.median([r[name] for r in rates[s]])) for name in MATMULS}
        tps = ROWS * SEQ / wall
        rows[s] = {"step_s": wall, "best_step_s": min(x["wall"] for x in steps[s]),
                   "step_s_all": [round(x["wall"], 3) for x in steps[s]], "cpu_s": cpu, "page_faults_per_step": faults,
                   "sys_s": float(np.median([x["sys"] for x in steps[s]])),
                   "tokens_per_s": tps, "model_flops_per_s": tps * flops_per_token,
                   "matmul_flops_per_s": mm, "share_of_matmul": tps * flops_per_token / mm[MODEL_MATMUL],
                   "losses": [x["loss"] for x in steps[s]], **ready[s], **closing[s]}
    base = rows.get(BASELINE)
    for r in rows.values():
        r["vs_" + BASELINE] = r["tokens_per_s"] / base["tokens_per_s"] if base else None

    import platform

    print(f"Model: the `small` preset: d_model {cfg.d_model}, {cfg.n_layers} layers, {cfg.n_heads} heads (head size "
          f"{cfg.head_dim}), d_ff {cfg.d_ff}, vocabulary {cfg.vocab_size:,}, untied embeddings, "
          f"{cfg.num_params() / 1e6:.1f}M parameters; sequence {SEQ}, batch {ROWS} rows ({ROWS * SEQ:,} tokens per "
          f"step), float32 parameters, AdamW + clipping. {flops_per_token / 1e6:.1f} MFLOP per token "
          f"(6 x matmul parameters + causal attention). {args.steps} timed steps per system, interleaved, after "
          f"{args.warmup} warmup; medians. {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}); "
          f"load average {load_before:.2f} at the start; malloc keeps freed memory in: {args.malloc} "
          f"(--malloc).\n")
    print("| system | attention | step s | best step s | tokens/s | CPU s/step (kernel) | page faults/step | "
          f"model GFLOP/s | share of own matmul rate | vs {BASELINE} |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s, r in rows.items():
        vs = f"{r['vs_' + BASELINE]:.2f}x" if r["vs_" + BASELINE] is not None else ""
        print(f"| {s} | {r['attention']} | {r['step_s']:.2f} | {r['best_step_s']:.2f} | {r['tokens_per_s']:,.0f} | "
              f"{r['cpu_s']:.2f} ({r['sys_s']:.2f}) | {r['page_faults_per_step']:,.0f} | "
              f"{r['model_flops_per_s'] / 1e9:.1f} | {r['share_of_matmul']:.0%} | {vs} |")
    frameworks = {"XLA (jit), in the gecko process": next((s for s in rows if s == "gecko"), None),
                  "torch.mm, in the torch process": next((s for s in rows if s.startswith("torch")), None)}
    frameworks = {k: v for k, v in frameworks.items() if v}
    print("\n| float32 matmul GFLOP/s | " + " | ".join(frameworks) + " |\n|---|" + "---:|" * len(frameworks))
    for name in MATMULS:
        print(f"| {name} | " + " | ".join(f"{rows[s]['matmul_flops_per_s'][name] / 1e9:.1f}"
                                           for s in frameworks.values()) + " |")
    if "gecko" in rows and base:
        print(f"\ngecko / {BASELINE}: {rows['gecko']['vs_' + BASELINE]:.2f}x tokens/s by median steps, "
              f"{base['best_step_s'] / rows['gecko']['best_step_s']:.2f}x by best steps, "
              f"{base['cpu_s'] / rows['gecko']['cpu_s']:.2f}x by CPU seconds per step")
    print("first losses (same task; ln 32000 = 10.37): " +
          ", ".join(f"{s} {r['first_loss']:.3f}" for s, r in rows.items()))
    report = {"model": {"preset": "small", "d_model": cfg.d_model, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads,
                        "d_ff": cfg.d_ff, "vocab_size": cfg.vocab_size, "params": cfg.num_params()},
              "seq_len": SEQ, "rows": ROWS, "flops_per_token": flops_per_token, "steps": args.steps,
              "warmup": args.warmup, "malloc": args.malloc, "cpu_count": os.cpu_count(),
              "load_average_at_start": load_before,
              "systems": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
