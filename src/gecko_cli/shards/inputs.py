"""Finding the input files of a stage: formats, ordering, exclusion and per-host slicing."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass

from gecko_cli.errors import ConfigError, DataError

#: File suffix -> format name. Longest suffixes are tried first.
FORMATS = {
    ".jsonl.zst": "jsonl.zst",
    ".jsonl.gz": "jsonl.gz",
    ".jsonl": "jsonl",
    ".parquet": "parquet",
    ".arrow": "arrow",
}
# Files that gecko itself writes next to shards; never data.
_IGNORED_NAMES = {"manifest.json", "config.json"}
_WORK_DIR = ".gecko-work"


@dataclass(frozen=True)
class InputFile:
    """One input file; `index` is its position in the sorted list of all inputs."""

    index: int
    path: str
    relpath: str
    format: str
    size: int


def format_of(path: str) -> str | None:
    """The input format of a file name, or None when gecko does not read it."""
    lower = path.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if lower.endswith(suffix):
            return FORMATS[suffix]
    return None


def discover(root: str, exclude: tuple[str, ...] = ()) -> list[InputFile]:
    """List the input files under `root` (searched recursively), sorted by relative path.

    Args:
        root: a folder, or a single input file.
        exclude: glob patterns matched against each relative path and file name; matches are skipped.

    Returns:
        The input files in a fixed order, which defines document order for the whole stage.
    """
    if not os.path.exists(root):
        raise DataError(f"input {root} does not exist", hint="check the path, or pass the input folder")
    if os.path.isdir(root):
        check_gecko_folder(root)
    if os.path.isfile(root):
        found = [(os.path.basename(root), root)]
    else:
        found = []
        seen = set()  # real paths of folders walked: a linked folder is read once, and a link loop ends
        for dirpath, dirnames, filenames in os.walk(root, onerror=_unreadable, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:
                dirnames[:] = []
                continue
            seen.add(real)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != _WORK_DIR)
            for name in filenames:
                full = os.path.join(dirpath, name)
                found.append((os.path.relpath(full, root), full))
    files = []
    excluded = 0
    for rel, full in sorted(found):
        name = os.path.basename(rel)
        if name.startswith(".") or name in _IGNORED_NAMES:
            continue
        if _excluded(rel, exclude):
            excluded += 1
            continue
        fmt = format_of(name)
        if fmt is None:
            raise DataError(
                f"{full}: unknown input format",
                hint="gecko reads .jsonl, .jsonl.gz, .jsonl.zst, .parquet and .arrow; "
                f"remove the file or skip it with --exclude '{_suggest_pattern(name)}'",
            )
        try:
            size = os.path.getsize(full)
        except OSError as e:  # a broken link, or a file deleted while we look
            raise DataError(f"{full}: cannot be read ({e.strerror})",
                            hint="fix or remove it, or skip it with --exclude") from None
        files.append(InputFile(len(files), full, rel, fmt, size))
    if not files:
        why = f" ({excluded} excluded by --exclude)" if excluded else ""
        raise DataError(
            f"no input files in {root}{why}",
            hint="put .jsonl, .jsonl.gz, .jsonl.zst, .parquet or .arrow files there",
        )
    return files


def _unreadable(e: OSError) -> None:
    # os.walk skips folders it cannot list unless told otherwise: their files would go missing silently.
    raise DataError(f"{e.filename}: cannot list the folder ({e.strerror})",
                    hint="fix its permissions, or move it out of the input folder")


def check_gecko_folder(root: str, schema: str = "docs") -> None:
    """Refuse a gecko output folder that is unfinished or holds another kind of shard than documents."""
    import json

    manifest = os.path.join(root, "manifest.json")
    if os.path.exists(manifest):
        try:
            with open(manifest, encoding="utf-8") as fh:
                found = json.load(fh).get("schema", schema)
        except (OSError, ValueError, AttributeError, RecursionError):
            return  # not a gecko manifest: the folder is read as plain input files
        if found != schema:
            raise DataError(f"{root} holds {found} shards, not {schema}",
                            hint="pass a folder of documents (raw files, or dedup's or balance's output)")
    elif os.path.isdir(os.path.join(root, _WORK_DIR)):
        raise DataError(f"{root} is an unfinished gecko output (no manifest.json yet)",
                        hint="finish the stage that writes it first: run it again and it resumes")


def host_slice(items: list, num_hosts: int, host_index: int) -> list:
    """The items host `host_index` of `num_hosts` works on: every num_hosts-th, from host_index."""
    check_hosts(num_hosts, host_index)
    return items[host_index::num_hosts]


def check_hosts(num_hosts: int, host_index: int) -> None:
    """Reject a host index outside 0..num_hosts-1."""
    if num_hosts < 1:
        raise ConfigError(f"--num-hosts must be at least 1, not {num_hosts}")
    if not 0 <= host_index < num_hosts:
        raise ConfigError(
            f"--host-index {host_index} is outside 0..{num_hosts - 1}",
            hint="number the hosts from 0 to --num-hosts minus 1",
        )


def _excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    name = os.path.basename(rel)
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _suggest_pattern(name: str) -> str:
    _, ext = os.path.splitext(name)
    return f"*{ext}" if ext else name
