"""Config flow shared by all stages: dataclass defaults, then a TOML file, then explicit command-line flags.

A workspace may hold `gecko.toml` with a `[paths]` table (folder names per stage) and one table per stage
(`[dedup]`, ...) of default options. `--config FILE` names another file. Explicit flags always win.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass

from gecko_cli.errors import ConfigError

WORKSPACE_FILE = "gecko.toml"
#: Default folder of each stage's output in a workspace; a stage reads the previous one's.
DEFAULT_PATHS = {"raw": "raw", "clean": "clean", "mixed": "mixed", "tokenizer": "tokenizer",
                 "packed": "packed", "runs": "runs", "results": "results", "hf": "hf"}
#: The tables a config file may hold: the workspace folders, then one per stage command.
SECTIONS = ("paths", "dedup", "balance", "train-tokenizer", "pack", "pretrain", "eval")
#: Field metadata key: the config class reads a value written as text itself ("2GB", "ko=0.35,en=0.65", "off").
PARSES_TEXT = "parses_text"
#: Flags that set a config field of another name (flag parameter -> field): `build_config` renames them, and
#: messages name the flag (FLAG_NAMES: field -> flag).
RENAMED_FLAGS = {"shard_size": "shard_bytes", "rules": "apply_rules", "model_arg": "model_args", "suite": "suites"}
FLAG_NAMES = {field: "--" + flag.replace("_", "-") for flag, field in RENAMED_FLAGS.items()}
#: Settings that no flag sets: only a config file does.
FILE_ONLY = ("batch_rows", "rows_per_batch", "token_sample_bytes", "b1", "b2", "eps")


class ConfigFile(dict):
    """The tables of a parsed config file, and the file's path (None when there is no file), for messages."""

    def __init__(self, tables: dict | None = None, path: str | None = None):
        super().__init__(tables or {})
        self.path = path


def load_file(path: str | None) -> ConfigFile:
    """Read a TOML config file: the given one, else `gecko.toml` in the current folder, else nothing.

    The file's layout is checked here, before any stage reads it: only known tables, and known [paths] keys
    naming folders. The values of a stage's table are checked by `merge`.
    """
    if path is None:
        if not os.path.exists(WORKSPACE_FILE):
            return ConfigFile()
        path = WORKSPACE_FILE
    import tomllib  # imported here: most runs have no config file

    try:
        with open(path, "rb") as fh:
            file = ConfigFile(tomllib.load(fh), path)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist", hint="check the --config path") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start} cannot be decoded)",
                          hint="save the config file as UTF-8") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: not a readable TOML file ({e})", hint="fix the file's syntax") from None
    _check_layout(file)
    return file


def _check_layout(file: ConfigFile) -> None:
    """Reject a table or top-level key that no command reads, and [paths] entries that are not folder names."""
    for name, table in file.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{file.path}: {name} = {_shown(table)} is outside any table",
                              hint="put a stage's options under its table, such as [dedup]")
        if name not in SECTIONS:
            raise ConfigError(f"{file.path}: unknown table [{name}]",
                              hint=f"valid tables: {', '.join(f'[{s}]' for s in SECTIONS)}")
    for key, value in file.get("paths", {}).items():
        if key not in DEFAULT_PATHS:
            raise ConfigError(f"{file.path}: unknown key {key!r} in [paths]", hint=f"valid keys: {', '.join(DEFAULT_PATHS)}")
        if not isinstance(value, str):
            raise ConfigError(f"{file.path}: [paths] {key} = {_shown(value)} is not a string",
                              hint=f'write it like {key} = "data/{key}"')


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

    Every value is checked against its field's type first, naming the file's key or the flag that set it: the
    config class checks ranges and combinations of values that have the right type.

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
    source = getattr(file, "path", None) or "the config file"
    values = {}
    table = file.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{section}] must be a table")
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in fields:
            raise ConfigError(f"{source}: unknown key {key!r} in [{section}]",
                              hint=f"valid keys: {', '.join(sorted(fields))}")
        nested = _nested_default(fields[name])
        if nested is not None:  # a table such as [balance.rules]
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{section}] {key} = {_shown(value)} is not a table",
                                  hint=f"write its settings under a [{section}.{key}] line of their own")
            inner = ConfigFile({f"{section}.{key}": value}, getattr(file, "path", None))
            values[name] = merge(type(nested), f"{section}.{key}", inner, {}, set())
        else:
            values[name] = _from_file(source, section, key, value, fields[name])
    for name, value in flags.items():
        if name in explicit or name not in values:
            if name in fields:
                _check_flag(name, value, fields[name])
            values[name] = value
    return cls(**{k: v for k, v in values.items() if k in fields})


