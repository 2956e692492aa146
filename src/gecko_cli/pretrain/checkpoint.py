"""Orbax checkpoints of a run: asynchronous saves every N steps, on SIGTERM and at the end, keeping the last K.

A checkpoint holds the train state (parameters and optimizer state) and a JSON record of the step, the RNG seed
and the data position. The data position is the step itself: batches are a pure function of (seed, step).
Orbax writes each checkpoint under a temporary name and renames it when complete, so only complete ones are
ever listed and restored.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

import orbax.checkpoint as ocp

from gecko_cli.errors import DataError


class Checkpoints:
    def __init__(self, folder: str, every: int, keep: int):
        self.folder = os.path.abspath(folder)
        options = ocp.CheckpointManagerOptions(
            enable_async_checkpointing=True,
            save_decision_policy=ocp.checkpoint_managers.FixedIntervalPolicy(every),
            preservation_policy=ocp.checkpoint_managers.LatestN(keep),
            create=True,
        )
        self.manager = ocp.CheckpointManager(self.folder, options=options)

    def latest(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: dict, meta: dict, force: bool = False) -> bool:
        """Start saving `state` after `step` steps (when the interval says so, or `force`); returns whether it
        saves. The write goes on in the background while training continues."""
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        return self.manager.save(step, args=args, force=force)

    def restore(self, step: int, targets: dict) -> tuple[dict, dict]:
        """The state and meta saved at `step`, placed as `targets` (ShapeDtypeStructs with shardings) say."""
        args = ocp.args.Composite(state=ocp.args.StandardRestore(targets), meta=ocp.args.JsonRestore())
        stderr = sys.stderr
        sys.stderr = _MainThreadOnly(stderr)
        try:
            restored = self.manager.restore(step, args=args)
        except Exception as e:  # orbax and TensorStore raise bare Exceptions for damaged or foreign files
            _quiet_failed_reads()
            raise DataError(f"{self.folder}/{step}: cannot restore this checkpoint ({_first_line(e)})",
                            hint=f"it is damaged, or was written for another model or gecko version: delete "
                            f"{self.folder}/{step} to use the checkpoint before it, or use another run folder "
                            f"(or --overwrite) to start afresh") from None
        sys.stderr = stderr  # after a failure the filter stays: reads still in flight report until the process ends
        return restored["state"], restored["meta"]

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


def _quiet_failed_reads() -> None:
    """After a restore failed: the checkpoint's other reads fail too, and those still pending are reported when
    their coroutines and tasks are collected, which can be at interpreter exit, from the main thread, after the
    one error that matters, each with orbax's traceback: "Task exception was never retrieved" (asyncio's logger)
    and "Exception ignored in: <coroutine ...>" (sys.unraisablehook). The process ends with that error, so both
    are silenced for the rest of it."""
    logging.getLogger("asyncio").disabled = True
    sys.unraisablehook = lambda unraisable: None


class _MainThreadOnly:
    """sys.stderr while a checkpoint is restored, and for the rest of the process when that fails: it passes on
    what the main thread writes and drops what other threads write. When one array cannot be read, orbax closes
    its event loop while TensorStore's threads are still reading the others; each of those reads then reports
    "Event loop is closed" with a traceback on stderr, in the middle of the one error that matters."""

    def __init__(self, inner):
        self.inner = inner
        self.main = threading.main_thread().ident  # by thread id: at shutdown, other threads pass for the main one

    def write(self, text: str) -> int:
        if threading.get_ident() == self.main:
            return self.inner.write(text)
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _first_line(error: BaseException, limit: int = 400) -> str:
    """The first line of the message of the error's root cause (orbax wraps TensorStore's, which names the array
    and what is wrong with its file), cut to `limit` characters."""
    seen = set()
    while id(error) not in seen and (error.__cause__ or error.__context__) is not None:
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    lines = str(error).strip().splitlines() or [type(error).__name__]
    line = lines[0]
    return line if len(line) <= limit else line[:limit] + "..."
