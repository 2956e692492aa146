"""Fused causal attention for the CPU, forward only (attention_cpu.cc): what `online` attention runs on CPU.

XLA's CPU backend runs the scores, the softmax and the weighted sum of values of each block as separate
operations over memory, at about half its matmul rate. The kernel keeps each block of scores in cache between
them, with register-blocked dot products. `benchmarks/bench_attention_cpu.py` on 2 cores (`small` preset, 8
heads of 64, median of 9):

| case | XLA online, ms | kernel, ms | PyTorch sdpa, ms |
|---|---:|---:|---:|
| 2 x 1,536 tokens, causal | 74.2 | 34.0 | 43.6 |
| 8 x 416 tokens, causal | 41.5 | 13.2 | 24.0 |
| 1 x 960 tokens, left-padded | 29.3 | 8.3 | |
| 8 x 256 tail tokens over a 960-slot prefix | 107.2 | 49.9 | |

It is used when the arrays are float32 on the CPU, heads have 64 or 128 dimensions and the kernel builds here
(build.py: a C++ compiler is needed, once); otherwise, or with `GECKO_CPU_KERNELS=off`, the XLA version runs. The
two agree to float32 rounding (tests/kernels/test_attention_cpu.py).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import jax
import jax.numpy as jnp

from gecko_cli.kernels import build, enabled

SOURCE = Path(__file__).with_name("attention_cpu.cc")
TARGET = "gecko_attention_cpu"
HEAD_SIZES = (64, 128)

_loaded: dict = {}  # "ok": bool once tried; "why": the reason it is not used


def load() -> bool:
    """Build (once per machine) and register the kernel; False, with a warning the first time, if it cannot be."""
    if "ok" not in _loaded:
        try:
            lib = ctypes.cdll.LoadLibrary(str(build.library(SOURCE)))
            jax.ffi.register_ffi_target(TARGET, jax.ffi.pycapsule(lib.GeckoAttention), platform="cpu")
            _loaded["ok"] = True
        except (build.BuildError, OSError, AttributeError) as e:
            from gecko_cli.console import log

            _loaded.update(ok=False, why=str(e))
            log.warning("attention: the CPU kernel is not available (%s); using XLA's, which is slower", e)
    return _loaded["ok"]


def usable(q: jax.Array, k: jax.Array, v: jax.Array) -> bool:
    """Whether `attention` can run these arrays here (checked while tracing)."""
    return (enabled() and jax.default_backend() == "cpu" and q.shape[-1] in HEAD_SIZES
            and all(a.dtype == jnp.float32 for a in (q, k, v)) and load())


def attention(q: jax.Array, k: jax.Array, v: jax.Array, segment_ids: jax.Array | None) -> jax.Array:
    """Causal attention q (B, T, H, D), k, v (B, T, K, D) -> (B, T, H, D); with segment ids (B, T), only within
    a segment. Call only where `usable` is true."""
    if segment_ids is None:
        return _call(q, k, v, None, None)
    seg = segment_ids.astype(jnp.int32)
    return _call(q, k, v, seg, seg)


def attention_after_prefix(q: jax.Array, pk: jax.Array, pv: jax.Array, prefix_valid: jax.Array, k: jax.Array,
                           v: jax.Array, segments: jax.Array) -> jax.Array:
    """Rows of packed tails over a cached prefix: q (B, T, H, D) attends to every valid slot of pk, pv (B, S, K,
    D) (prefix_valid (B, S)) and to the keys k, v (B, T, K, D) of its own tail (segments (B, T): 1, 2, ... per
    tail, 0 for padding, which attends to the prefix only) at or before it. As generate.py's
    `_prefix_and_tail_attention` with its tail mask, in one pass over the prefix and the tail."""
    segments = segments.astype(jnp.int32)
    kseg = jnp.concatenate([jnp.where(prefix_valid, -1, -2), jnp.where(segments > 0, segments, -2)], axis=1)
    return _call(q, jnp.concatenate([pk, k], axis=1), jnp.concatenate([pv, v], axis=1), segments,
                 kseg.astype(jnp.int32))


def _call(q, k, v, qseg, kseg):
    segmented = qseg is not None
    if not segmented:
        qseg, kseg = jnp.zeros(q.shape[:2], jnp.int32), jnp.zeros(k.shape[:2], jnp.int32)
    call = jax.ffi.ffi_call(TARGET, jax.ShapeDtypeStruct(q.shape, q.dtype))
    return call(q, k, v, qseg, kseg, segmented=segmented)
