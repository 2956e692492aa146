"""The `gecko` command: registers the stage commands and holds the only error boundary.

This module and the `cli.py` of each stage leave out `from __future__ import annotations`: typer builds every
command's options from their annotations at each start, and with strings it would evaluate (compile) each of
them again, about 20 ms of every command.
"""

import errno
import functools
import importlib
import os
import sys
import traceback

import typer

from gecko_cli import __version__
from gecko_cli.console import print_error, setup_logging
from gecko_cli.errors import EXIT_USER, DataError, GeckoError

#: Every command, in the order `gecko --help` lists them: name -> (module, function).
COMMANDS = {
    "dedup": ("gecko_cli.dedup.cli", "dedup"),
    "balance": ("gecko_cli.balance.cli", "balance"),
    "train-tokenizer": ("gecko_cli.tokenizer.cli", "train_tokenizer"),
    "pack": ("gecko_cli.pack.cli", "pack"),
    "pretrain": ("gecko_cli.pretrain.cli", "pretrain"),
    "eval": ("gecko_cli.eval.cli", "eval_"),
    "tokenizer-report": ("gecko_cli.tokenizer.cli", "tokenizer_report"),
    "inspect": ("gecko_cli.inspection.cli", "inspect"),
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gecko {__version__}")
        raise typer.Exit()


def _root(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log detail (repeatable)."),
    quiet: int = typer.Option(0, "--quiet", "-q", count=True, help="Less log detail (repeatable)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    setup_logging(verbose - quiet)


def make_app(names=tuple(COMMANDS)) -> typer.Typer:
    """The `gecko` app with these of its commands: a command imports its stage's modules, and typer reads the
    options of every command it has at each start, so a run of one command registers that one only."""
    made = typer.Typer(
        name="gecko",
        help="Train a bilingual Korean-English-code language model from raw text: dedup, balance, "
        "train-tokenizer, pack, pretrain, eval, export.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        add_completion=False,
        rich_markup_mode=None,
    )
    made.callback()(_root)
    for name in names:
        module, function = COMMANDS[name]
        command = getattr(importlib.import_module(module), function)
        made.command(name=name, help=command.__doc__)(error_boundary(command))
    return made


@functools.cache
def _app() -> typer.Typer:
    return make_app()


def __getattr__(name: str):
    if name == "app":  # `from gecko_cli.cli import app`: every command, made on first use
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_config(ctx: typer.Context, cls, section: str, paths: dict[str, str], overrides: dict | None = None):
    """Turn a command's flags into its stage config: defaults < config file (--config) < explicit flags.

    Args:
        ctx: the command's context: its flags, and which were given on the command line.
        cls: the stage's config dataclass.
        section: its table in the config file.
        paths: path flag -> workspace folder name; a path flag left out takes the folder from gecko.toml
            [paths], else that name.
        overrides: flag values the command computed itself (parsed sizes, split lists).
    """
    from gecko_cli.config import RENAMED_FLAGS, load_file, merge, workspace_path
    from gecko_cli.startup import resume_collection
    from gecko_cli.units import parse_bytes

    resume_collection()  # the command's modules are loaded: its work begins (startup.py)

    flags = {k: getattr(v, "value", v) for k, v in ctx.params.items() if k not in ("config", "json_out")}
    if "exclude" in flags:
        flags["exclude"] = tuple(flags["exclude"] or ())
    if "shard_size" in flags:
        flags["shard_size"] = parse_bytes(flags["shard_size"], "--shard-size")
    for flag, name in RENAMED_FLAGS.items():
        if flag in flags:
            flags[name] = flags.pop(flag)
    flags.update(overrides or {})
    file = load_file(ctx.params.get("config"))
    explicit = {name for name in ctx.params if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"}
    explicit |= {name for flag, name in RENAMED_FLAGS.items() if flag in explicit}
    for key, workspace_name in paths.items():
        if flags.get(key) is None:
            flags[key] = workspace_path(file, workspace_name)
            explicit.discard(key)
    return merge(cls, section, file, flags, explicit)


def input_path(path: str, made_by: str | None) -> None:
    """Fail clearly when a stage's input folder is missing, naming the stage that makes it."""
    if os.path.exists(path):
        return
    if made_by:
        hint = f"run `gecko {made_by}` first, or pass the input folder"
    else:
        hint = "put the input documents there, or pass the input folder"
    raise DataError(f"{path} not found", hint=hint)


_OS_USER_ERRORS = (errno.EACCES, errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.ENAMETOOLONG, errno.EISDIR,
                   errno.EEXIST, errno.ENOTDIR)


def error_boundary(command):
    """Wrap a command so that a user's mistake prints `error: ...` and a hint and exits 1, with no traceback.

    Usage errors (unknown flags, bad values) are the argument parser's: it prints usage and exits 2. Any
    other exception is a bug in gecko and keeps its traceback.
    """

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except GeckoError as e:
            if os.environ.get("GECKO_DEBUG"):
                traceback.print_exc()
            print_error(e.message, e.hint)
            raise SystemExit(EXIT_USER) from None
        except OSError as e:
            if e.errno not in _OS_USER_ERRORS:
                raise
            print_error(f"{e.filename or 'a file'}: {e.strerror}", "check the path, permissions and free space, then rerun")
            raise SystemExit(EXIT_USER) from None
        except KeyboardInterrupt:
            print_error("interrupted", "run the same command again: it resumes where it stopped")
            raise SystemExit(130) from None

    return run


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `gecko` script; `argv` given (a program calling the CLI) leaves the process as it is."""
    if argv is not None:
        _app()(args=argv, prog_name="gecko")
        return
    from gecko_cli import startup

    startup.skip_pandas()
    startup.use_system_allocator_for_arrow()
    startup.single_thread_blas()
    startup.tune_malloc()
    startup.defer_collection()  # until build_config
    args = sys.argv[1:]
    try:  # `gecko CMD ...` needs CMD only; help, version and mistakes get every command
        make_app((args[0],) if args and args[0] in COMMANDS else tuple(COMMANDS))(args=args, prog_name="gecko")
    finally:
        startup.freeze_for_exit()


def script() -> None:
    """The `gecko` script: `main()`, then the end of the process without the interpreter's teardown where
    nothing needs it (startup.leave)."""
    from gecko_cli.startup import leave

    try:
        main()
    except SystemExit as e:
        leave(e.code)
    leave(0)
