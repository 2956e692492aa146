"""Running a command in its own process and measuring it, for every benchmark here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shared_dir(needs: str = "corpus") -> Path:
    """The shared data folder: $GECKO_SHARED, else ../shared next to the repository (it must hold `needs`)."""
    path = Path(os.environ.get("GECKO_SHARED") or REPO.parent / "shared")
    if not (path / needs).exists():
        sys.exit(f"error: {path / needs} not found\n\nhint: set GECKO_SHARED to the shared folder")
    return path


def gecko_bin() -> str:
    """The `gecko` script of the running interpreter's environment, with gecko's modules compiled to bytecode."""
    byte_compile()
    path = Path(sys.executable).parent / "gecko"
    return str(path) if path.exists() else (shutil.which("gecko") or "gecko")


def byte_compile() -> None:
    """Compile gecko's modules to bytecode (`__pycache__`), as installing a package does. Where
    PYTHONDONTWRITEBYTECODE is set, nothing else writes them for an editable install, and every timed command
    would compile its modules again at start: about 65 ms of a `gecko balance` run."""
    import compileall

    compileall.compile_dir(str(REPO / "src" / "gecko_cli"), quiet=1)


def measure(cmd: list[str], log_path: Path) -> dict:
    """Run one command in its own process; returns wall time, CPU time and peak RSS of that process.

    CPU time includes the children it waited for (worker processes); peak RSS is the largest single process.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4 (for its rusage), so tell Popen
    if proc.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        sys.exit(f"error: {' '.join(cmd)} exited with {proc.returncode}\n{tail}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}


def settle(*folders: Path) -> None:
    """Before a timed run: delete the folders it writes (its output, as on a first run) and flush the file system
    (`sync`), so that no earlier command's writes or deletions are still being flushed while it runs. Untimed."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    os.sync()


def measure_median(cmd: list[str], log_path: Path, repeat: int, read=None, outputs: tuple[Path, ...] = ()) -> dict:
    """`measure` run `repeat` times; the run with the median wall time (every wall time is kept too). `read`, a
    function of the log's path, adds what it returns to each run's figures (read before the next run). With
    `outputs`, each run starts settled (`settle(*outputs)`)."""
    runs = []
    for _ in range(repeat):
        if outputs:
            settle(*outputs)
        runs.append(measure(cmd, log_path))
        if read is not None:
            runs[-1].update(read(log_path))
    runs.sort(key=lambda r: r["wall_s"])
    best = dict(runs[len(runs) // 2])
    best["wall_s_all"] = [round(r["wall_s"], 3) for r in runs]
    return best
