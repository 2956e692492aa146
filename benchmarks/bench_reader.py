#!/usr/bin/env python3
"""Benchmark the packed-rows reader (`gecko_cli.pack.reader`): sustained random-batch throughput on one core.

1. Builds (once; reused while its parameters match) a packed folder in OUT/reader/: --rows rows of --seq-len
   token ids (uniform random ids below 32000, so zstd can barely shrink them: the worst case for decoding),
   with <s> opening a document every ~700 tokens (geometric gaps) and 2 % of rows padded, written with gecko's
   ShardWriter (zstd) as record batches of 8 rows, 4 shards.
2. Pins the process to one core (Arrow and BLAS threads to 1), opens the folder, and times --steps calls of
   `PackedDataset.batch(step, --global-batch, seed)`: random rows from every record batch of every shard,
   each costing one record batch decoded (8 rows), plus segment ids, positions and loss mask. The folder was
   just written, so it is in the page cache: this measures decoding, not the disk.
3. Compares tokens/s with two needs:
   - a CPU training step of a tiny model (assumed: 2 layers, d=256, about 20k tokens/s on one core): the
     reader must be at least 100x faster, so that it is never what a CPU smoke run waits for (PASS/FAIL);
   - a pod: a 7B model on 256 TPU chips at ~40 % MFU trains on about 2.5M tokens/s in all, that is about
     40k tokens/s per host with 64 hosts (reported, not gated: it is far below the CPU gate).

Writes OUT/reader.json and prints a short report. Usage: python benchmarks/bench_reader.py [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
VOCAB, BOS, EOS, PAD = 32000, 1, 2, 0
MEAN_DOC_TOKENS = 700
ROWS_PER_BATCH, SHARDS = 8, 4
CPU_STEP_TOKENS_S = 20_000   # assumed: a 2-layer d=256 model trains on ~20k tokens/s on one CPU core
GATE_FACTOR = 100
POD_TOKENS_S, POD_HOSTS = 2_500_000, 64  # assumed: 7B on 256 TPU chips at ~40 % MFU, 64 hosts


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "out"))
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--seq-len", type=int, default=8192)
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def build(folder: Path, rows: int, seq_len: int) -> dict:
    """Write the packed folder unless one with the same parameters is there; returns its manifest."""
    from gecko_cli import schemas
    from gecko_cli.shards import ShardWriter, read_manifest, write_manifest

    params = {"rows": rows, "seq_len": seq_len, "vocab_size": VOCAB, "rows_per_batch": ROWS_PER_BATCH}
    if (folder / "manifest.json").exists():
        manifest = read_manifest(str(folder))
        if manifest.get("bench") == params:
            return manifest
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    schema = schemas.packed(seq_len, VOCAB)
    shards, per_shard = [], -(-rows // SHARDS)
    for index, start in enumerate(range(0, rows, per_shard)):
        with ShardWriter(str(folder), index, schema) as writer:
            for offset in range(start, min(start + per_shard, rows), ROWS_PER_BATCH):
                n = min(ROWS_PER_BATCH, start + per_shard - offset, rows - offset)
                writer.write(_record_batch(rng, n, seq_len, schema))
        shards.append(writer.info.as_dict())
    manifest = {"stage": "pack", "schema": "packed", "shards": shards, "seq_len": seq_len, "vocab_size": VOCAB,
                "bos_id": BOS, "eos_id": EOS, "pad_id": PAD, "rows_per_batch": ROWS_PER_BATCH, "splits": {},
                "bench": params}
    write_manifest(str(folder), manifest)
    return manifest


def _record_batch(rng: np.random.Generator, n: int, seq_len: int, schema: pa.Schema) -> pa.RecordBatch:
    """n rows of random ids, <s> every ~MEAN_DOC_TOKENS tokens, 2 % of rows padded after a random length."""
    from gecko_cli import schemas

    tokens = rng.integers(3, VOCAB, size=(n, seq_len), dtype=np.uint16)
    tokens[rng.random((n, seq_len)) < 1 / MEAN_DOC_TOKENS] = BOS
    used = np.where(rng.random(n) < 0.02, rng.integers(1, seq_len, size=n), seq_len).astype(np.int32)
    tokens[np.arange(seq_len)[None, :] >= used[:, None]] = PAD
    flat = pa.array(tokens.reshape(-1), type=schemas.token_type(VOCAB))
    columns = [pa.FixedSizeListArray.from_arrays(flat, seq_len), pa.array(used)]
    columns += [pa.array(np.zeros(n, np.int32)) for _ in schemas.LANG_TOKENS]
    columns.append(pa.array(used.astype(np.int64) * 3))
    if schemas.SEGMENT_LANGS in schema.names:  # a language per segment, and the row's bytes split over languages
        from gecko_cli.pack.reader import segments

        segment_ids, _, _ = segments(tokens, used, BOS, EOS)
        counts = segment_ids.max(axis=1).astype(np.int64)
        lang_bytes = np.zeros((n, len(schemas.LANG_BYTES)), np.int64)
        lang_bytes[:, 0] = used.astype(np.int64) * 3
        columns += [pa.array(lang_bytes[:, i]) for i in range(len(schemas.LANG_BYTES))]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        langs = rng.integers(0, len(schemas.PACKED_LANGS), size=int(counts.sum()), dtype=np.uint8)
        columns.append(pa.ListArray.from_arrays(pa.array(offsets), pa.array(langs)))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def one_core() -> str:
    """Pin this process, and Arrow's thread pools, to one core; returns which."""
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"cpu {core}"
    return "not pinned (no sched_setaffinity)"


