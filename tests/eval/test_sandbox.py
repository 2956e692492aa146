"""The sandbox contains hostile programs: each is scored as a failure and leaves the host as it was."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest

from gecko_cli.errors import ConfigError, DependencyError
from gecko_cli.eval import sandbox

needs_bwrap = pytest.mark.skipif(not sandbox.available(), reason="bubblewrap does not work here: " + sandbox.INSTALL_HINT)
BOTH = [pytest.param("bwrap", marks=needs_bwrap), "none"]


def run(source: str, sandbox_name: str = "bwrap", **kw) -> sandbox.Outcome:
    kw.setdefault("timeout_s", 10)
    return sandbox.run_program(source, sandbox=sandbox_name, **kw)


def processes_named(name: str) -> list[int]:
    """Live host processes (zombies left out) whose command name is `name`."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    head, tail = f.read().rsplit(")", 1)
                comm, state = head.split("(", 1)[1], tail.split()[0]
            except (OSError, IndexError, ValueError):
                continue
            if comm == name and state not in ("Z", "X"):
                pids.append(int(pid))
    return pids


def wait_gone(name: str, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_named(name)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize("sandbox_name", BOTH)
def test_a_plain_program_runs_to_its_end(sandbox_name):
    out = run("import math\nprint(math.factorial(5))\n", sandbox_name)
    assert (out.status, out.returncode, out.stdout_tail, out.stderr_tail) == ("ok", 0, "120\n", "")
    assert out.seconds < 5


@pytest.mark.parametrize("sandbox_name", BOTH)
@pytest.mark.parametrize("source", ["import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n", "raise SystemExit\n",
                                    "import sys\nprint('\\nok')\nsys.stdout.flush()\nimport os\nos._exit(0)\n"])
def test_exiting_before_the_end_is_a_failure(sandbox_name, source):
    assert run(source, sandbox_name).status == "failed"


@pytest.mark.parametrize("sandbox_name", BOTH)
def test_syntax_error_is_an_error(sandbox_name):
    out = run("def f(:\n    pass\n", sandbox_name)
    assert out.status == "error"
    assert "SyntaxError" in out.stderr_tail


@pytest.mark.parametrize("sandbox_name", BOTH)
def test_exception_is_a_failure_with_the_programs_traceback(sandbox_name):
    out = run("def f():\n    raise ValueError('boom')\nf()\n", sandbox_name)
    assert out.status == "failed" and out.returncode == 1
    assert out.stderr_tail.rstrip().endswith("ValueError: boom")
    assert '"<program>", line 3' in out.stderr_tail


@pytest.mark.parametrize("sandbox_name", BOTH)
def test_runs_unprivileged(sandbox_name):
    out = run("import os\nassert os.getuid() != 0 and os.geteuid() != 0 and os.getgroups() in ([], [os.getgid()])\n",
              sandbox_name)
    if os.geteuid() == 0:
        assert out.status == "ok", out.stderr_tail


@needs_bwrap
def test_write_outside_the_temp_dir_is_contained(tmp_path):
    target = tmp_path / "escaped.txt"
    out = run(f"with open({str(target)!r}, 'w') as f:\n    f.write('pwned')\n")
    assert out.status == "failed"
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


@needs_bwrap
def test_writes_to_system_dirs_fail():
    out = run("import os\nfor d in ('/usr', '/etc', '/bin', '/'):\n"
              "    try:\n        open(os.path.join(d, 'gecko-escaped'), 'w')\n    except OSError:\n        continue\n"
              "    raise SystemExit('wrote into ' + d)\nraise RuntimeError('every write refused')\n")
    assert out.status == "failed"
    assert "every write refused" in out.stderr_tail
    for d in ("/usr", "/etc", "/bin", "/"):
        assert not os.path.exists(os.path.join(d, "gecko-escaped"))


@needs_bwrap
def test_host_files_outside_the_system_dirs_are_not_visible(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    out = run(f"print(open({str(secret)!r}).read())\n")
    assert out.status == "failed"
    assert "top secret" not in out.stdout_tail
    assert "FileNotFoundError" in out.stderr_tail
    out = run(f"import os\nprint(os.path.exists({os.getcwd()!r}), sorted(os.listdir('/')))\n")
    assert out.status == "ok"
    visible = set(eval(out.stdout_tail.split(" ", 1)[1]))
    assert out.stdout_tail.startswith("False") or os.getcwd().startswith("/usr")
    assert visible <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "proc", "dev", "tmp", "root", "home",
                       "opt"}
    assert "work" not in visible


@pytest.mark.parametrize("sandbox_name", BOTH)
def test_environment_is_cleared(sandbox_name, monkeypatch):
    secret = "gecko-secret-7f3a9c"
    monkeypatch.setenv("GECKO_SANDBOX_SECRET", secret)
    scan_proc = sandbox_name == "bwrap"  # without namespaces, a non-root user may read its own processes' environ
    source = (
        "import os\nfound = [k for k, v in os.environ.items() if 'secret' in (k + v).lower()]\n"
        f"if {scan_proc}:\n"
        "    for pid in os.listdir('/proc'):\n"
        "        try:\n"
        "            if pid.isdigit() and b'gecko-secret' in open(f'/proc/{pid}/environ', 'rb').read():\n"
        "                found.append(pid)\n"
        "        except OSError:\n"
        "            pass\n"
        "print(sorted(os.environ))\nprint(found)\nassert found, 'no secret found'\n")
    out = run(source, sandbox_name)
    assert out.status == "failed"
    assert "no secret found" in out.stderr_tail
    assert secret not in out.stdout_tail
    names = eval(out.stdout_tail.splitlines()[0])
    assert set(names) <= {"PATH", "HOME", "TMPDIR", "PWD", "LC_CTYPE"}


@needs_bwrap
def test_no_network_to_a_local_server():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        out = run(f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\ns.sendall(b'hi')\n")
        probe = socket.create_connection(("127.0.0.1", port), timeout=2)  # the server itself works
        probe.close()
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert out.status == "failed"
    assert "Error" in out.stderr_tail
    assert len(accepted) == 1  # the probe's connection only


@needs_bwrap
def test_shell_command_cannot_touch_the_host(tmp_path):
    target = tmp_path / "touched"
    out = run(f"import os, subprocess\nrc = os.system('touch {target}')\n"
              f"subprocess.run(['touch', {str(target)!r}])\nassert rc == 0, 'touch failed'\n")
    assert out.status == "failed"
    assert "touch failed" in out.stderr_tail
    assert not target.exists()


@needs_bwrap
def test_fork_bomb_is_held_to_max_procs_and_cleaned_up():
    name = "geckobomb"
    assert processes_named(name) == []
    source = (f"with open('/proc/self/comm', 'w') as f:\n    f.write({name!r})\n"
              "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n")
    peak = [0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], len(processes_named(name)))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out = run(source, timeout_s=1.5, max_procs=8)
    finally:
        done.set()
        watcher.join()
    assert out.status == "timeout"
    assert 1 <= peak[0] <= 8
    assert wait_gone(name) == []
    t0 = time.perf_counter()
    assert subprocess.run(["true"]).returncode == 0  # the host still starts processes, at once
    assert time.perf_counter() - t0 < 2


@pytest.mark.parametrize("sandbox_name", BOTH)
def test_children_left_behind_are_killed(sandbox_name):
    name = "geckoleft"
    source = ("import os, time\nif os.fork() == 0:\n"
              f"    open('/proc/self/comm', 'w').write({name!r})\n    time.sleep(60)\n    os._exit(0)\n"
              "time.sleep(0.3)\n")
    out = run(source, sandbox_name)
    assert out.status == "ok", out.stderr_tail
    assert wait_gone(name) == []


@pytest.mark.parametrize("sandbox_name", BOTH)
def test_endless_loop_times_out(sandbox_name):
    out = run("while True:\n    pass\n", sandbox_name, timeout_s=0.5)
    assert out.status == "timeout" and out.returncode == -9
    assert 0.5 <= out.seconds < 3


@needs_bwrap
def test_cpu_limit_kills_a_busy_program():
    out = run("while True:\n    pass\n", timeout_s=10, cpu_s=1)
    assert out.status == "failed" and out.returncode < 0
    assert out.seconds < 5


@pytest.mark.parametrize("sandbox_name", BOTH)
def test_huge_allocation_fails(sandbox_name):
    out = run("x = bytearray(10 * 1024 ** 3)\nprint('allocated')\n", sandbox_name, memory_mb=512)
    assert out.status == "failed"
    assert "MemoryError" in out.stderr_tail and "allocated" not in out.stdout_tail


@pytest.mark.parametrize("sandbox_name", BOTH)
def test_huge_file_hits_the_file_size_limit(sandbox_name):
    source = ("written = 0\nchunk = b'x' * (1 << 20)\ntry:\n    with open('big.bin', 'wb') as f:\n"
              "        for _ in range(1024):\n            f.write(chunk)\n            f.flush()\n"
              "            written += len(chunk)\nfinally:\n    print(written)\n")
    out = run(source, sandbox_name, file_mb=8)
    assert out.status == "failed"
    assert "File too large" in out.stderr_tail
    assert int(out.stdout_tail.split()[0]) <= 8 << 20


@pytest.mark.parametrize("sandbox_name", BOTH)
def test_output_flood_is_bounded(sandbox_name):
    out = run("import sys\nline = 'y' * 1023 + '\\n'\nfor _ in range(200 * 1024):\n    sys.stdout.write(line)\n",
              sandbox_name, file_mb=4)
    assert out.status == "failed"
    assert len(out.stdout_tail) <= sandbox.TAIL_CHARS


def test_require():
    sandbox.require("none")
    with pytest.raises(ConfigError):
        sandbox.require("docker")


def test_require_bwrap_when_missing(monkeypatch):
    monkeypatch.setattr(sandbox, "available", lambda: False)
    with pytest.raises(DependencyError) as e:
        sandbox.require("bwrap")
    assert e.value.hint == "install bubblewrap (apt-get install bubblewrap) or pass --sandbox none to run without isolation"
    sandbox.require("none")
