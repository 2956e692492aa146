"""Where gecko writes: logs, progress and warnings to stderr; results alone to stdout."""

from __future__ import annotations

import logging
import os
import sys

from rich.console import Console

_NO_COLOR = bool(os.environ.get("NO_COLOR"))

# Tables go to files and pipes as often as to terminals: give them room there instead of 80 columns.
_WIDTH = None if sys.stdout.isatty() else 160
err = Console(stderr=True, no_color=_NO_COLOR, highlight=False, soft_wrap=True)
out = Console(no_color=_NO_COLOR, highlight=False, soft_wrap=True, width=_WIDTH)

log = logging.getLogger("gecko")


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
    """Print a result (a table, a line of data) to stdout: the only place gecko writes to it."""
    out.print(renderable)


def print_error(message: str, hint: str | None) -> None:
    """Print a user error as `error: ...`, then a blank line and `hint: ...` when there is one."""
    err.print(f"error: {message}", markup=False)
    if hint:
        err.print("")
        err.print(f"hint: {hint}", markup=False)
