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
    except (OSError, ValueError, RecursionError) as e:  # ValueError: bad JSON or UTF-8, an overlong integer
        why = "nested too deeply" if isinstance(e, RecursionError) else e
        raise DataError(f"{path}: unreadable manifest ({why})", hint="rerun the stage with --overwrite") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), list):
        raise DataError(f"{path}: not a gecko manifest (no 'shards' list)", hint="rerun the stage with --overwrite")
    if not isinstance(manifest.get("stats", {}), dict):
        raise DataError(f"{path}: not a gecko manifest ('stats' is not an object)", hint="rerun the stage with --overwrite")
    for shard in manifest["shards"]:
        if not (isinstance(shard, dict) and isinstance(shard.get("name"), str)
                and isinstance(shard.get("rows"), int) and isinstance(shard.get("bytes"), int)):
            raise DataError(f"{path}: bad shard entry {json.dumps(shard)[:200]} (needs name, rows and bytes)",
                            hint="rerun the stage with --overwrite")
    return manifest


def open_shard(path: str) -> pa.ipc.RecordBatchFileReader:
    """Open one shard for random access to its record batches (memory-mapped, nothing read yet)."""
    try:
        return pa.ipc.open_file(pa.memory_map(path))
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: not a readable Arrow shard ({e})",
                        hint="rerun the stage that wrote it with --overwrite") from None


def read_batch(reader: pa.ipc.RecordBatchFileReader, path: str, i: int) -> pa.RecordBatch:
    """Record batch `i` of an open shard, validated: a damaged file must raise, not crash the reader."""
    try:
        rb = reader.get_batch(i)
        rb.validate(full=True)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: record batch {i} is damaged ({e})",
                        hint="rerun the stage that wrote it with --overwrite") from None
    return rb


def iter_shard_batches(folder: str, manifest: dict | None = None) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Yield (shard name, record batch) over the shards the manifest lists, in order.

    Each shard must hold the rows its manifest entry says.
    """
    manifest = manifest or read_manifest(folder)
    for shard in manifest["shards"]:
        path = os.path.join(folder, shard["name"])
        reader = open_shard(path)
        rows = 0
        for i in range(reader.num_record_batches):
            rb = read_batch(reader, path, i)
            rows += rb.num_rows
            yield shard["name"], rb
        if rows != shard["rows"]:
            raise DataError(f"{path}: holds {rows} rows, but {MANIFEST} lists {shard['rows']}",
                            hint="rerun the stage that wrote it with --overwrite")
