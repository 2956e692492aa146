"""JAX's persistent compilation cache for the commands that compile models (`gecko pretrain`, `gecko eval`).

Compiled programs are kept on disk, so a command that needs a program an earlier one compiled (evaluating the
next checkpoint of a run, resuming a run) loads it instead of compiling it again: `benchmarks/bench_eval.py`'s
80 questions compile 17 programs in 27 to 33 s on 2 cores, and 6 s when a previous run left them in the cache
(the rest is tracing). The programs are the same either way, so results do not change.

The folder is `GECKO_JAX_CACHE` when that names one, else `$XDG_CACHE_HOME/gecko/jax` (`~/.cache/gecko/jax`),
with a sub-folder per machine kind (processor architecture and instruction-set flags), since a program compiled
for one processor need not run on another. It is created readable by its owner only: JAX runs what it finds
there, and keeps it under `MAX_BYTES` (4 GiB) by evicting the least recently used programs.
`GECKO_JAX_CACHE=off` turns the cache off; a `JAX_COMPILATION_CACHE_DIR` of the user's own is left to JAX. A
folder that cannot be created only costs the cache, with a warning.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform

SETTING = "GECKO_JAX_CACHE"
_OFF = ("off", "0", "false", "no", "none")
#: Every program is kept, however fast it compiled (JAX's default keeps only those over 1 s): which ones cross a
#: threshold would change from run to run, and a small program costs a few kB and a file read.
MIN_COMPILE_SECONDS = 0.0
#: Bytes the cache may hold; beyond them JAX evicts the least recently used programs (old versions' among them).
MAX_BYTES = 4 << 30


def folder() -> str | None:
    """The cache folder this process uses, or None when the cache is off or JAX_COMPILATION_CACHE_DIR rules."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    setting = os.environ.get(SETTING, "").strip()
    if setting.lower() in _OFF:
        return None
    base = setting or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "gecko", "jax")
    return os.path.join(base, machine_kind())


def machine_kind() -> str:
    """Architecture and a digest of the processor's instruction-set flags (Linux), e.g. `x86_64-3f9a1c2b`."""
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return f"{platform.machine() or 'unknown'}-{hashlib.sha256(flags.encode()).hexdigest()[:8]}"


def enable() -> str | None:
    """Point JAX at the cache folder (call before anything compiles); returns the folder, or None when off."""
    path = folder()
    if path is None:
        return None
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as e:
        from gecko_cli.console import log

        log.warning("no compilation cache: %s cannot be created (%s); set %s to another folder, or to off",
                    path, e.strerror, SETTING)
        return None
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    if importlib.util.find_spec("filelock") is not None:  # JAX needs it to evict (tokenizers brings it along)
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return path
