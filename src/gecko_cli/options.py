"""Option types shared by the commands, so that each flag reads and helps the same way everywhere."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer


def choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum of the allowed values of a flag, so that the parser rejects others as a usage error."""
    return Enum(name, {v: v for v in values}, type=str)


ConfigOpt = Annotated[Optional[str], typer.Option("--config", help="TOML file with stage defaults (else gecko.toml here).")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an output written with other settings.")]
Workers = Annotated[int, typer.Option("--workers", "-w", min=1, help="Local worker processes.")]
NumHosts = Annotated[int, typer.Option("--num-hosts", min=1, help="Hosts sharing the work (each runs the same command).")]
HostIndex = Annotated[int, typer.Option("--host-index", min=0, help="This host's number, 0..num-hosts-1.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of hash functions and random choices.")]
TextField = Annotated[str, typer.Option("--text-field", help="Input field or column that holds the text.")]
OnBad = choices("OnBad", ("error", "skip"))
OnBadRecord = Annotated[OnBad, typer.Option("--on-bad-record", help="error: stop at a bad record; skip: count and drop it.")]
Exclude = Annotated[Optional[list[str]], typer.Option("--exclude", help="Glob of input files to skip (repeatable).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log detail.")]
Quiet = Annotated[int, typer.Option("--quiet", "-q", count=True, help="Less log detail.")]
