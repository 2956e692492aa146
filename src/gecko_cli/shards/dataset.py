"""Reading a finished gecko shard folder: its manifest and its shards."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pyarrow as pa

from gecko_cli.errors import DataError
from gecko_cli.shards.writer import MANIFEST


def read_manifest(folder: str) -> dict:
    """Load `manifest.json` of a shard folder, with clear errors when it is missing or unreadable."""
    if not os.path.isdir(folder):
        raise DataError(f"{folder} is not a folder", hint="pass a folder written by a gecko stage")
    path = os.path.join(folder, MANIFEST)
    if not os.path.exists(path):
        raise DataError(f"{folder} has no {MANIFEST}: it is not a finished gecko output",
                        hint="run the stage that writes it (again: a rerun resumes where it stopped)")
    try:
        with open(path, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: unreadable manifest ({e})", hint="rerun the stage with --overwrite") from None
    if not isinstance(manifest, dict) or "shards" not in manifest:
        raise DataError(f"{path}: not a gecko manifest (no 'shards' list)", hint="rerun the stage with --overwrite")
    return manifest


def open_shard(path: str) -> pa.ipc.RecordBatchFileReader:
    """Open one shard for random access to its record batches (memory-mapped, nothing read yet)."""
    try:
        return pa.ipc.open_file(pa.memory_map(path))
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: not a readable Arrow shard ({e})",
                        hint="rerun the stage that wrote it with --overwrite") from None


def iter_shard_batches(folder: str, manifest: dict | None = None) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Yield (shard name, record batch) over the shards the manifest lists, in order."""
    manifest = manifest or read_manifest(folder)
    for shard in manifest["shards"]:
        reader = open_shard(os.path.join(folder, shard["name"]))
        for i in range(reader.num_record_batches):
            yield shard["name"], reader.get_batch(i)
