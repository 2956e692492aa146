"""The `gecko train-tokenizer` and `gecko tokenizer-report` commands."""

from typing import Annotated, Optional

import typer

from gecko_cli import options as o
from gecko_cli.tokenizer.config import TokenizerConfig as C

HELP = """Train a BPE tokenizer (LLaMA layout, byte fallback, single digits) and check it.

Trains on a sample of the input drawn in its language mix (from balance's manifest), keeps held-out documents
out of training, and checks on them that every text round-trips exactly, that " A".." D" and digits are
single tokens, and how many tokens each language takes beside the --compare tokenizers. Writes
tokenizer.json, tokenizer_config.json, special_tokens_map.json (transformers loads the folder as is),
report.json, report.md and manifest.json.

\b
Examples:
  gecko train-tokenizer mixed/ tok/ --vocab 32000 --byte-fallback
  gecko train-tokenizer mixed/ tok/ --vocab 32000 --sample-bytes 2GB --compare ref1.model,ref2.tiktoken
"""


def train_tokenizer(
    ctx: typer.Context,
    input: Annotated[Optional[str], typer.Argument(help="Input folder (normally balance's output). [default: mixed/]")] = None,
    output: Annotated[Optional[str], typer.Argument(help="Output folder. [default: tokenizer/]")] = None,
    vocab: Annotated[int, typer.Option(help="Exact vocabulary size.")] = C.vocab,
    byte_fallback: Annotated[bool, typer.Option(help="Encode unknown characters as UTF-8 byte tokens.")] = C.byte_fallback,
    max_token_chars: Annotated[int, typer.Option(help="Longest token the trainer may learn.")] = C.max_token_chars,
    min_frequency: Annotated[int, typer.Option(help="Least count of a pair to merge it.")] = C.min_frequency,
    sample_bytes: Annotated[str, typer.Option(help="Text to train on, drawn in the input's language mix.")] = "1GB",
    heldout_fraction: Annotated[float, typer.Option(help="Share of documents held out for the checks.")] = (
        C.heldout_fraction),
    heldout_bytes: Annotated[str, typer.Option(help="Most held-out text used for the checks.")] = "20MB",
    compare: Annotated[Optional[str], typer.Option(help="Reference tokenizers, comma-separated (.model, .tiktoken, "
                                                        "tokenizer.json or a folder).")] = None,
    text_field: o.TextField = C.text_field,
    on_bad_record: o.OnBadRecord = o.OnBad(C.on_bad_record),
    exclude: o.Exclude = None,
    seed: o.Seed = C.seed,
    overwrite: o.Overwrite = False,
    config: o.ConfigOpt = None,
    json_out: o.JsonOut = False,
) -> None:
    from gecko_cli.cli import build_config, input_path
    from gecko_cli.tokenizer.report import print_report
    from gecko_cli.tokenizer.run import train_tokenizer as run
    from gecko_cli.units import parse_bytes

    overrides = {"compare": tuple(p.strip() for p in (compare or "").split(",") if p.strip()),
                 "sample_bytes": parse_bytes(sample_bytes, "--sample-bytes"),
                 "heldout_bytes": parse_bytes(heldout_bytes, "--heldout-bytes")}
    cfg = build_config(ctx, C, "train-tokenizer", paths={"input": "mixed", "output": "tokenizer"}, overrides=overrides)
    input_path(cfg.input, made_by="balance")
    print_report(run(cfg), json_out=json_out)


train_tokenizer.__doc__ = HELP


def tokenizer_report(
    path: Annotated[str, typer.Argument(help="A tokenizer folder (or its tokenizer.json).")],
    data: Annotated[str, typer.Option(help="Documents to measure on (a shard folder or input files).")],
    compare: Annotated[Optional[str], typer.Option(help="Reference tokenizers, comma-separated.")] = None,
    max_bytes: Annotated[str, typer.Option(help="Most text to measure on.")] = "20MB",
    on_bad_record: o.OnBadRecord = o.OnBad(C.on_bad_record),
    json_out: o.JsonOut = False,
) -> None:
    """Efficiency table of a tokenizer on any documents, beside other tokenizers: tokens per 1,000 characters
    and per byte, per language; with the round-trip and single-token checks and the vocabulary composition."""
    import json

    from gecko_cli.console import result
    from gecko_cli.tokenizer.run import report_markdown
    from gecko_cli.tokenizer.run import tokenizer_report as run
    from gecko_cli.units import parse_bytes

    refs = tuple(p.strip() for p in (compare or "").split(",") if p.strip())
    report = run(path, data, refs, parse_bytes(max_bytes, "--max-bytes"), on_bad=on_bad_record.value)
    result(json.dumps(report, ensure_ascii=False) if json_out else report_markdown(report))
