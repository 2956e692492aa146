"""Plumbing every stage shares: the work folder of a phased run, the output folder's state, worker processes.

A stage writes its output folder and, while it runs, `OUT/.gecko-work/` with one sub-folder per phase. Each
unit of a phase (an input file, a band, an output shard) writes its files atomically and then its
`done-*.json` marker, so a rerun skips finished units and a crash leaves nothing that looks finished.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import sys

import numpy as np

from gecko_cli.errors import ConfigError, DataError, GeckoError
from gecko_cli.shards import MANIFEST, read_manifest, remove_temp_files, write_bytes_atomic, write_json_atomic

WORK_DIR = ".gecko-work"


class WorkDir:
    """The work folder of one stage output, with a sub-folder per phase."""

    def __init__(self, out_dir: str, phases: tuple[str, ...], stage: str):
        self.root = os.path.join(out_dir, WORK_DIR)
        self.state = os.path.join(self.root, "state.json")
        self.phases = phases
        self.stage = stage

    def make(self) -> None:
        for sub in self.phases:
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)

    def remove(self) -> None:
        """Delete the work folder. Its files are unlinked on a few threads first: most of an unlink's time (the
        freeing of the file's pages and blocks) runs outside the folder's lock, so the large files of a phase
        (balance's scanned shards, say) are freed side by side (20 against 27 ms for balance's work folder on
        the sample corpus)."""
        files = [os.path.join(folder, name) for folder, _, names in os.walk(self.root) for name in names]
        if len(files) > 8:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(4) as pool:
                for _ in pool.map(_unlink_quietly, files):
                    pass
        shutil.rmtree(self.root, ignore_errors=True)

    def path(self, phase: str, name: str) -> str:
        return os.path.join(self.root, phase, name)

    def done_path(self, phase: str, unit: int | str | None) -> str:
        if unit is None:
            return self.path(phase, "done.json")
        return self.path(phase, f"done-{unit}.json" if isinstance(unit, str) else f"done-{unit:05d}.json")

    def is_done(self, phase: str, unit: int | None) -> bool:
        return os.path.exists(self.done_path(phase, unit))

    def mark_done(self, phase: str, unit: int | None, info: dict) -> None:
        write_json_atomic(self.done_path(phase, unit), info)

    def done_info(self, phase: str, unit: int | None) -> dict:
        with open(self.done_path(phase, unit), encoding="utf-8") as fh:
            return json.load(fh)

    def require(self, phase: str, units, before: str) -> None:
        """Fail clearly when an earlier phase has not finished every unit."""
        units = list(units)
        missing = [u for u in units if not self.is_done(phase, u)]
        if missing:
            raise DataError(
                f"phase {phase!r} has not finished {len(missing)} of {len(units)} units "
                f"(first missing: {missing[0]}), which {before!r} needs",
                hint=f"run `gecko {self.stage} ... --phase {phase}` on every host first (a rerun resumes)",
            )

    def write_array(self, path: str, arr: np.ndarray) -> None:
        flat = np.ascontiguousarray(arr).reshape(-1)  # its bytes as they are, without a copy
        write_bytes_atomic(path, memoryview(flat.view(np.uint8)) if flat.size else b"")

    def any_done(self) -> bool:
        """Whether a run got as far as finishing some unit (else it may restart with other settings)."""
        return bool(glob.glob(os.path.join(glob.escape(self.root), "*", "done*.json")))

    def read_state(self) -> dict:
        try:
            with open(self.state, encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return {}


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:  # (as rmtree with ignore_errors: what stays is removed with the folder, or left)
        pass


def memmap(path: str, dtype) -> np.ndarray:
    """A read-only memory map of a raw array file (an empty file gives an empty array)."""
    if os.path.getsize(path) == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def check_output_folder(path: str) -> None:
    """Fail clearly when an output folder cannot be made: the path is a file, or lies inside one."""
    hint = "choose another output folder, or move that file away"
    if os.path.lexists(path):
        if not os.path.isdir(path):
            raise DataError(f"{path} exists and is not a folder", hint=hint)
        return
    parent = os.path.dirname(os.path.normpath(path))
    while parent and not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise DataError(f"{path} is inside a file, not a folder ({parent} is a file)", hint=hint)


def make_output_folder(path: str) -> None:
    """Create an output folder (and its parents) when missing, with a clear error when a file is in the way."""
    check_output_folder(path)
    os.makedirs(path, exist_ok=True)


def prepare_output(work: WorkDir, out: str, fp: str, settings: dict, *, overwrite: bool, single_host: bool,
                   side_dirs: tuple[str, ...] = (), reuse: tuple[str, str] | None = None) -> bool:
    """Check an output folder against this run, clearing it when allowed; returns True when it already holds
    exactly this result (same fingerprint), so there is nothing to do.

    Args:
        work: the run's work folder.
        out: the output folder.
        fp: fingerprint of the settings and inputs.
        settings: what state.json records of the settings.
        overwrite: replace an output or unfinished run with other settings.
        single_host: this process is the only writer, so stale temporary files may be deleted.
        side_dirs: other folders the stage writes shards into (e.g. --keep-dropped).
        reuse: (phase, fingerprint of what that phase depends on): an unfinished run with other settings keeps
            that phase's finished work when this fingerprint is unchanged (e.g. a new mix reuses the scan).
    """
    for folder in (out, *side_dirs):
        check_output_folder(folder)
    stage = work.stage
    hint = "pass --overwrite to replace it, or choose another output folder"
    if os.path.exists(os.path.join(out, MANIFEST)):
        manifest = read_manifest(out)
        if manifest.get("fingerprint") == fp and not overwrite:
            return True
        if not overwrite:
            held = manifest.get("stage", stage)
            if held != stage:
                raise ConfigError(f"{out} holds the output of gecko {held}, not of a {stage} run",
                                  hint=f"choose another output folder, or pass --overwrite to replace that {held} output")
            raise ConfigError(f"{out} holds the output of a {stage} run with other settings or inputs", hint=hint)
        _clear(work, out, side_dirs)
    elif os.path.exists(work.state):
        state = work.read_state()
        if state.get("fingerprint") != fp:
            if reuse and state.get("reuse") == list(reuse) and not overwrite:
                _clear(work, out, (), keep=reuse[0])
            elif not overwrite and work.any_done():
                raise ConfigError(f"{out} holds an unfinished {stage} run with other settings or inputs", hint=hint)
            else:
                _clear(work, out, side_dirs)
    elif os.path.isdir(out) and os.listdir(out):
        if not overwrite:
            raise ConfigError(f"{out} is not empty and is not a gecko {stage} output", hint=hint)
        _clear(work, out, side_dirs)
    elif overwrite:
        _clear(work, out, side_dirs)
    make_output_folder(out)
    work.make()
    if single_host:
        for folder in (out, *(os.path.join(work.root, p) for p in work.phases), *side_dirs):
            if os.path.isdir(folder):
                remove_temp_files(folder)
    write_json_atomic(work.state, {"fingerprint": fp, "config": settings, "reuse": list(reuse) if reuse else None})
    return False


def _clear(work: WorkDir, out: str, side_dirs: tuple[str, ...], keep: str | None = None) -> None:
    if keep is None:
        work.remove()
    else:
        for phase in work.phases:
            if phase != keep:
                shutil.rmtree(os.path.join(work.root, phase), ignore_errors=True)
    for folder in (out, *side_dirs):
        for path in glob.glob(os.path.join(glob.escape(folder), "shard-*.arrow")) + [os.path.join(folder, MANIFEST)]:
            if os.path.exists(path):
                os.remove(path)


def run_parallel(workers: int, fn, jobs: list[tuple], costs: list[float] | None = None) -> list:
    """Run fn(*job) for every job, in `workers` processes when more than one (this one and workers - 1 forked
    from it); results in job order.

    Each process takes the next job as it becomes free: the costliest first when `costs` (one per job: its
    input's size, say) are given, so that the last jobs, which one process may run while the others wait, are
    short. While it runs a job, the last steps that the job before handed to `finish` (its durable writes) run
    on a thread of the same process: the wait for the disk overlaps the next job's work. A process waits for
    them before it takes a job after that one, and before it returns; an error there stops the run like an
    error in the job.

    The forked processes are plain forks (no pool: it would take about 9 ms to import and 5 ms to start and
    stop), each sending back its results, or its error, pickled through a pipe. One that dies without a word
    (killed, out of memory) stops the run with an error that says so. Once every one has sent its results, this
    process goes on without waiting for them to end (`_collect`); when the run stops with an error, every
    forked process has ended.
    """
    if workers == 1 or len(jobs) <= 1:
        with _finishing():
            return [fn(*job) for job in jobs]
    global _SHARED
    n = min(workers, len(jobs))
    start = sorted(range(len(jobs)), key=lambda i: -costs[i]) if costs is not None else list(range(len(jobs)))
    # The workers are forked from this process after _SHARED is set: they read the jobs from it, not from pickles.
    counter = _NextJob(len(jobs))
    _SHARED = (fn, [(i, jobs[i]) for i in start], counter)
    children: list[tuple[int, int]] = []
    try:
        for stream in (sys.stdout, sys.stderr):  # (a fork would write what they hold again)
            if stream is not None and not stream.closed:
                stream.flush()
        try:
            for _ in range(n - 1):
                children.append(_fork_worker())
            done = [_take_jobs(forked=False)]
        except BaseException:  # (a fork that fails too) the forked ones stop after their job and are waited for
            counter.stop()
            _collect(children, raise_errors=False)
            raise
        done += _collect(children)
    finally:
        _SHARED = None
        counter.close()
    results: list = [None] * len(jobs)
    for part in done:
        for i, value in part:
            results[i] = value
    return results


_SHARED: tuple | None = None  # (fn, (index, job) in the order to run them, _NextJob) of the call in progress


class _NextJob:
    """The position of the next job to take, shared by this process and the ones forked from it: 8 bytes of
    shared memory, guarded by a one-byte token in a pipe (a process takes the byte to read and move the
    position, and puts it back)."""

    def __init__(self, end: int):
        import mmap

        self.end = end
        self._memory = mmap.mmap(-1, 8)  # anonymous and shared: the forked processes see the same bytes
        self._token_out, self._token_in = os.pipe()
        os.write(self._token_in, b"\0")

    def take(self) -> int:
        """The position of a job to run (`end` or more: none left)."""
        os.read(self._token_out, 1)
        try:
            position = int.from_bytes(self._memory[:8], "little")
            self._memory[:8] = (position + 1).to_bytes(8, "little")
        finally:
            os.write(self._token_in, b"\0")
        return position

    def stop(self) -> None:
        """No process takes another job."""
        os.read(self._token_out, 1)
        try:
            self._memory[:8] = self.end.to_bytes(8, "little")
        finally:
            os.write(self._token_in, b"\0")

    def close(self) -> None:
        for fd in (self._token_out, self._token_in):
            os.close(fd)
        self._memory.close()


def _fork_worker() -> tuple[int, int]:
    """Fork a process that takes jobs until none is left and sends back ("ok", results) or ("error", exception),
    pickled, through a pipe; returns its pid and the pipe's end to read."""
    import pickle

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        return pid, read_end
    try:  # the forked process: it never returns from here
        os.close(read_end)
        try:
            _die_with_parent()
            message = ("ok", _take_jobs())
        except BaseException as e:  # noqa: BLE001 (every error goes back to the parent, which raises it)
            import traceback

            message = ("error", e, "".join(traceback.format_exception(e)))
        try:
            data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 (an error that does not pickle: its text goes back)
            data = pickle.dumps(("error", RuntimeError(message[2].strip().splitlines()[-1]), message[2]))
        view = memoryview(data)
        while view:
            view = view[os.write(write_end, view):]
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        # The parent reads to the end of the pipe: closed here, it need not wait for this process to end (the
        # kernel frees a process's memory before it closes its files: 5-8 ms of `gecko balance`'s scan).
        os.close(write_end)
    finally:
        os._exit(0)


def _collect(children: list[tuple[int, int]], raise_errors: bool = True) -> list:
    """Read every forked process's message; returns their results, after raising the first error one sent (or
    the death of one that sent none) when `raise_errors`.

    A forked process closes its end of the pipe once its message is sent, and then ends: the kernel frees its
    memory before it closes its files, which took 5-8 ms of each `gecko balance` scan while this process waited.
    So when every process sent its results, this one goes on at once, and each is waited for on a thread of
    this one. Otherwise (an error, or `raise_errors` off: the run stops) it waits for each to end."""
    import pickle

    results, error, ended, unread = [], None, [], [read_end for _, read_end in children]
    stopping = True  # (interrupted) every forked process is waited for, its message left unread
    try:
        for pid, read_end in children:
            chunks = []
            try:
                while chunk := os.read(read_end, 1 << 20):
                    chunks.append(chunk)
            finally:
                unread.remove(read_end)
                os.close(read_end)
            if chunks:
                kind, value, *where = pickle.loads(b"".join(chunks))
                if where:  # the forked process's traceback, shown under the error (a GeckoError prints one line)
                    value.__cause__ = WorkerTraceback(where[0])
            else:  # it died without a word: its exit status says how
                ended.append(pid)
                code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                how = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
                kind, value = "error", GeckoError(
                    f"a worker process {how} before it finished (out of memory?)",
                    hint="rerun the same command to resume, with fewer --workers if memory is short")
            if kind == "error":
                error = error or value
            else:
                results.append(value)
        stopping = error is not None or not raise_errors
    finally:
        for read_end in unread:  # (a process still writing its message then gets an error, and ends)
            os.close(read_end)
        for pid, _ in children:
            if pid not in ended:
                _reap(pid, wait=stopping)
    if error is not None and raise_errors:
        raise error
    return results


def _reap(pid: int, wait: bool) -> None:
    """Wait for a forked process to end, or (not `wait`) have a thread wait for it when it has not yet."""
    if wait:
        _wait_quietly(pid)
        return
    try:
        running = os.waitpid(pid, os.WNOHANG)[0] == 0
    except ChildProcessError:  # (waited for already: SIGCHLD ignored)
        return
    if running:
        import threading

        threading.Thread(target=_wait_quietly, args=(pid,), name=f"reap-{pid}", daemon=True).start()


def _wait_quietly(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class WorkerTraceback(Exception):
    """Where a forked worker raised the error that the parent raises again: its traceback, as text."""

    def __str__(self) -> str:
        return "\n\n" + self.args[0]


def _take_jobs(forked: bool = True) -> list[tuple[int, object]]:
    """In a worker: run the next job until none is left; returns (index, result) of the jobs it ran."""
    global _finisher
    if forked:
        _finisher = None  # a finisher of the parent's has no thread here
    fn, jobs, next_job = _SHARED
    out = []
    with _finishing():
        while True:
            i = next_job.take()
            if i >= len(jobs):
                return out
            index, job = jobs[i]
            try:
                out.append((index, fn(*job)))
            except BaseException:
                next_job.stop()  # the other workers take no new job
                raise


def finish(steps) -> None:
    """Run a unit's last steps (`steps()`: the fsync and rename of its files, its done marker), on the thread
    that `run_parallel` gives its process, else now. A unit's steps run after those of the unit before."""
    if _finisher is None:
        steps()
    else:
        _finisher.submit(steps)


class _Finisher:
    """One thread that runs the `finish` steps of a process's units, one unit's at a time."""

    def __init__(self):
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="finish")
        self._pending = None

    def submit(self, steps) -> None:
        self.wait()  # the unit before first: at most one unit waits, and its error stops the next
        self._pending = self._pool.submit(steps)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown()


_finisher: _Finisher | None = None


@contextlib.contextmanager
def _finishing():
    """Units run in this block hand their `finish` steps to a thread; it waits for them all at its end."""
    global _finisher
    if _finisher is not None:
        yield
        return
    _finisher = finisher = _Finisher()
    try:
        yield
    except BaseException:
        _finisher = None
        try:  # the unit before keeps its finished state (a rerun skips it); the first error is the one raised
            finisher.close()
        except BaseException:
            pass
        raise
    _finisher = None
    finisher.close()


def _die_with_parent() -> None:
    # A worker whose parent is killed (kill -9, preemption) stops too, instead of writing on as an orphan.
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
