"""`stage.run_parallel` and `stage.finish`: jobs in one or several processes, results in job order, each job's
durable last steps on a thread while the next job runs, errors that stop the run."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from gecko_cli import stage
from gecko_cli.errors import GeckoError


def _square(i: int, out_dir: str) -> int:
    with open(os.path.join(out_dir, f"ran-{i}"), "w") as fh:
        fh.write(str(os.getpid()))
    return i * i


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_in_job_order(tmp_path, workers):
    jobs = [(i, str(tmp_path)) for i in range(11)]
    assert stage.run_parallel(workers, _square, jobs) == [i * i for i in range(11)]
    assert sorted(os.listdir(tmp_path)) == sorted(f"ran-{i}" for i in range(11))
    pids = {(tmp_path / f"ran-{i}").read_text() for i in range(11)}
    assert len(pids) <= workers and (workers > 1 or pids == {str(os.getpid())})  # (see the test of the workers)


def test_no_jobs():
    assert stage.run_parallel(2, _square, []) == []


def _unit(i: int, out_dir: str, log: list | None = None) -> int:
    """A unit whose last step writes its done file; it records what was done when it started."""
    if log is not None:
        log.append((i, sorted(os.listdir(out_dir))))

    def done():
        with open(os.path.join(out_dir, f"done-{i}"), "w") as fh:
            fh.write(threading.current_thread().name)

    stage.finish(done)
    return i


def test_finish_runs_now_outside_run_parallel(tmp_path):
    _unit(0, str(tmp_path))
    assert (tmp_path / "done-0").read_text() == threading.current_thread().name


def test_finish_steps_run_on_a_thread_one_unit_behind(tmp_path):
    log: list = []
    assert stage.run_parallel(1, _unit, [(i, str(tmp_path), log) for i in range(5)]) == list(range(5))
    # every unit is finished when run_parallel returns, on the finishing thread
    assert sorted(os.listdir(tmp_path)) == [f"done-{i}" for i in range(5)]
    assert all((tmp_path / f"done-{i}").read_text().startswith("finish") for i in range(5))
    # unit i may start while unit i - 1 is finishing, never before unit i - 2 is done
    for i, seen in log:
        assert {f"done-{j}" for j in range(i - 1)} <= set(seen) <= {f"done-{j}" for j in range(i)}


def test_a_unit_runs_while_the_one_before_finishes():
    started = [threading.Event() for _ in range(3)]
    overlapped = []

    def unit(i: int) -> int:
        started[i].set()
        stage.finish(lambda: overlapped.append(i + 1 == len(started) or started[i + 1].wait(10)))
        return i

    stage.run_parallel(1, unit, [(i,) for i in range(3)])
    assert overlapped == [True, True, True]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_unit_is_finished_when_workers_return(tmp_path, workers):
    stage.run_parallel(workers, _unit, [(i, str(tmp_path)) for i in range(9)])
    assert sorted(os.listdir(tmp_path)) == sorted(f"done-{i}" for i in range(9))


class DiskFull(Exception):
    pass


def _failing_finish(i: int, out_dir: str, bad: int) -> int:
    time.sleep(0.005)

    def done():
        if i == bad:
            raise DiskFull(f"unit {i}")
        with open(os.path.join(out_dir, f"done-{i}"), "w"):
            pass

    stage.finish(done)
    return i


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_in_a_finish_step_stops_the_run(tmp_path, workers):
    with pytest.raises(DiskFull, match="unit 3"):
        stage.run_parallel(workers, _failing_finish, [(i, str(tmp_path), 3) for i in range(40)])
    done = {int(name.split("-")[1]) for name in os.listdir(tmp_path)}
    if workers == 1:
        assert done == {0, 1, 2}
    assert 3 not in done and len(done) < 39  # the units after it were not all run
    assert stage._finisher is None  # the next run starts without a finisher


def test_the_last_unit_s_finish_error_is_raised(tmp_path):
    with pytest.raises(DiskFull, match="unit 4"):
        stage.run_parallel(1, _failing_finish, [(i, str(tmp_path), 4) for i in range(5)])
    assert sorted(os.listdir(tmp_path)) == [f"done-{i}" for i in range(4)]


def _slow_or_bad(i: int, out_dir: str) -> int:
    if i == 1:
        raise ValueError("bad input 1")
    time.sleep(0.05)
    with open(os.path.join(out_dir, f"ran-{i}"), "w"):
        pass
    return i


def test_an_error_in_a_job_stops_the_other_workers_taking_jobs(tmp_path):
    with pytest.raises(ValueError, match="bad input 1"):
        stage.run_parallel(2, _slow_or_bad, [(i, str(tmp_path)) for i in range(20)])
    assert len(os.listdir(tmp_path)) <= 3  # the jobs already running when it failed, not the 18 others


def _fails_after_a_finish(i: int, out_dir: str) -> int:
    if i == 2:
        raise ValueError("bad input 2")
    return _unit(i, out_dir)


def test_a_job_error_leaves_the_unit_before_finished(tmp_path):
    with pytest.raises(ValueError, match="bad input 2"):
        stage.run_parallel(1, _fails_after_a_finish, [(i, str(tmp_path)) for i in range(4)])
    assert sorted(os.listdir(tmp_path)) == ["done-0", "done-1"]  # a rerun skips them


def _timed(i: int, out_dir: str) -> int:
    with open(os.path.join(out_dir, f"{time.monotonic_ns():020d}-{i}"), "w"):
        pass
    time.sleep(0.1)
    return i


def test_the_costliest_jobs_start_first(tmp_path):
    costs = [3.0, 1.0, 9.0, 2.0, 7.0, 5.0]
    assert stage.run_parallel(2, _timed, [(i, str(tmp_path)) for i in range(6)], costs=costs) == list(range(6))
    started = [int(name.split("-")[1]) for name in sorted(os.listdir(tmp_path))]
    assert set(started[:2]) == {2, 4} and set(started[-2:]) == {1, 3}


def _pid_after(i: int, seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_this_process_is_one_of_the_workers():
    # N workers are this process and N - 1 forked ones: no process only waits
    pids = stage.run_parallel(3, _pid_after, [(i, 0.1) for i in range(9)])
    assert os.getpid() in pids and len(set(pids)) == 3


def _fails_in(i: int, parent: int, where: str) -> int:
    if (os.getpid() == parent) == (where == "here"):
        raise ValueError(f"bad job {where}")
    time.sleep(0.05)  # (long enough for the forked process to start before this one has run every job)
    return i


@pytest.mark.parametrize("where", ["here", "forked"])
def test_an_error_in_this_process_or_a_forked_one_stops_the_run(where):
    with pytest.raises(ValueError, match=f"bad job {where}"):
        stage.run_parallel(2, _fails_in, [(i, os.getpid(), where) for i in range(20)])


def _dies_in_a_forked_process(i: int, parent: int) -> int:
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return i


def test_a_forked_worker_that_dies_stops_the_run_with_a_clear_error():
    with pytest.raises(GeckoError, match="killed by signal 9") as caught:
        stage.run_parallel(2, _dies_in_a_forked_process, [(i, os.getpid()) for i in range(10)])
    assert "rerun the same command" in caught.value.hint


def _big(i: int) -> bytes:
    time.sleep(0.01)
    return bytes([i]) * 300_000  # more than a pipe holds


def test_large_results_come_back_from_forked_workers():
    got = stage.run_parallel(3, _big, [(i,) for i in range(12)])
    assert got == [bytes([i]) * 300_000 for i in range(12)]


def test_this_process_goes_on_while_a_forked_worker_ends(monkeypatch):
    # A forked worker that has sent its results is not waited for (its end, the freeing of its memory, takes
    # a while), and it is reaped once it has ended.
    real_exit = os._exit

    def slow_exit(code):
        time.sleep(2.0)
        real_exit(code)

    monkeypatch.setattr(os, "_exit", slow_exit)
    t0 = time.perf_counter()
    pids = stage.run_parallel(2, _pid_after, [(i, 0.05) for i in range(8)])
    assert time.perf_counter() - t0 < 1.5
    monkeypatch.setattr(os, "_exit", real_exit)
    (forked,) = set(pids) - {os.getpid()}
    deadline = time.monotonic() + 10
    while True:  # reaped by this process (a thread of it): no zombie left
        try:
            os.kill(forked, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "the forked worker was not reaped"
        time.sleep(0.05)


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("no pickling")


def _raises_where(i: int, parent: int, error: str) -> int:
    if os.getpid() != parent:
        raise _Unpicklable("cannot travel") if error == "unpicklable" else ValueError(f"bad job {i}")
    time.sleep(0.05)
    return i


def test_a_forked_worker_s_error_comes_with_its_traceback():
    with pytest.raises(ValueError, match="bad job") as caught:
        stage.run_parallel(2, _raises_where, [(i, os.getpid(), "value") for i in range(10)])
    assert isinstance(caught.value.__cause__, stage.WorkerTraceback)
    assert "_raises_where" in str(caught.value.__cause__)
    with pytest.raises(RuntimeError, match="cannot travel") as caught:
        stage.run_parallel(2, _raises_where, [(i, os.getpid(), "unpicklable") for i in range(10)])
    assert "_Unpicklable" in str(caught.value.__cause__)


def test_a_fork_that_fails_stops_the_workers_already_forked(monkeypatch, tmp_path):
    real, forks = stage._fork_worker, []

    def second_fails():
        if forks:
            raise OSError(11, "Resource temporarily unavailable")
        forks.append(real())
        return forks[-1]

    monkeypatch.setattr(stage, "_fork_worker", second_fails)
    with pytest.raises(OSError, match="temporarily unavailable"):
        stage.run_parallel(3, _slow_or_bad, [(i + 2, str(tmp_path)) for i in range(40)])
    pid = forks[0][0]
    with pytest.raises(ChildProcessError):  # already waited for
        os.waitpid(pid, os.WNOHANG)
    assert len(os.listdir(tmp_path)) <= 2  # the forked one ran at most the job it had taken
