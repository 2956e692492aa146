"""Peak FLOP/s of the devices, for model FLOPs utilization (MFU).

MFU = model FLOPs per token (ModelConfig.flops_per_token: 6 x matmul parameters + the causal attention term)
x tokens per second / (devices x peak FLOP/s per device). Accelerators use their datasheet dense peak for the
compute dtype; a CPU has no datasheet figure, so its peak is a matmul rate measured at startup.
"""

from __future__ import annotations

import time

#: Dense bf16 peak FLOP/s per JAX device, by a lower-case substring of `device_kind`.
PEAK_BF16 = (
    ("v6", 918e12), ("v5p", 459e12), ("v5 lite", 197e12), ("v5e", 197e12), ("v4", 275e12), ("v3", 123e12),
    ("h200", 989e12), ("h100", 989e12), ("h800", 989e12), ("gh200", 989e12), ("b200", 2250e12),
    ("a100", 312e12), ("a800", 312e12), ("l40s", 362e12), ("a10", 125e12), ("l4", 121e12),
)


def device_peak(device_kind: str, dtype: str) -> float | None:
    """The datasheet peak of a device for `dtype` matmuls (float32 counts as half the bf16 rate on TPUs and
    tensor-float32 GPUs, a convention), or None when the device is unknown."""
    kind = device_kind.lower()
    for key, peak in PEAK_BF16:
        if key in kind:
            return peak if dtype == "bfloat16" else peak / 2
    return None


def measure_matmul(dtype: str, n: int = 1024, seconds: float = 0.5) -> float:
    """FLOP/s of a jitted n x n matmul in `dtype` on the default device (best of a few timed runs)."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((n, n), jnp.dtype(dtype))
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        f(a).block_until_ready()
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def peak_per_device(device, dtype: str, given: float) -> tuple[float, str]:
    """(peak FLOP/s per device, where it came from): the given value, the datasheet, or a measured matmul."""
    if given > 0:
        return given, "--peak-flops"
    peak = device_peak(device.device_kind, dtype)
    if peak is not None:
        return peak, f"{device.device_kind} datasheet"
    return measure_matmul(dtype), f"measured {dtype} matmul on {device.platform}"
