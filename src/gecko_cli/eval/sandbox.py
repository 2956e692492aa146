"""Running untrusted Python programs (model-written code) in a separate, confined process.

`run_program(source, ...)` starts `python3 -I -S -B -c <bootstrap>` and sends it a random nonce and the source on
standard input. The bootstrap sets the resource limits (RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NPROC; hard and
soft alike, so the program cannot raise them), compiles the source and runs it as `__main__`. Only when the program
runs to its end does the bootstrap print the nonce: so `sys.exit(0)` or `os._exit(0)` halfway through is a failure,
not a pass, and a syntax error is told apart from a failing program.

With `sandbox="bwrap"` the interpreter runs under bubblewrap:
- every namespace unshared (`--unshare-all`, plus `--unshare-user --disable-userns` where the system allows it);
  at least the network, pid and ipc namespaces where it does not: no network, and no view of the host's processes;
- a new root holding read-only binds of /usr (and /bin, /lib... as links or binds), the few files of /etc that the
  dynamic loader and `time` read, and the interpreter's own installation (`sys.base_prefix`) when it lies outside
  /usr; a fresh /proc and /dev; a private, size-limited tmpfs at /tmp as the working and home directory;
- a cleared environment: PATH, HOME and TMPDIR only;
- `--new-session` and `--die-with-parent`: killing bubblewrap's process group ends the whole pid namespace.

Run as root, the sandbox process first drops to the unprivileged `nobody` user, with no supplementary groups: root
ignores RLIMIT_NPROC, and `nobody` owns no files. Inside a user namespace, RLIMIT_NPROC counts the processes of that
one sandbox (bubblewrap's own init among them).

`sandbox="none"` runs the same bootstrap, limits, cleared environment and user with no namespaces, in a temporary
directory: a program can then read what the user may read, reach the network, and leave processes that escape its
process group. The caller warns about it.

Memory is limited per process: a program may use up to `max_procs * memory_mb`. Programs' standard output and error
go to unlinked temporary files, so RLIMIT_FSIZE bounds them too.
"""

from __future__ import annotations

import functools
import os
import pwd
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from gecko_cli.errors import ConfigError, DependencyError

SANDBOXES = ("bwrap", "none")
# ok: ran to its end; failed: raised, exited early or was killed by a limit; timeout: the wall clock ran out;
# error: could not be compiled (syntax error), or the sandbox could not start
STATUSES = ("ok", "failed", "timeout", "error")
INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap) or pass --sandbox none to run without isolation"

DEFAULT_MEMORY_MB = 1024
DEFAULT_FILE_MB = 16
DEFAULT_MAX_PROCS = 8
TAIL_CHARS = 2000
_SANDBOX_TMP = "/tmp"
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/alternatives")
_TOP_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Namespace options from the strictest to the least: the first whose probe runs is used.
_PROFILES = (
    ("--unshare-all", "--unshare-user", "--disable-userns"),
    ("--unshare-all",),
    ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"),
)

# Runs inside the sandbox as `python -I -S -B -c _BOOTSTRAP AS_BYTES CPU_S FSIZE_BYTES NPROC`. Stdin holds the
# nonce, a newline, then the program's source (UTF-8). Kept free of module-level names the program could find easily.
_BOOTSTRAP = r"""
def _gecko_run():
    import os, resource, sys
    limits = [int(v) for v in sys.argv[1:5]]
    for res, value in zip((resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_NPROC),
                          limits):
        resource.setrlimit(res, (value, value))
    data = sys.stdin.buffer.read()
    nonce, _, source = data.partition(b"\n")
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    sys.argv = [""]
    try:
        code = compile(source, "<program>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        import traceback
        traceback.print_exception(e, limit=0)
        sys.stderr.flush()
        os.write(1, b"\n" + nonce + b" error\n")
        os._exit(1)
    scope = {"__name__": "__main__", "__builtins__": __builtins__}
    del data, source

    def flush():
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except BaseException:
                pass

    try:
        exec(code, scope)
    except SystemExit as e:
        flush()
        sys.__stderr__.write("SystemExit: %r (the program exited before its end)\n" % (e.code,))
        flush()
        os._exit(1)
    except BaseException as e:
        flush()
        import traceback
        traceback.print_exception(type(e), e, e.__traceback__.tb_next, file=sys.__stderr__)
        flush()
        os._exit(1)
    flush()
    os.write(1, b"\n" + nonce + b" ok\n")
    os._exit(0)
_gecko_run()
"""


