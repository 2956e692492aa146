"""What the `gecko` script does to its own process before a command runs.

Arrow's memory pool. pyarrow's default pool is its bundled mimalloc, which here has its memory faulted in as
transparent huge pages, again and again: the kernel zeroing them (`clear_page_erms`) was 16 % of a perf profile of
`gecko balance`, against under 1 % with the system allocator. On `gecko balance --workers 1` over the deduplicated
sample corpus (5 interleaved runs each) the system allocator took 0.37 instead of 0.69 s of kernel time, 2.44
instead of 2.78 s of wall time and 230 instead of 350 MB of peak memory; `gecko dedup` over the corpus 3.31 instead
of 3.44 s; `gecko pack` the same time. The script therefore sets ARROW_DEFAULT_MEMORY_POOL to `system`, unless the
variable is already set (any of Arrow's pools can still be chosen with it). Its worker processes inherit the
setting.

glibc's malloc (which that pool, numpy and Python's larger objects use). By default a block over its mmap
threshold (128 KB, raised as such blocks are freed, up to 32 MB) is mapped fresh from the kernel, which zeroes
each of its pages on first touch and unmaps it when freed, and free memory over the trim threshold at the top of
the heap goes back to the kernel. Gecko's stages allocate and free arrays of a few MB again and again (numpy
temporaries over a batch's documents, Arrow buffers, record batches), so those pages were faulted in again and
again. The script sets the mmap threshold to 32 MB and the trim threshold to 128 MB (`mallopt`), unless
MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ is set: `gecko balance` over the deduplicated sample corpus,
12 interleaved runs each, took 0.696 instead of 0.720 s with `--workers 2` (kernel time 0.187 instead of 0.206 s)
and 1.108 instead of 1.130 s with `--workers 1`. Up to 128 MB freed may then stay with the process until it ends.

pandas. pyarrow imports pandas, when it is installed, the first time it builds an array from Python objects or numpy
(to check whether they are pandas objects). No gecko command uses pandas, and importing it costs about 0.2 s of
every command's start (0.16 to 0.24 s measured here, 6 % of a `gecko balance` run on the sample corpus). The script
therefore makes pandas unimportable in its own process; pyarrow then treats it as absent. `GECKO_ALLOW_PANDAS=1`
leaves imports as they are.

The end of the process. When a command is done, the interpreter's teardown runs its garbage collector over every
object still alive (the modules of numpy, pyarrow, typer, rich...): about 30 ms of every command, 15 interleaved
runs each (0.26 against 0.23 s for a process that only imports what `gecko balance` imports). The script
therefore moves those objects out of the collector's reach (`gc.freeze()`) once its command has returned or
failed. What is left of the teardown (the modules' objects released one by one, the extension libraries'
destructors, Arrow's memory pool and thread pools) still took 21-30 ms after the last `atexit` function of a
`gecko balance --workers 2` run over the sample corpus (12 runs). So once its command has ended, with its exit
status, the script runs the `atexit` functions, flushes the standard streams and ends the process there
(`os._exit`), with that status: every file a command writes is closed (and synced where it must be) before it
returns. It leaves through the normal teardown instead when a thread that is not a daemon still runs (the
interpreter would wait for it) or a standard stream cannot be flushed (the interpreter reports it), and when a
command fails with a traceback (a bug).

OpenBLAS. numpy's BLAS (OpenBLAS) starts a thread per core when numpy is imported, and each spins on its core
for about 0.1 s waiting for work (`blas_thread_server`: 7 % of the samples of a perf profile of `gecko balance
--workers 1`), while the stage's own processes start on those cores. No gecko command multiplies matrices with
numpy (the model's work is JAX's), so the script sets OPENBLAS_NUM_THREADS to 1 unless it, GOTO_NUM_THREADS or
OMP_NUM_THREADS is set already: a `gecko balance --workers 2` run over the deduplicated sample corpus then takes
0.98 instead of 1.09 s of CPU time (medians of 16 interleaved runs; the same wall time, within its noise).

The collector while a command starts. By default the collector runs over the youngest objects each time 700
more objects that it tracks have been made than freed, and over older ones every 10 such runs: in a `gecko
balance --workers 1` run over the deduplicated sample corpus, 51 runs and 13 ms, nearly all of them over the
objects of the modules being imported (numpy, pyarrow, typer, the stage's own), which stay alive. So the script
raises that threshold to 100,000 while the command's modules are imported, and once its flags are read into
its config (`cli.build_config`, where every stage's work begins) moves what is alive then out of the
collector's reach (`gc.freeze()`) and puts the threshold back: that run then has 35 runs and 5 ms (2 of them
while typer is imported, before the script's own code runs).

Nothing here runs when the CLI is called as a library (`gecko_cli.cli.main(argv)`), so a program that embeds it
keeps its pandas, its memory pool, its malloc settings, its BLAS threads and its collector.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import NoReturn

ALLOW_PANDAS = "GECKO_ALLOW_PANDAS"
ARROW_POOL = "ARROW_DEFAULT_MEMORY_POOL"
_BLOCKED = "pandas"


class _Unimportable:
    """A finder (the import system asks each of `sys.meta_path` for `find_spec`; importlib.abc, whose base class
    would add nothing, takes 3 ms to import) that answers "no such module" for one top-level package and its
    submodules."""

    def __init__(self, name: str):
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name or fullname.startswith(self.name + "."):
            raise ModuleNotFoundError(f"No module named {fullname!r} (the gecko script does not load it; "
                                      f"set {ALLOW_PANDAS}=1 to allow it)", name=fullname)
        return None


def skip_pandas() -> bool:
    """Make pandas unimportable in this process unless it is already loaded or GECKO_ALLOW_PANDAS is set;
    returns whether it did."""
    if os.environ.get(ALLOW_PANDAS) or _BLOCKED in sys.modules:
        return False
    if not any(isinstance(f, _Unimportable) and f.name == _BLOCKED for f in sys.meta_path):
        sys.meta_path.insert(0, _Unimportable(_BLOCKED))
    return True


def use_system_allocator_for_arrow() -> bool:
    """Make the system allocator Arrow's default memory pool, unless ARROW_DEFAULT_MEMORY_POOL is already set or
    pyarrow is already loaded (it reads the variable when it is imported); returns whether it did."""
    if os.environ.get(ARROW_POOL) or "pyarrow" in sys.modules:
        return False
    os.environ[ARROW_POOL] = "system"
    return True


#: The variables OpenBLAS reads for its number of threads, in its order.
_BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def single_thread_blas() -> bool:
    """Have OpenBLAS start no threads of its own (OPENBLAS_NUM_THREADS=1), unless one of the variables it reads is
    set or numpy is already loaded (OpenBLAS reads them when it is loaded); returns whether it did."""
    if any(name in os.environ for name in _BLAS_VARIABLES) or "numpy" in sys.modules:
        return False
    os.environ[_BLAS_VARIABLES[0]] = "1"
    return True


#: The collector's threshold for its youngest generation while a command starts (Python's default: 700).
START_THRESHOLD = 100_000
_thresholds: tuple[int, ...] | None = None  # the collector's thresholds before `defer_collection`


def defer_collection() -> None:
    """Run the garbage collector less often (START_THRESHOLD) until `resume_collection`."""
    global _thresholds
    if _thresholds is None:
        _thresholds = gc.get_threshold()
        gc.set_threshold(START_THRESHOLD, *_thresholds[1:])


def resume_collection() -> None:
    """After `defer_collection`: move the objects alive now out of the collector's reach (`gc.freeze()`) and put
    its thresholds back; else nothing."""
    global _thresholds
    if _thresholds is not None:
        gc.freeze()
        gc.set_threshold(*_thresholds)
        _thresholds = None


#: mallopt parameters (glibc's malloc.h) and the values the script sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOPT = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 128 << 20}
_MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def tune_malloc() -> bool:
    """Set glibc malloc's mmap and trim thresholds (see the module's docstring), unless either is set by its
    environment variable or the C library is not glibc; returns whether it did."""
    if any(name in os.environ for name in _MALLOC_VARIABLES):
        return False
    return mallopt(_MALLOPT)


def mallopt(values: dict[int, int]) -> bool:
    """Set glibc malloc's parameters (malloc.h's M_* number -> value), in order; whether every one was taken
    (False where the C library is not glibc)."""
    if not _glibc():
        return False
    import ctypes

    try:
        function = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    function.argtypes, function.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all([function(param, value) == 1 for param, value in values.items()])


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError, AttributeError):
        return False


def freeze_for_exit() -> None:
    """Keep the interpreter's teardown from collecting the objects alive now (called as the script ends)."""
    gc.freeze()


def leave(code: object = 0) -> NoReturn:
    """End the script's process as `raise SystemExit(code)` would, without the interpreter's teardown when
    nothing needs it: no thread but daemons left, standard streams flushed (see the module's docstring)."""
    threading = sys.modules.get("threading")
    if threading is not None and any(t is not threading.main_thread() and t.is_alive() and not t.daemon
                                     for t in threading.enumerate()):
        raise SystemExit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # as the interpreter does with SystemExit("message")
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        raise SystemExit(status) from None
    os._exit(status & 0xFF)
