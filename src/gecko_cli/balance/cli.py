"""The `gecko balance` command: flags onto BalanceConfig, run, print the plan or the result."""

from typing import Annotated, Optional

import typer

from gecko_cli import options as o
from gecko_cli.balance.config import BY, PHASES
from gecko_cli.balance.config import BalanceConfig as C
from gecko_cli.options import choices

By, Phase = choices("By", BY), choices("BalancePhase", ("all", *PHASES))

HELP = """Label languages, apply quality rules, scrub personal data and mix languages to target shares.

Korean is repeated and English sampled down until the output holds --mix of each language (GECKO's
35/28/37 by default), no language repeated more than --max-epochs times. The output is shuffled across
shards. Writes OUTPUT/shard-*.arrow and OUTPUT/manifest.json with the plan and every drop reason.

\b
Examples:
  gecko balance clean/ mixed/ --mix ko=0.35,en=0.28,code=0.37
  gecko balance clean/ mixed/ --total 2GB --max-epochs 4 --by bytes
  gecko balance clean/ mixed/ --tokenizer tok/ --by tokens --total 200B
  gecko balance clean/ mixed/ --dry-run
"""


def balance(
    ctx: typer.Context,
    input: Annotated[Optional[str], typer.Argument(help="Input folder (normally dedup's output). [default: clean/]")] = None,
    output: Annotated[Optional[str], typer.Argument(help="Output folder. [default: mixed/]")] = None,
    mix: Annotated[str, typer.Option(help="Target share per language: ko=0.35,en=0.28,code=0.37.")] = (
        "ko=0.35,en=0.28,code=0.37"),
    by: Annotated[By, typer.Option(help="Count shares in bytes of text or in tokens (needs --tokenizer).")] = By(C.by),
    tokenizer: Annotated[Optional[str], typer.Option(help="Tokenizer folder (or tokenizer.json) for --by tokens.")] = None,
    total: Annotated[Optional[str], typer.Option(help="Output size: 2GB (bytes) or 200B (tokens). [default: largest]")] = None,
    max_epochs: Annotated[float, typer.Option(help="Most repetitions of any language.")] = C.max_epochs,
    best_effort: Annotated[bool, typer.Option(help="Write the closest mix when the epoch cap makes the mix impossible.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Print the plan and write nothing.")] = False,
    relabel: Annotated[bool, typer.Option(help="Detect every language, ignoring existing labels.")] = False,
    keep_other: Annotated[bool, typer.Option(help="Keep documents in no known language (label other).")] = False,
    scrub_pii: Annotated[bool, typer.Option(help="Replace e-mail, phone, resident and card numbers.")] = C.scrub_pii,
    rules: Annotated[bool, typer.Option(help="Apply the quality rules (--no-rules turns them all off).")] = True,
    rule: Annotated[Optional[list[str]], typer.Option(help="Set a rule threshold: NAME=VALUE or NAME=off (repeatable).")] = None,
    keep_dropped: Annotated[Optional[str], typer.Option(help="Also write dropped documents here, with their reason.")] = None,
    shard_size: Annotated[str, typer.Option(help="Target text size of an output shard.")] = "256MB",
    phase: Annotated[Phase, typer.Option(help="all, or one phase (see README: many hosts).")] = Phase(C.phase),
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
    from gecko_cli.balance.report import print_report
    from gecko_cli.balance.run import run
    from gecko_cli.balance.sizes import parse_total, rules_config
    from gecko_cli.cli import build_config, input_path

    total_value = parse_total(total, by.value) if total is not None else None
    cfg = build_config(ctx, C, "balance", paths={"input": "clean", "output": "mixed"}, overrides={"total": total_value})
    if rule:
        cfg = rules_config(cfg, rule)
    input_path(cfg.input, made_by="dedup")
    print_report(run(cfg), json_out=json_out)


balance.__doc__ = HELP
