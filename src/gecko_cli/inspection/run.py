"""`gecko inspect`: summarise any gecko shard folder from its manifest and shards."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from gecko_cli import schemas
from gecko_cli.errors import DataError
from gecko_cli.shards import open_shard, read_batch, read_manifest


@dataclass
class Inspection:
    """What `gecko inspect` shows about a folder."""

    path: str
    manifest: dict
    rows: int
    bytes: int
    schema: list[tuple[str, str]] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)


def inspect_folder(path: str, samples: int = 3, max_chars: int = 300) -> Inspection:
    """Read a folder's manifest, check its shards are there, and take a few sample rows.

    Args:
        path: a folder written by a gecko stage.
        samples: how many rows to show from the first shard.
        max_chars: text longer than this is cut in the samples.

    Returns:
        An Inspection.
    """
    manifest = read_manifest(path)
    shards = manifest["shards"]
    hint = "rerun the stage that wrote the folder with --overwrite"
    for shard in shards:
        shard_path = os.path.join(path, shard["name"])
        if not os.path.exists(shard_path):
            raise DataError(f"{path}: shard {shard['name']} is listed in the manifest but missing", hint=hint)
        if os.path.getsize(shard_path) != shard["bytes"]:
            raise DataError(f"{shard_path}: {os.path.getsize(shard_path):,} bytes, but the manifest lists "
                            f"{shard['bytes']:,}: the file changed after the stage wrote it", hint=hint)
    info = Inspection(path=path, manifest=manifest, rows=sum(s["rows"] for s in shards),
                      bytes=sum(s["bytes"] for s in shards))
    if shards:
        first = os.path.join(path, shards[0]["name"])
        reader = open_shard(first)
        info.schema = [(f.name, str(f.type)) for f in reader.schema]
        rows = []
        for i in range(reader.num_record_batches):
            if len(rows) >= samples:
                break
            rows.extend(read_batch(reader, first, i).slice(0, samples - len(rows)).to_pylist())
        if manifest.get("schema") == "packed":
            rows = [_decoded(r, manifest) for r in rows]
        info.samples = [_shorten(r, max_chars) for r in rows]
    return info


def _decoded(row: dict, manifest: dict) -> dict:
    """A packed row with its real tokens decoded back to text by the tokenizer the manifest names."""
    path = manifest.get("tokenizer", {}).get("path")
    if not path or not os.path.exists(path):
        return row
    from tokenizers import Tokenizer

    tokens = row[schemas.TOKENS][: row.get(schemas.USED, len(row[schemas.TOKENS]))]
    decoded = Tokenizer.from_file(path).decode(tokens, skip_special_tokens=False)
    return {"decoded": decoded, **row}


def _shorten(row: dict, max_chars: int) -> dict:
    out = {}
    for key, value in row.items():
        if isinstance(value, str) and len(value) > max_chars:
            value = value[:max_chars] + f"... ({len(value):,} characters)"
        elif isinstance(value, list) and len(value) > 32:
            value = f"{value[:32]}... ({len(value):,} items)"
        out[key] = value
    if schemas.TEXT in out:
        out = {schemas.TEXT: out.pop(schemas.TEXT), **out}
    return out
