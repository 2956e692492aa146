"""The process's glibc malloc settings for training and evaluating on the CPU.

XLA's CPU backend allocates a step's temporary buffer (1.75 GB for the `small` preset at batch 8 x 256) and frees
it again every step. glibc serves an allocation that large with mmap and unmaps it on free, so every step
page-faults the whole buffer in anew: about 448,000 faults and 2 s of kernel time a step, 16 % of the step
(benchmarks/bench_pretrain.py). Keeping freed memory in the heap removes them, at the cost of a higher peak
resident size (3.0 to 4.5 GB there). `gecko pretrain` and `gecko eval` do this when JAX will run on the CPU;
`GECKO_CPU_MALLOC=system` leaves the allocator as it is.

`gecko pretrain` serves everything from one arena. `gecko eval` allows two: with one, the tokenizer's threads
queue for its lock, and encoding bench_eval's 400 texts took 0.31 s instead of 0.125 s (in a scoring run, 0.42
to 0.58 s of its 13 s). Two arenas kept that at 0.125 s, and the scoring passes' page faults as low as one does
(2,605 and 2,030 a pass at 8 x 416 and 2 x 1536 tokens; one arena 2,598-5,050 and 0-4,343; glibc's default
18,500 and 16,200). For pretraining, two arenas measured 3.13 s a step against 3.10 s with one (5,862 page
faults a step against 0), so it keeps one.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os

OPT_OUT = "GECKO_CPU_MALLOC"


def accelerator_expected() -> bool:
    """Whether JAX will pick an accelerator: JAX_PLATFORMS names one first, or a PJRT plugin (CUDA, ROCm) or
    libtpu is installed. Decided without importing jax, because the setting must come before its threads."""
    platforms = os.environ.get("JAX_PLATFORMS") or os.environ.get("JAX_PLATFORM_NAME") or ""
    if platforms.strip():
        return platforms.split(",")[0].strip().lower() != "cpu"
    if importlib.util.find_spec("libtpu") is not None or importlib.util.find_spec("jax_plugins") is not None:
        return True
    return bool(importlib.metadata.entry_points(group="jax_plugins"))


#: glibc arenas per stage (see above).
ARENAS = {"pretrain": 1, "eval": 2}


def keep_freed_memory(arenas: int = 1) -> bool:
    """glibc malloc: serve every allocation from at most `arenas` heaps, without mmap, and keep freed memory
    (trim only above 2 GB free at the top), so that buffers allocated and freed every step are not page-faulted
    in anew. Call before the framework starts its threads: glibc fixes the arena limit when it makes the first
    arena for a thread. False where mallopt is not available (not glibc)."""
    from gecko_cli.startup import mallopt

    m_trim_threshold, m_mmap_max, m_arena_max = -1, -4, -8
    return mallopt({m_arena_max: arenas, m_mmap_max: 0, m_trim_threshold: 2**31 - 1})


def tune_for_cpu(stage: str) -> bool:
    """keep_freed_memory() with the stage's arenas when the run will be on the CPU and GECKO_CPU_MALLOC is not
    `system`; whether it was applied."""
    if os.environ.get(OPT_OUT, "").strip().lower() == "system" or accelerator_expected():
        return False
    return keep_freed_memory(ARENAS[stage])
