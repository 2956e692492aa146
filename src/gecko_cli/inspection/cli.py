"""The `gecko inspect` command."""

import json
from typing import Annotated

import typer

from gecko_cli import options as o


def inspect(
    path: Annotated[str, typer.Argument(help="A folder written by a gecko stage.")],
    samples: Annotated[int, typer.Option(min=0, help="Sample rows to show.")] = 3,
    json_out: o.JsonOut = False,
) -> None:
    """Show a shard folder: stage, rows, bytes, schema, the manifest's statistics and a few sample rows."""
    from rich.table import Table

    from gecko_cli.console import result
    from gecko_cli.inspection.run import inspect_folder
    from gecko_cli.units import format_bytes

    info = inspect_folder(path, samples=samples)
    m = info.manifest
    if json_out:
        result(json.dumps({"path": path, "stage": m.get("stage"), "rows": info.rows, "bytes": info.bytes,
                           "shards": len(m["shards"]), "schema": info.schema, "stats": m.get("stats", {}),
                           "samples": info.samples}, ensure_ascii=False, default=str))
        return
    result(f"{path}: {m.get('stage', '?')} output (gecko {m.get('gecko_version', '?')}), "
           f"{len(m['shards'])} shards, {info.rows:,} rows, {format_bytes(info.bytes)} on disk")
    result("schema: " + ", ".join(f"{name}: {kind}" for name, kind in info.schema))
    stats = m.get("stats", {})
    docs = stats.get("documents")
    if isinstance(docs, dict):
        dropped = ", ".join(f"{k} {v:,}" for k, v in docs.get("dropped", {}).items())
        result(f"documents: read {docs.get('read', 0):,}, kept {docs.get('kept', 0):,}; dropped: {dropped}")
    for key in ("by_lang", "by_source"):
        if key in stats:
            table = Table(title=key.replace("_", " "), title_justify="left")
            cols = list(next(iter(stats[key].values()), {}).keys())
            table.add_column("")
            for c in cols:
                table.add_column(c, justify="right")
            for name, row in stats[key].items():
                table.add_row(name, *(f"{row[c]:,}" for c in cols))
            result(table)
    for key, value in stats.items():
        if key not in ("by_lang", "by_source") and not (key == "documents" and isinstance(value, dict)):
            result(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    for i, row in enumerate(info.samples):
        result(f"--- sample {i}")
        result(json.dumps(row, ensure_ascii=False, indent=1, default=str))
