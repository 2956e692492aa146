"""Build a kernel's C++ source into a shared library on first use, and keep it for later processes.

The library is compiled for this machine (`-march=native`), for JAX kernels against the XLA FFI headers of the
installed jaxlib, into `$XDG_CACHE_HOME/gecko/kernels/<machine kind>/` (`~/.cache/...`; `GECKO_KERNEL_CACHE`
names another folder), under a name that digests the source, the flags, the compiler and (for JAX kernels)
jaxlib's version: a changed source or another processor gets its own build. It is written under a temporary name
and renamed into place, so processes that build at once do not see each other's half-written files. Building
takes a second or a few, once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from gecko_cli.compile_cache import machine_kind

FLAGS = ["-O3", "-march=native", "-ffp-contract=fast", "-fno-math-errno", "-std=c++17", "-shared", "-fPIC", "-w"]
CACHE_SETTING = "GECKO_KERNEL_CACHE"


class BuildError(RuntimeError):
    """The kernel could not be built here (no C++ compiler, no jaxlib headers, a compiler error)."""


def cache_folder() -> Path:
    base = os.environ.get(CACHE_SETTING) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "gecko", "kernels")
    return Path(base) / machine_kind()


def compiler() -> str:
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if not cxx:
        raise BuildError("no C++ compiler found (install g++, or set CXX)")
    return cxx


def library(source: Path, *, xla_ffi: bool = True) -> Path:
    """The shared library built from `source`, building it if this machine has none yet.

    Args:
        source: the C++ file.
        xla_ffi: compile against the XLA FFI headers of the installed jaxlib (a JAX kernel); False for plain C
            functions (called through ctypes), which then need no JAX at all.
    """
    cxx = compiler()
    include, version = [], b""
    if xla_ffi:
        import jax
        import jaxlib

        include, version = ["-I", jax.ffi.include_dir()], jaxlib.__version__.encode()
    code = source.read_bytes()
    digest = hashlib.sha256(b"\0".join([code, " ".join(FLAGS).encode(), cxx.encode(), version])).hexdigest()[:16]
    target = cache_folder() / f"{source.stem}-{digest}.so"
    if target.exists():
        return target
    import subprocess  # imported here: a command whose kernels are built already does without them
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{source.stem}-", suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        done = subprocess.run([cxx, *FLAGS, *include, str(source), "-o", tmp],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            first = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr.strip()[:200])
            raise BuildError(f"{cxx} could not compile {source.name}: {first}")
        os.replace(tmp, target)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BuildError(f"{cxx} could not compile {source.name}: {e}") from e
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


class CFunctions:
    """The plain C functions of a kernel's source, built and loaded (ctypes) on first use.

    `get()` returns the library with each function's result and argument types set, or None, with a warning
    naming `what` the first time, when it cannot be built or loaded here (the caller then computes the same
    results another way).
    """

    def __init__(self, source: Path, signatures: dict[str, tuple], what: str):
        self.source, self.signatures, self.what = source, signatures, what
        self._lib: list = []  # [library or None] once tried

    def get(self):
        if not self._lib:
            import ctypes

            try:
                lib = ctypes.CDLL(str(library(self.source, xla_ffi=False)))
                for name, (restype, argtypes) in self.signatures.items():
                    function = getattr(lib, name)
                    function.restype, function.argtypes = restype, argtypes
                self._lib.append(lib)
            except (BuildError, OSError, AttributeError) as e:
                from gecko_cli.console import log

                self._lib.append(None)
                log.warning("%s: the kernel is not available (%s); using Python, which is slower", self.what, e)
        return self._lib[0]