@dataclass(frozen=True)
class Outcome:
    status: str          # one of STATUSES
    returncode: int      # the exit status; negative: killed by that signal (-9 after a timeout)
    stdout_tail: str     # the last TAIL_CHARS characters of standard output (without the bootstrap's marker)
    stderr_tail: str     # the last TAIL_CHARS characters of standard error
    seconds: float       # wall time


@dataclass(frozen=True)
class Interpreter:
    path: str                    # the interpreter run in the sandbox (a real file, not a venv link)
    prefixes: tuple[str, ...]    # its sys.base_prefix and sys.base_exec_prefix
    version: str


def _sandbox_ids() -> tuple[int, int] | None:
    """(uid, gid) to run programs as: `nobody` when running as root, else None (the current user)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def _user_kwargs() -> dict:
    ids = _sandbox_ids()
    return {} if ids is None else {"user": ids[0], "group": ids[1], "extra_groups": []}


def _clean_env(home: str) -> dict:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home}


@functools.cache
def interpreter() -> Interpreter | None:
    """The Python run in the sandbox: the base interpreter of the running one (not its venv: programs need only the
    standard library), else the system's python3; the first one the sandbox user can run."""
    candidates = [getattr(sys, "_base_executable", None), sys.executable, "/usr/bin/python3", "/usr/local/bin/python3",
                  shutil.which("python3")]
    seen = set()
    probe = "import sys; print(sys.base_prefix); print(sys.base_exec_prefix); print(sys.version.split()[0]); " \
            "print(sys.version_info >= (3, 8))"
    for cand in candidates:
        if not cand or not os.path.exists(cand):
            continue
        path = os.path.realpath(cand)
        if path in seen:
            continue
        seen.add(path)
        try:
            res = subprocess.run([path, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=30, cwd="/",
                                 env=_clean_env("/"), **_user_kwargs())
        except (OSError, subprocess.SubprocessError):
            continue
        lines = res.stdout.split("\n")
        if res.returncode == 0 and len(lines) >= 4 and lines[3] == "True":
            prefixes = tuple(dict.fromkeys(os.path.realpath(p) for p in lines[:2]))
            return Interpreter(path, prefixes, lines[2])
    return None


def _binds(interp: Interpreter) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in _TOP_DIRS:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for path in _ETC_FILES:
        args += ["--ro-bind-try", path, path]
    extra = [p for p in (*interp.prefixes, os.path.dirname(interp.path)) if not _under_system(p)]
    for path in sorted(set(extra)):
        if not any(path != other and path.startswith(other.rstrip("/") + "/") for other in extra):
            args += ["--ro-bind", path, path]
    return args


def _under_system(path: str) -> bool:
    return path == "/usr" or path.startswith("/usr/") or any(path == t or path.startswith(t + "/") for t in _TOP_DIRS)


def _bwrap_argv(profile: tuple[str, ...], interp: Interpreter, tmpfs_bytes: int | None) -> list[str]:
    size = ["--size", str(tmpfs_bytes)] if tmpfs_bytes else []
    return ["bwrap", *profile, "--die-with-parent", "--new-session", *_binds(interp),
            "--proc", "/proc", "--dev", "/dev", *size, "--tmpfs", _SANDBOX_TMP, "--remount-ro", "/", "--chdir", _SANDBOX_TMP,
            "--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", _SANDBOX_TMP,
            "--setenv", "TMPDIR", _SANDBOX_TMP, "--"]


@functools.cache
def _bwrap_setup() -> tuple[tuple[str, ...], bool] | None:
    """The namespace profile and whether `--size` works, from the first probe (`bwrap ... python -c pass`) that runs."""
    interp = interpreter()
    if shutil.which("bwrap") is None or interp is None:
        return None
    for profile in _PROFILES:
        for sized in (True, False):
            argv = _bwrap_argv(profile, interp, 64 << 20 if sized else None) + [interp.path, "-I", "-S", "-c", "pass"]
            try:
                res = subprocess.run(argv, capture_output=True, timeout=30, cwd="/", env=_clean_env("/"), **_user_kwargs())
            except (OSError, subprocess.SubprocessError):
                continue
            if res.returncode == 0:
                return profile, sized
    return None


def available() -> bool:
    """Whether bubblewrap is installed and can start a confined interpreter here (probed once, then cached)."""
    return _bwrap_setup() is not None


def require(sandbox: str) -> None:
    """Raise unless `sandbox` can be used: DependencyError when bubblewrap is asked for and does not work here."""
    if sandbox not in SANDBOXES:
        raise ConfigError(f"unknown sandbox {sandbox!r}", hint=f"use one of: {', '.join(SANDBOXES)}")
    if interpreter() is None:
        raise DependencyError("no Python interpreter that the sandbox user can run was found",
                              hint="install python3 (apt-get install python3)")
    if sandbox == "bwrap" and not available():
        raise DependencyError("bubblewrap (bwrap) is not installed or cannot create a sandbox here", hint=INSTALL_HINT)


def _tail(data: bytes) -> str:
    return data[-4 * TAIL_CHARS:].decode("utf-8", errors="replace")[-TAIL_CHARS:]


def _read_tail(f) -> bytes:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - 8 * TAIL_CHARS))
    return f.read()


