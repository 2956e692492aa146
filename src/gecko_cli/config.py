"""Config flow shared by all stages: dataclass defaults, then a TOML file, then explicit command-line flags.

A workspace may hold `gecko.toml` with a `[paths]` table (folder names per stage) and one table per stage
(`[dedup]`, ...) of default options. `--config FILE` names another file. Explicit flags always win.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass

from gecko_cli.errors import ConfigError

WORKSPACE_FILE = "gecko.toml"
#: Default folder of each stage's output in a workspace; a stage reads the previous one's.
DEFAULT_PATHS = {"raw": "raw", "clean": "clean", "mixed": "mixed", "tokenizer": "tokenizer",
                 "packed": "packed", "runs": "runs", "results": "results", "hf": "hf"}


def load_file(path: str | None) -> dict:
    """Read a TOML config file: the given one, else `gecko.toml` in the current folder, else nothing."""
    if path is None:
        if not os.path.exists(WORKSPACE_FILE):
            return {}
        path = WORKSPACE_FILE
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist", hint="check the --config path") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: not a readable TOML file ({e})", hint="fix the file's syntax") from None


def workspace_path(file: dict, name: str) -> str:
    """The folder a workspace uses for `name` (e.g. "clean"): from [paths] in the config file, else the default."""
    paths = file.get("paths", {})
    unknown = set(paths) - set(DEFAULT_PATHS)
    if unknown:
        raise ConfigError(f"unknown key {sorted(unknown)[0]!r} in [paths]",
                          hint=f"valid keys: {', '.join(DEFAULT_PATHS)}")
    return str(paths.get(name, DEFAULT_PATHS[name]))


def merge(cls, section: str, file: dict, flags: dict, explicit: set[str]):
    """Build a stage config: defaults < the file's [section] table < explicitly given flags.

    Args:
        cls: the stage's config dataclass.
        section: its table name in the config file.
        file: the parsed config file.
        flags: every flag value the command received (defaults included).
        explicit: names of the flags given on the command line.

    Returns:
        An instance of `cls`.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    table = file.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] in the config file must be a table")
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in fields:
            raise ConfigError(f"unknown key {key!r} in [{section}] of the config file",
                              hint=f"valid keys: {', '.join(sorted(fields))}")
        nested = _nested_default(fields[name])
        if nested is not None and isinstance(value, dict):  # a table such as [balance.rules]
            values[name] = merge(type(nested), f"{section}.{key}", {f"{section}.{key}": value}, {}, set())
        else:
            values[name] = _convert(section, key, value, fields[name].type)
    for name, value in flags.items():
        if name in explicit or name not in values:
            values[name] = value
    return cls(**{k: v for k, v in values.items() if k in fields})


def _nested_default(f: dataclasses.Field):
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        return value if dataclasses.is_dataclass(value) else None
    return None


def _convert(section: str, key: str, value, annotation):
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    if isinstance(value, str) and (kind.startswith("tuple[tuple") or kind in ("float | None", "int | None")):
        return value  # written as text ("ko=0.35,en=0.28", "2GB"): the config class parses it
    try:
        if kind.startswith("tuple"):
            if isinstance(value, dict):
                return tuple(value.items())
            return tuple(value) if isinstance(value, list) else (value,)
        if kind == "bool":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if kind == "float":
            return float(value)
        if kind.startswith("str"):
            return None if value is None else str(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    raise ConfigError(f"[{section}] {key} = {value!r} is not a valid {kind}")


#: Settings that change how the work is spread, not what a stage writes: left out of fingerprints.
RUNTIME_FIELDS = ("input", "output", "workers", "num_hosts", "host_index", "phase", "overwrite", "keep_work", "dry_run")


def output_settings(cfg) -> dict:
    """The settings of a stage config that decide its output bytes (what its fingerprint covers): every field
    but the runtime ones, as JSON values; a side folder such as keep_dropped counts only as on or off."""
    d = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
    for key in RUNTIME_FIELDS:
        d.pop(key, None)
    if "keep_dropped" in d:
        d["keep_dropped"] = d["keep_dropped"] is not None
    return d


def choice(flag: str, value: str, allowed: tuple[str, ...]) -> None:
    """Reject a value outside its allowed choices (for values from a config file; flags are checked by the parser)."""
    if value not in allowed:
        raise ConfigError(f"{flag} must be one of {', '.join(allowed)}, not {value!r}")


@dataclass(frozen=True, kw_only=True)
class ShardStage:
    """Settings every shard-to-shard stage shares (dedup, balance): reading inputs, cutting output, running.

    Attributes:
        seed: seed of the stage's hashing, sampling and shuffling.
        text_field: the input field or column holding the text (inputs that are not gecko shards).
        on_bad_record: `error` stops at the first bad record; `skip` drops it and counts it.
        exclude: glob patterns of input files to leave out.
        keep_dropped: folder for dropped documents, with their reason, or None.
        shard_bytes: target text size of an output shard.
        batch_rows: records read per batch.
        workers: local worker processes.
        num_hosts, host_index: this host's slice of the work when several hosts share it.
        phase: `all`, or one phase of the stage.
        overwrite: replace an output written with other settings.
        keep_work: keep the work folder (.gecko-work/) after success.
    """

    seed: int = 0
    text_field: str = "text"
    on_bad_record: str = "error"
    exclude: tuple[str, ...] = ()
    keep_dropped: str | None = None
    shard_bytes: int = 256_000_000
    batch_rows: int = 2048
    workers: int = 1
    num_hosts: int = 1
    host_index: int = 0
    phase: str = "all"
    overwrite: bool = False
    keep_work: bool = False

    def check_stage(self, phases: tuple[str, ...], sizes: tuple[str, ...] = ()) -> None:
        """Validate the shared settings (and the named positive sizes of the stage)."""
        choice("--on-bad-record", self.on_bad_record, ("error", "skip"))
        choice("--phase", self.phase, ("all", *phases))
        for name in ("workers", "shard_bytes", "batch_rows", *sizes):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}")
        paths = [os.path.abspath(p) for p in (self.input, self.output)]
        if paths[0] == paths[1]:
            raise ConfigError("the output folder must differ from the input folder")
        if self.keep_dropped is not None and os.path.abspath(self.keep_dropped) == paths[1]:
            raise ConfigError("--keep-dropped must be another folder than the output")
