"""The `gecko` script keeps pandas out of its process: pyarrow would otherwise import it on its first array."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

import gecko_cli
from gecko_cli import startup

_PROBE = (
    "import sys\n"
    "from gecko_cli.startup import skip_pandas\n"
    "applied = skip_pandas() if sys.argv[1] == 'skip' else False\n"
    "import numpy as np, pyarrow as pa\n"
    "pa.array(np.zeros(3)); pa.array(['a', 'b'])\n"
    "print(applied, 'pandas' in sys.modules)\n"
)


def _probe(mode: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return out.stdout.strip()


def test_script_process_builds_arrays_without_pandas():
    assert _probe("skip") == "True False"


def test_without_the_setting_pyarrow_loads_pandas_when_installed():
    installed = importlib.util.find_spec("pandas") is not None
    assert _probe("leave") == f"False {installed}"


def test_opt_out_leaves_imports_alone():
    installed = importlib.util.find_spec("pandas") is not None
    assert _probe("skip", **{startup.ALLOW_PANDAS: "1"}) == f"False {installed}"


def test_already_loaded_pandas_is_left_alone(monkeypatch):
    monkeypatch.delenv(startup.ALLOW_PANDAS, raising=False)
    monkeypatch.setitem(sys.modules, "pandas", object())
    assert startup.skip_pandas() is False
    assert not any(isinstance(f, startup._Unimportable) for f in sys.meta_path)


def test_blocked_import_names_the_module_and_the_opt_out():
    finder = startup._Unimportable("pandas")
    with pytest.raises(ModuleNotFoundError, match=startup.ALLOW_PANDAS):
        finder.find_spec("pandas.core.api")
    assert finder.find_spec("pandasx") is None and finder.find_spec("numpy") is None


def test_gecko_script_runs_a_command_without_pandas(tmp_path):
    # The installed entry point (argv from the command line) applies the setting; a real command still works.
    code = ("import sys\n"
            "from gecko_cli.cli import main\n"
            "sys.argv = ['gecko', '--version']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "import pyarrow as pa; pa.array([1])\n"
            "print('pandas' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k != startup.ALLOW_PANDAS})
    assert out.stdout.strip().splitlines()[-1] == "False"


_POOL_PROBE = (
    "import sys\n"
    "from gecko_cli.startup import use_system_allocator_for_arrow\n"
    "applied = use_system_allocator_for_arrow()\n"
    "import pyarrow as pa\n"
    "print(applied, pa.default_memory_pool().backend_name)\n"
)


def _pool_probe(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != startup.ARROW_POOL}
    out = subprocess.run([sys.executable, "-c", _POOL_PROBE], capture_output=True, text=True, check=True,
                         env={**base, **env})
    return out.stdout.strip()


def test_script_process_gives_arrow_the_system_allocator():
    assert _pool_probe() == "True system"


def test_a_pool_chosen_by_the_user_is_kept():
    import pyarrow as pa

    backends = {"mimalloc": pa.mimalloc_memory_pool, "jemalloc": pa.jemalloc_memory_pool}
    chosen = next(name for name, make in backends.items() if _available(make))
    assert _pool_probe(**{startup.ARROW_POOL: chosen}) == f"False {chosen}"


def _available(make) -> bool:
    try:
        make()
    except NotImplementedError:
        return False
    return True


def test_too_late_once_pyarrow_is_loaded(monkeypatch):
    import pyarrow  # noqa: F401  (the pool of this process is already chosen)

    monkeypatch.delenv(startup.ARROW_POOL, raising=False)
    assert startup.use_system_allocator_for_arrow() is False
    assert startup.ARROW_POOL not in os.environ


def test_gecko_script_runs_a_command_with_the_system_pool():
    code = ("import sys\n"
            "from gecko_cli.cli import main\n"
            "sys.argv = ['gecko', '--version']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "import pyarrow as pa\n"
            "print(pa.default_memory_pool().backend_name)\n")
    env = {k: v for k, v in os.environ.items() if k != startup.ARROW_POOL}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "system"


_FREEZE_PROBE = (
    "import atexit, gc, sys\n"
    "from gecko_cli.cli import main\n"
    "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
    "sys.argv = ['gecko', '--version']\n"
    "try:\n    main({argv})\nexcept SystemExit:\n    pass\n"
)


def _freeze_probe(mode: str) -> list[str]:
    code = _FREEZE_PROBE.format(argv="" if mode == "script" else "['--version']")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()


def test_script_freezes_the_collector_once_its_command_is_done():
    # The teardown then skips collecting every object still alive; the command's output comes first, intact.
    assert _freeze_probe("script") == [f"gecko {gecko_cli.__version__}", "frozen at exit: True"]


def test_library_call_leaves_the_collector_alone():
    assert _freeze_probe("library") == [f"gecko {gecko_cli.__version__}", "frozen at exit: False"]


def test_script_freezes_the_collector_after_a_failed_command_too(tmp_path):
    code = ("import atexit, gc, sys\n"
            "from gecko_cli.cli import main\n"
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
            f"sys.argv = ['gecko', 'balance', {str(tmp_path / 'missing')!r}, {str(tmp_path / 'out')!r}]\n"
            "main()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 1 and "not found" in out.stderr
    assert out.stdout.strip() == "frozen at exit: True"


_EXIT_PROBE = (
    "import atexit, os, sys, threading, time\n"
    "from gecko_cli.cli import script\n"
    "real_exit = os._exit\n"
    "def fast_exit(status):\n"
    "    os.write(2, b'os._exit(%d)\\n' % status)\n"
    "    real_exit(status)\n"
    "os._exit = fast_exit\n"
    "atexit.register(lambda: print('atexit ran'))\n"
    "print('x' * 200_000)  # buffered in a pipe: flushed before the process ends\n"
    "if {thread}:\n"
    "    threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start()\n"
    "sys.argv = ['gecko', *{argv!r}]\n"
    "script()\n"
)


def _exit_probe(argv: list[str], thread: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _EXIT_PROBE.format(argv=argv, thread=thread)],
                          capture_output=True, text=True)


def test_script_ends_without_the_teardown_after_its_atexit_functions_and_output():
    done = _exit_probe(["--version"])
    lines = done.stdout.splitlines()
    assert done.returncode == 0
    assert lines == ["x" * 200_000, f"gecko {gecko_cli.__version__}", "atexit ran"]
    assert done.stderr == "os._exit(0)\n"  # the interpreter's teardown did not run


def test_script_keeps_the_exit_status_of_errors_and_usage_errors(tmp_path):
    failed = _exit_probe(["balance", str(tmp_path / "missing"), str(tmp_path / "out")])
    assert failed.returncode == 1 and "not found" in failed.stderr and "Traceback" not in failed.stderr
    assert failed.stdout.splitlines()[-1] == "atexit ran" and failed.stderr.endswith("os._exit(1)\n")
    usage = _exit_probe(["balance", "--no-such-option"])
    assert usage.returncode == 2 and "No such option" in usage.stderr
    assert usage.stdout.splitlines()[-1] == "atexit ran" and usage.stderr.endswith("os._exit(2)\n")


def test_script_waits_for_a_thread_still_running_through_the_normal_end():
    done = _exit_probe(["--version"], thread=True)
    assert done.returncode == 0
    assert done.stdout.splitlines()[-2:] == ["thread done", "atexit ran"]  # threads are joined before atexit
    assert "os._exit" not in done.stderr


def test_leave_reports_a_message_as_system_exit_does():
    code = "from gecko_cli.startup import leave\nleave('stopped: see above')\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr == "stopped: see above\n"


_MALLOC_PROBE = (
    "import ctypes, os\n"
    "from gecko_cli.startup import tune_malloc\n"
    "print(tune_malloc())\n"
)


def _malloc_probe(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _MALLOC_PROBE], capture_output=True, text=True, check=True,
                         env={**base, **env})
    return out.stdout.strip()


@pytest.mark.skipif(not startup._glibc(), reason="mallopt is glibc's")
def test_script_sets_malloc_thresholds_unless_the_environment_does():
    assert _malloc_probe() == "True"
    assert _malloc_probe(MALLOC_TRIM_THRESHOLD_="131072") == "False"
    assert _malloc_probe(MALLOC_MMAP_THRESHOLD_="131072") == "False"


@pytest.mark.skipif(not startup._glibc(), reason="mallopt is glibc's")
def test_memory_freed_together_is_used_again_without_new_pages():
    # What the thresholds are for: a batch's temporaries of a few MB each, freed together, leave free memory at
    # the top of the heap; glibc's default trim threshold hands it back to the kernel, which zeroes new pages for
    # the next batch. The script's keeps it.
    code = ("import resource, numpy as np\n"
            "from gecko_cli.startup import tune_malloc\n"
            "if {tune}: tune_malloc()\n"
            "faults = []\n"
            "for batch in range(6):\n"
            "    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "    temporaries = [np.ones(4 << 20, np.uint8) for _ in range(12)]\n"
            "    del temporaries\n"
            "    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
            "print(sum(faults[1:]))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    tuned, default = (int(subprocess.run([sys.executable, "-c", code.format(tune=t)], capture_output=True, text=True,
                                         check=True, env=env).stdout) for t in (True, False))
    assert default > 10 * tuned  # (48 MB faulted in again for each batch: 30,000 faults in 5 batches here)


_BLAS_PROBE = (
    "import os\n"
    "from gecko_cli.startup import single_thread_blas\n"
    "applied = single_thread_blas()\n"
    "import numpy\n"
    "print(applied, os.environ.get('OPENBLAS_NUM_THREADS'), len(os.listdir('/proc/self/task')))\n"
)


def _blas_probe(**env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in startup._BLAS_VARIABLES}
    out = subprocess.run([sys.executable, "-c", _BLAS_PROBE], capture_output=True, text=True, check=True,
                         env={**base, **env})
    return out.stdout.split()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="threads counted in /proc")
def test_script_process_imports_numpy_without_blas_threads():
    # (without the setting, OpenBLAS starts a thread per core beside the main one)
    assert _blas_probe() == ["True", "1", "1"]


def test_blas_threads_chosen_by_the_user_are_kept():
    for name in startup._BLAS_VARIABLES:
        applied, value, _ = _blas_probe(**{name: "2"})
        assert applied == "False" and value == ("2" if name == "OPENBLAS_NUM_THREADS" else "None")


def test_too_late_for_blas_once_numpy_is_loaded(monkeypatch):
    import numpy  # noqa: F401

    for name in startup._BLAS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert startup.single_thread_blas() is False
    assert "OPENBLAS_NUM_THREADS" not in os.environ


def test_collection_deferred_then_resumed_with_the_objects_alive_frozen():
    import gc

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    try:
        startup.resume_collection()  # nothing deferred: nothing to do
        assert gc.get_threshold() == before and gc.get_freeze_count() == frozen
        startup.defer_collection()
        startup.defer_collection()  # (once)
        assert gc.get_threshold() == (startup.START_THRESHOLD, *before[1:])
        kept = [[] for _ in range(1000)]  # objects made while deferred, alive when resumed
        startup.resume_collection()
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() >= frozen + len(kept)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        startup._thresholds = None


_COLLECTOR_PROBE = (
    "import gc, sys\n"
    "from gecko_cli import cli, startup\n"
    "def config(*args, **kwargs):\n"  # what the command sees when its work begins
    "    print('at config:', gc.get_threshold()[0], gc.get_freeze_count() > 0)\n"
    "    return build(*args, **kwargs)\n"
    "build, cli.build_config = cli.build_config, config\n"
    "sys.argv = ['gecko', 'balance', sys.argv[1], sys.argv[2], '--dry-run']\n"
    "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
    "print('after:', gc.get_threshold()[0])\n"
)


def test_script_defers_collection_until_its_command_reads_its_config(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "docs.jsonl").write_text('{"text": "안녕하세요 반갑습니다", "lang": "ko"}\n', encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", _COLLECTOR_PROBE, str(tmp_path / "in"), str(tmp_path / "out")],
                         capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith(("at config:", "after:"))]
    assert lines == [f"at config: {startup.START_THRESHOLD} False", "after: 700"], out.stdout + out.stderr
