"""Training progress on stderr: a live bar on a terminal, plain log lines elsewhere; every step's metrics in
metrics.jsonl (one JSON object per line)."""

from __future__ import annotations

import json
import os
import time

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from gecko_cli.console import err, log
from gecko_cli.shards import write_bytes_atomic


def fmt(m: dict) -> str:
    text = (f"step {m['step']} loss {m['loss']:.4f} lr {m['lr']:.2e} gnorm {m['grad_norm']:.3f} "
            f"{m['tokens_per_s']:,.0f} tok/s MFU {m['mfu']:.1%}")
    return text


class Reporter:
    """Writes each step's metrics to `metrics.jsonl` and shows progress."""

    def __init__(self, run_dir: str, start: int, total: int, log_every: int, main: bool):
        self.path = os.path.join(run_dir, "metrics.jsonl")
        self.main, self.log_every, self.total = main, log_every, total
        self._bar = None
        if main:
            _truncate(self.path, start)
            self._fh = open(self.path, "a", encoding="utf-8")
            if err.is_terminal:
                self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                     TimeRemainingColumn(), console=err, transient=False)
                self._task = self._bar.add_task("starting", total=total, completed=start)
                self._bar.start()
        self._t0, self._start = time.perf_counter(), start

    def step(self, m: dict) -> None:
        if not self.main:
            return
        self._fh.write(json.dumps(m) + "\n")
        self._fh.flush()
        done = m["step"] + 1
        if self._bar is not None:
            self._bar.update(self._task, completed=done, description=fmt(m))
        elif done % self.log_every == 0 or done == self.total:
            eta = (time.perf_counter() - self._t0) / max(done - self._start, 1) * (self.total - done)
            log.info("%s ETA %s", fmt(m), _hms(eta))

    def record(self, m: dict) -> None:
        """A non-step record (validation), also written to metrics.jsonl and logged."""
        if not self.main:
            return
        self._fh.write(json.dumps(m) + "\n")
        self._fh.flush()
        text = " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in m.items())
        if self._bar is not None:
            self._bar.console.print(text, markup=False)
        else:
            log.info("%s", text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        if self.main:
            self._fh.close()


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _truncate(path: str, start: int) -> None:
    """Keep only the records of steps before `start` (a resumed run logs the later steps again)."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip()]
    keep = []
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if rec.get("step", 0) < start:
            keep.append(line)
    write_bytes_atomic(path, "".join(keep).encode("utf-8"))
