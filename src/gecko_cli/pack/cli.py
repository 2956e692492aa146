"""The `gecko pack` command: flags onto PackConfig, run, print the result."""

from typing import Annotated, Optional

import typer

from gecko_cli import options as o
from gecko_cli.options import choices
from gecko_cli.pack.config import PHASES, STRATEGIES
from gecko_cli.pack.config import PackConfig as C

Strategy, Phase = choices("Strategy", STRATEGIES), choices("PackPhase", ("all", *PHASES))

HELP = """Tokenize documents and pack them into fixed-length training rows, shuffled across shards.

Each document becomes <s> tokens </s>; --strategy concat puts documents end to end and cuts rows of exactly
--seq-len tokens, best-fit never cuts a document shorter than a row and pads rows instead. --val-fraction of the
documents (by a hash of their id) go to OUTPUT/val/. Writes OUTPUT/shard-*.arrow and OUTPUT/manifest.json with
the tokenizer's fingerprint, rows, tokens by language, padding and cut documents.

\b
Examples:
  gecko pack mixed/ packed/ --tokenizer tok/ --seq-len 8192
  gecko pack mixed/ packed/ --tokenizer tok/ --seq-len 2048 --workers 2 --val-fraction 0.005
"""


def pack(
    ctx: typer.Context,
    input: Annotated[Optional[str], typer.Argument(help="Input folder (normally balance's output). [default: mixed/]")] = None,
    output: Annotated[Optional[str], typer.Argument(help="Output folder. [default: packed/]")] = None,
    tokenizer: Annotated[Optional[str], typer.Option(help="Tokenizer folder (or tokenizer.json). [default: tokenizer/]")] = None,
    seq_len: Annotated[int, typer.Option(help="Tokens per row.")] = C.seq_len,
    strategy: Annotated[Strategy, typer.Option(help="concat: cut at row ends; best-fit: pad, never cut short documents.")] = (
        Strategy(C.strategy)),
    val_fraction: Annotated[float, typer.Option(help="Share of documents held out into val/.")] = C.val_fraction,
    shard_size: Annotated[str, typer.Option(help="Target size of an output shard (token bytes).")] = "256MB",
    phase: Annotated[Phase, typer.Option(help="all, or one phase: encode, write.")] = Phase(C.phase),
    keep_work: Annotated[bool, typer.Option(help="Keep the intermediate files (.gecko-work/) after success.")] = False,
    text_field: o.TextField = C.text_field,
    on_bad_record: o.OnBadRecord = o.OnBad(C.on_bad_record),
    exclude: o.Exclude = None,
    seed: o.Seed = C.seed,
    workers: o.Workers = C.workers,
    num_hosts: o.NumHosts = C.num_hosts,
    host_index: o.HostIndex = C.host_index,
    overwrite: o.Overwrite = False,
    config: o.ConfigOpt = None,
    json_out: o.JsonOut = False,
) -> None:
    import json

    from gecko_cli.cli import build_config, input_path
    from gecko_cli.console import log, result
    from gecko_cli.pack.run import run

    cfg = build_config(ctx, C, "pack", paths={"input": "mixed", "output": "packed", "tokenizer": "tokenizer"})
    input_path(cfg.input, made_by="balance")
    report = run(cfg)
    if not report.complete:
        log.info("pack: the output is not complete yet (other phases or hosts still to run)")
        return
    stats = report.manifest["stats"]
    if json_out:
        result(json.dumps({"output": report.output, "already_complete": report.already_complete, "stats": stats}))
        return
    by_lang = ", ".join(f"{k} {v:,}" for k, v in stats["tokens_by_lang"].items())
    result(f"{report.output}: {stats['rows']:,} rows of {cfg.seq_len} tokens from {stats['documents']:,} documents; "
           f"{stats['tokens']:,} tokens ({by_lang}); padding {stats['padding_share']:.2%}, "
           f"documents cut {stats['cut_share']:.2%}")


pack.__doc__ = HELP
