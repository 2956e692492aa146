"""Kernels in C++ for the operations that run slowly otherwise, built on first use (build.py): attention for
XLA's CPU backend (attention_cpu), and for `gecko balance` the line statistics of the quality rules (lines),
their counts of symbols and jamo (codepoints), of the bytes of data literals and of strings such as "..."
(byteclasses), the counts of the language detector (scripts) and its lines that open like code (codestarts),
the texts that may hold personal numbers (numbers), the documents' sampling keys (keys), their copies in key
order (order) and the gather of their texts into output batches (texts).

`GECKO_CPU_KERNELS=off` turns every one of them off: the same results then come from XLA or Python.
"""

import os

SETTING = "GECKO_CPU_KERNELS"


def enabled() -> bool:
    """Whether the kernels may be used (GECKO_CPU_KERNELS is not off)."""
    return os.environ.get(SETTING, "").strip().lower() not in ("off", "0", "false", "no")
