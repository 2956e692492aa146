"""Printing a balance plan or result: a table for people, or JSON for machines."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from gecko_cli.balance.run import BalanceReport
from gecko_cli.console import log, result
from gecko_cli.units import format_bytes

if TYPE_CHECKING:
    import rich.table


def print_report(report: BalanceReport, json_out: bool = False) -> None:
    """Print the plan (dry run) or the result; an incomplete output gets a line saying so."""
    if report.stats is None:
        done = ", ".join(f"{p} {t:.1f}s" for p, t in report.phases.items())
        log.info(f"balance: {done}; the output is not complete yet (other phases or hosts still to run)")
        if json_out:
            result(json.dumps({"complete": False, "phases": report.phases}))
        return
    stats = report.stats
    if json_out:
        result(json.dumps({"complete": report.complete, "dry_run": report.dry_run, "output": report.output,
                           "phases": report.phases, "stats": stats}, ensure_ascii=False))
        return
    if report.already_complete:
        log.info(f"balance: {report.output} is already complete with these settings; nothing to do")
    result(plan_table(stats, "plan (dry run: nothing written)" if report.dry_run else f"gecko balance -> {report.output}"))
    if stats["mix"]["note"]:
        result(f"note: {stats['mix']['note']}")
    dropped = ", ".join(f"{k} {v:,}" for k, v in stats["documents"]["dropped"].items()) or "none"
    pii = ", ".join(f"{k} {v:,}" for k, v in stats["pii"].items()) or "none"
    result(f"dropped: {dropped}; personal data replaced: {pii}")


def plan_table(stats: dict, title: str) -> rich.table.Table:
    """Per language: documents and bytes (or tokens) in, after the quality rules, out; share and epochs."""
    from rich.table import Table  # here: a --json run does without rich

    tokens = stats["by"] == "tokens"
    table = Table(title=title, title_justify="left")
    cols = ["lang", "docs in", "bytes in", "docs kept", "bytes kept", "docs out", "bytes out"]
    cols += ["tokens kept", "tokens out"] if tokens else []
    cols += ["share", "target", "epochs"]
    for col in cols:
        table.add_column(col, justify="left" if col == "lang" else "right")
    for lang, r in stats["languages"].items():
        cells = [lang, f"{r['docs_in']:,}", format_bytes(r["bytes_in"]), f"{r['docs_kept']:,}",
                 format_bytes(r["bytes_kept"]), f"{r['docs_out']:,}", format_bytes(r["bytes_out"])]
        if tokens:
            cells += [_count(r.get("tokens_kept", 0)), _count(r.get("tokens_out", 0))]
        cells += [f"{r['share_out']:.1%}", f"{r['target_share']:.1%}", f"{r['epochs']:.2f}"]
        table.add_row(*cells)
    return table


def _count(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"