def time_batches(ds, global_batch: int, steps: int, seed: int) -> dict:
    """Time `steps` consecutive batches (after one untimed warm-up step); rows/s, tokens/s and step times."""
    from gecko_cli.pack.reader import segments

    ds.batch(steps + 10, global_batch, seed)  # warm-up: imports, first permutation; a step outside the run
    step_s = []
    cpu0, t0 = time.process_time(), time.perf_counter()
    for step in range(steps):
        s0 = time.perf_counter()
        ds.batch(step, global_batch, seed)
        step_s.append(time.perf_counter() - s0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rows = steps * global_batch
    idx = np.random.default_rng(1).integers(0, ds.num_rows, size=(steps, global_batch))
    t1 = time.perf_counter()
    for chunk in idx:
        tokens, used = ds.rows(chunk)
    rows_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    for _ in range(steps):
        segments(tokens, used, ds.bos_id)
    seg_s = time.perf_counter() - t2
    return {"steps": steps, "global_batch": global_batch, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "rows_per_s": round(rows / wall), "tokens_per_s": round(rows * ds.seq_len / wall),
            "step_ms_p50": round(1e3 * float(np.median(step_s)), 2),
            "step_ms_p99": round(1e3 * float(np.percentile(step_s, 99)), 2),
            "breakdown_s": {"rows": round(rows_s, 3), "segments": round(seg_s, 3)}}


def main() -> None:
    args = parse_args()
    pinned = one_core()
    from gecko_cli.pack.reader import PackedDataset

    folder = Path(args.out) / "reader"
    t0 = time.perf_counter()
    manifest = build(folder, args.rows, args.seq_len)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    ds = PackedDataset(str(folder))
    open_s = time.perf_counter() - t1
    timing = time_batches(ds, args.global_batch, args.steps, args.seed)
    gate = GATE_FACTOR * CPU_STEP_TOKENS_S
    per_host = POD_TOKENS_S / POD_HOSTS
    report = {
        "data": {"folder": str(folder), "rows": ds.num_rows, "seq_len": ds.seq_len,
                 "rows_per_batch": manifest["rows_per_batch"], "shards": len(manifest["shards"]),
                 "bytes": sum(s["bytes"] for s in manifest["shards"]), "build_s": round(build_s, 2),
                 "open_s": round(open_s, 4)},
        "timing": timing,
        "needs": {"cpu_step_tokens_per_s": CPU_STEP_TOKENS_S, "gate_tokens_per_s": gate,
                  "pod_tokens_per_s": POD_TOKENS_S, "pod_hosts": POD_HOSTS, "pod_per_host_tokens_per_s": per_host},
        "x_cpu_step": round(timing["tokens_per_s"] / CPU_STEP_TOKENS_S, 1),
        "x_pod_host": round(timing["tokens_per_s"] / per_host, 1),
        "pass": timing["tokens_per_s"] >= gate,
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "pyarrow": pa.__version__,
                    "cpu": platform.processor() or platform.machine(), "pinned": pinned},
    }
    out = Path(args.out) / "reader.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_report(report, out)
    sys.exit(0 if report["pass"] else 1)


def print_report(r: dict, out: Path) -> None:
    """The figures, as a short markdown report on stdout."""
    d, t, n = r["data"], r["timing"], r["needs"]
    print(f"## packed reader: {d['rows']} rows x {d['seq_len']} tokens, {d['shards']} shards, "
          f"{d['bytes'] / 2**20:.0f} MiB zstd, batches of {d['rows_per_batch']} rows (opened in {d['open_s']} s)")
    print(f"- {t['steps']} random batches of {t['global_batch']} rows on one core: {t['rows_per_s']:,} rows/s, "
          f"{t['tokens_per_s'] / 1e6:.1f}M tokens/s (step p50 {t['step_ms_p50']} ms, p99 {t['step_ms_p99']} ms; "
          f"of {t['wall_s']} s, rows() alone {t['breakdown_s']['rows']} s, segments() {t['breakdown_s']['segments']} s)")
    print(f"- CPU step of a tiny model (assumed {n['cpu_step_tokens_per_s']:,} tokens/s): reader is {r['x_cpu_step']}x; "
          f"gate {GATE_FACTOR}x = {n['gate_tokens_per_s']:,} tokens/s: {'PASS' if r['pass'] else 'FAIL'}")
    print(f"- pod (7B, 256 chips, ~40 % MFU, {n['pod_tokens_per_s'] / 1e6:.1f}M tokens/s over {n['pod_hosts']} hosts = "
          f"{n['pod_per_host_tokens_per_s']:,.0f} tokens/s per host): one core of a host gives {r['x_pod_host']}x that")
    print(f"- written: {out}")


if __name__ == "__main__":
    main()
