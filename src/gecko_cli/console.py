"""Where gecko writes: logs, progress and warnings to stderr; results alone to stdout.

Text goes out as it is: a result line (JSON, a summary) or an error may quote a document, and rich would read
"[b]" in it as markup (or fail on "[/b]") and ":smile:" as an emoji code. rich renders tables and progress bars
only, on its consoles `err` and `out`, made the first time they are used (importing rich takes about 20 ms,
which a command that prints JSON does without).
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger("gecko")


def __getattr__(name: str):
    if name in ("err", "out"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _console(name: str):
    """The rich console `err` (stderr) or `out` (stdout), made on first use."""
    if name not in globals():
        from rich.console import Console

        no_color = bool(os.environ.get("NO_COLOR"))
        if name == "err":
            globals()[name] = Console(stderr=True, no_color=no_color, highlight=False, soft_wrap=True)
        else:  # tables go to files and pipes as often as to terminals: room there instead of 80 columns
            globals()[name] = Console(no_color=no_color, highlight=False, soft_wrap=True,
                                      width=None if sys.stdout.isatty() else 160)
    return globals()[name]


def setup_logging(verbosity: int = 0) -> None:
    """Send gecko's log records to stderr: -q shows warnings only, -v shows debug detail."""
    level = logging.INFO - 10 * verbosity
    level = min(max(level, logging.DEBUG), logging.ERROR)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def result(renderable) -> None:
    """Print a result (a table, a line of data) to stdout: the only place gecko writes to it. A string is
    written as it is."""
    if isinstance(renderable, str):
        sys.stdout.write(renderable + "\n")
        sys.stdout.flush()
    else:
        _console("out").print(renderable)


def print_error(message: str, hint: str | None) -> None:
    """Print a user error as `error: ...`, then a blank line and `hint: ...` when there is one."""
    sys.stdout.flush()
    sys.stderr.write(f"error: {message}\n" + (f"\nhint: {hint}\n" if hint else ""))
    sys.stderr.flush()