def _feed_and_wait(proc: subprocess.Popen, payload: bytes, timeout_s: float) -> bool:
    """Write `payload` to the program's stdin and wait for it to exit, `timeout_s` at most; True when it timed out.

    The process is left unreaped (a zombie, through a pidfd), so its process group id cannot be reused before the
    caller kills the group."""
    deadline = time.monotonic() + timeout_s
    pidfd = os.pidfd_open(proc.pid)
    os.set_blocking(proc.stdin.fileno(), False)
    view = memoryview(payload)
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(pidfd, selectors.EVENT_READ)
            if view:
                sel.register(proc.stdin, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                for key, _ in sel.select(left):
                    if key.fd == pidfd:
                        return False
                    try:
                        view = view[os.write(proc.stdin.fileno(), view[:1 << 16]):]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        view = view[:0]
                    if not view:
                        sel.unregister(proc.stdin)
                        proc.stdin.close()
    finally:
        os.close(pidfd)
        if not proc.stdin.closed:
            proc.stdin.close()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_program(source: str, *, timeout_s: float, memory_mb: int = DEFAULT_MEMORY_MB, cpu_s: float | None = None,
                file_mb: int = DEFAULT_FILE_MB, max_procs: int = DEFAULT_MAX_PROCS, sandbox: str = "bwrap") -> Outcome:
    """Run `source` as a Python program in its own confined process; see the module docstring.

    `cpu_s` defaults to the wall-clock timeout plus one second. When the wall clock runs out, the process group is
    killed (and with it, under bubblewrap, the whole pid namespace): status "timeout".
    """
    require(sandbox)
    interp = interpreter()
    cpu = max(1, int(-(-(timeout_s + 1 if cpu_s is None else cpu_s) // 1)))
    limits = [str(memory_mb << 20), str(cpu), str(file_mb << 20), str(max_procs)]
    nonce = secrets.token_hex(16).encode()
    payload = nonce + b"\n" + source.encode("utf-8", errors="surrogateescape")
    workdir = None
    if sandbox == "bwrap":
        profile, sized = _bwrap_setup()
        prefix = _bwrap_argv(profile, interp, (4 * file_mb + 16) << 20 if sized else None)
        cwd, env = "/", _clean_env("/")
    else:
        prefix = []
        workdir = tempfile.mkdtemp(prefix="gecko-sandbox-")
        ids = _sandbox_ids()
        if ids is not None:
            os.chown(workdir, *ids)
        cwd, env = workdir, _clean_env(workdir)
    argv = prefix + [interp.path, "-I", "-S", "-B", "-c", _BOOTSTRAP, *limits]
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=cwd, env=env,
                                    start_new_session=True, close_fds=True, **_user_kwargs())
            try:
                timed_out = _feed_and_wait(proc, payload, timeout_s)
            finally:
                _kill_group(proc)  # also whatever the program left behind in its group
                proc.wait()
            seconds = time.perf_counter() - t0
            stdout, stderr = _read_tail(out), _read_tail(err)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    rc = proc.returncode
    if sandbox == "bwrap" and 128 < rc < 128 + signal.NSIG:
        rc = 128 - rc  # bubblewrap reports a child killed by signal N as 128 + N, as shells do
    marker = b"\n" + nonce + b" "
    mark = None
    cut = stdout.rfind(marker)
    if cut >= 0 and stdout.endswith(b"\n") and stdout.count(b"\n", cut + 1) == 1:
        mark = stdout[cut + len(marker):-1]
        stdout = stdout[:cut]
    if timed_out:
        status = "timeout"
    elif mark == b"ok" and rc == 0:
        status = "ok"
    elif mark == b"error" or (sandbox == "bwrap" and mark is None and stderr.startswith(b"bwrap: ")):
        status = "error"
    else:
        status = "failed"
    return Outcome(status, rc, _tail(stdout), _tail(stderr), seconds)