def _nested_default(f: dataclasses.Field):
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        return value if dataclasses.is_dataclass(value) else None
    return None


def _kind(f: dataclasses.Field) -> str:
    """A field's type as written in its class ("int", "float | None", "tuple[str, ...]")."""
    annotation = f.type
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_bool(value):
    if not isinstance(value, bool):
        raise TypeError
    return value


def _as_int(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    return value


def _as_float(value):
    if not _number(value) or not math.isfinite(value):
        raise TypeError
    return float(value)


def _as_str(value):
    if not isinstance(value, str):
        raise TypeError
    return value


def _as_strings(value):
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise TypeError
    return tuple(items)


def _as_shares(value):
    if not isinstance(value, dict) or not value:
        raise TypeError
    return tuple((name, _as_float(share)) for name, share in value.items())


#: Per field type (without `| None`): how a config-file value becomes one, what it must be, and an example.
_CONVERTERS = {
    "bool": (_as_bool, "true or false", "true"),
    "int": (_as_int, "a whole number", "4"),
    "float": (_as_float, "a finite number", "0.5"),
    "str": (_as_str, "a string", '"text"'),
    "tuple[str, ...]": (_as_strings, "a list of strings", '["a", "b"]'),
    "tuple[tuple[str, float], ...]": (_as_shares, "a table of finite numbers", "{ko = 0.35, en = 0.28, code = 0.37}"),
}


def _from_file(source: str, section: str, key: str, value, f: dataclasses.Field):
    """A config-file value as its field's type; a ConfigError naming the file, the key and the type otherwise."""
    if isinstance(value, str) and f.metadata.get(PARSES_TEXT):
        return value  # written as text ("ko=0.35,en=0.28", "2GB", "off"): the config class parses it
    converter = _CONVERTERS.get(_kind(f).removesuffix(" | None"))
    if converter is None:
        return value
    convert, expected, example = converter
    try:
        return convert(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: [{section}] {key} = {_shown(value)} is not {expected}",
                          hint=f"write it like {key} = {example}") from None


def _check_flag(name: str, value, f: dataclasses.Field) -> None:
    """Reject a flag value no config class can use: NaN or an infinity for a number."""
    if _kind(f).removesuffix(" | None") == "float" and _number(value) and not math.isfinite(value):
        raise ConfigError(f"{option_name(name)} must be a finite number, not {value}",
                          hint="NaN and infinities are not settings; give a number")


def _shown(value) -> str:
    """A config-file value about as TOML writes it, shortened."""
    if isinstance(value, bool):
        text = str(value).lower()
    else:
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def option_name(name: str) -> str:
    """How a user sets a config field, for messages: its flag (`--shard-size` sets shard_bytes), or for a
    setting that only a config file sets, its key there."""
    if name in FILE_ONLY:
        return f"{name} in the config file"
    return FLAG_NAMES.get(name, "--" + name.replace("_", "-"))


def check_apart(source: str, output: str, what: str = "output folder") -> None:
    """Refuse an output folder that is the input, lies inside it or holds it. The same folder would have its input
    deleted by --overwrite; inside the input, a rerun would read the stage's own shards as documents; an input
    inside the output would be read again, with the output's shards, by the next stage."""
    src, dst = os.path.realpath(source), os.path.realpath(output)
    hint = f"choose an {what} outside the input, e.g. a sibling folder"
    if dst == src:
        raise ConfigError(f"the {what} {output} is the input {source} itself", hint=hint)
    if dst.startswith(src.rstrip(os.sep) + os.sep):
        raise ConfigError(f"the {what} {output} is inside the input folder {source}", hint=hint)
    if src.startswith(dst.rstrip(os.sep) + os.sep):
        raise ConfigError(f"the input {source} is inside the {what} {output}", hint=hint)


def at_least(cfg, least: int, names: tuple[str, ...]) -> None:
    """Reject a setting of `cfg` below `least`, naming it as the user sets it."""
    for name in names:
        value = getattr(cfg, name)
        if value < least:
            bound = "0 or more" if least == 0 else f"at least {least}"
            hint = (f"set {name} to {least} or more in the config file" if name in FILE_ONLY
                    else f"give {option_name(name)} a value of {least} or more")
            raise ConfigError(f"{option_name(name)} must be {bound}, not {value}", hint=hint)


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
        at_least(self, 1, ("workers", "shard_bytes", "batch_rows", *sizes))
        check_apart(self.input, self.output)
        if self.keep_dropped is not None:
            check_apart(self.input, self.keep_dropped, "--keep-dropped folder")
            if os.path.abspath(self.keep_dropped) == os.path.abspath(self.output):
                raise ConfigError("--keep-dropped must be another folder than the output")
