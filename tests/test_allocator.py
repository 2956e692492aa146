"""The CPU malloc setting of `gecko pretrain` and `gecko eval`: when it applies, and what it does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gecko_cli import allocator


@pytest.mark.parametrize(("platforms", "expected"), [("cpu", False), ("cuda", True), ("tpu,cpu", True),
                                                     ("cpu,cuda", False)])
def test_jax_platforms_decides(monkeypatch, platforms, expected):
    monkeypatch.setenv("JAX_PLATFORMS", platforms)
    assert allocator.accelerator_expected() is expected


def test_opt_out_leaves_malloc_alone(monkeypatch):
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.setenv(allocator.OPT_OUT, "system")
    assert allocator.tune_for_cpu("pretrain") is False
    assert allocator.tune_for_cpu("eval") is False


def _page_faults_of_reallocation(tune: bool) -> int:
    """Minor page faults of allocating, touching and freeing 256 MB twenty times, in a fresh process."""
    code = (
        "import ctypes, resource, sys\n"
        "from gecko_cli import allocator\n"
        f"assert {tune} is False or allocator.keep_freed_memory()\n"
        "libc = ctypes.CDLL(None); libc.malloc.restype = ctypes.c_void_p\n"
        "n = 256 << 20\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(20):\n"
        "    p = libc.malloc(n); ctypes.memset(p, 1, n); libc.free(ctypes.c_void_p(p))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "JAX_PLATFORMS": "cpu"})
    return int(out.stdout.strip())


def test_keeping_freed_memory_stops_the_page_faults_of_a_reused_buffer():
    default, kept = _page_faults_of_reallocation(False), _page_faults_of_reallocation(True)
    pages = 20 * (256 << 20) // os.sysconf("SC_PAGE_SIZE")
    assert default > pages // 2  # each fresh mmap of the buffer faults its pages in again
    assert kept < pages // 10  # the heap keeps the pages: faulted in once
