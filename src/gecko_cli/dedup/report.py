"""Printing a dedup report: a table for people, or JSON for machines."""

from __future__ import annotations

import json

from gecko_cli.console import log, result
from gecko_cli.dedup.run import DedupReport
from gecko_cli.dedup.work import REASONS
from gecko_cli.units import format_bytes


def print_report(report: DedupReport, json_out: bool = False) -> None:
    """Print what the run did. An incomplete output (one phase on one host) gets a line saying so."""
    if not report.complete:
        done = ", ".join(f"{p} {t:.1f}s" for p, t in report.phases.items())
        log.info(f"dedup: {done}; the output is not complete yet (other phases or hosts still to run)")
        if json_out:
            result(json.dumps({"complete": False, "phases": report.phases}))
        return
    stats = report.manifest["stats"]
    if json_out:
        result(json.dumps({"complete": True, "output": report.output, "already_complete": report.already_complete,
                           "phases": report.phases, "stats": stats}, ensure_ascii=False))
        return
    if report.already_complete:
        log.info(f"dedup: {report.output} is already complete with these settings; nothing to do")
    docs = stats["documents"]
    from rich.table import Table  # here: a --json run does without rich

    table = Table(title=f"gecko dedup -> {report.output}", title_justify="left")
    for col in ("lang", "read", "kept", "exact dup", "near dup", "empty", "bad"):
        table.add_column(col, justify="left" if col == "lang" else "right")
    for lang, row in stats["by_lang"].items():
        table.add_row(lang, *(f"{row[k]:,}" for k in ("read", *REASONS)))
    total = [docs["read"], docs["kept"], *(docs["dropped"][r] for r in REASONS[1:])]
    table.add_row("all", *(f"{v:,}" for v in total), style="bold")
    result(table)
    cl = stats["clusters"]
    seconds = sum(report.phases.values())
    speed = f", {stats['text_bytes']['read'] / 1e6 / seconds:.1f} MB/s of text" if seconds else ""
    result(f"text kept: {format_bytes(stats['text_bytes']['kept'])} of {format_bytes(stats['text_bytes']['read'])}; "
           f"clusters: {cl['count']:,} holding {cl['documents']:,} documents, largest "
           f"{cl['largest'][0]['size'] if cl['largest'] else 0}; "
           f"pairs verified {stats['lsh']['verified_pairs']:,} of {stats['lsh']['candidate_pairs']:,} candidates"
           f"{speed}")
