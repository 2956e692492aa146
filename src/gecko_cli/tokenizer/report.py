"""Printing a train-tokenizer result."""

from __future__ import annotations

import json

from gecko_cli.console import log, result
from gecko_cli.tokenizer.run import TokenizerReport, report_markdown


def print_report(report: TokenizerReport, json_out: bool = False) -> None:
    if report.already_complete:
        log.info(f"train-tokenizer: {report.output} already holds this tokenizer; nothing to do")
    if json_out:
        result(json.dumps({"output": report.output, "already_complete": report.already_complete,
                           "report": report.report}, ensure_ascii=False))
    else:
        result(report_markdown(report.report))
