"""The `gecko eval` command: flags onto EvalConfig, run, print the results."""

from typing import Annotated, Optional

import typer

from gecko_cli import options as o
from gecko_cli.eval.config import SANDBOXES
from gecko_cli.eval.config import EvalConfig as C
from gecko_cli.options import choices

Sandbox = choices("Sandbox", SANDBOXES)

HELP = """Evaluate a pretrain run: KMMLU and MMLU as lm-evaluation-harness scores them, HumanEval in a sandbox,
bits per byte per language.

Writes OUTPUT/results.json and OUTPUT/results.md (per suite, per subject and overall) and prints the tables;
with --log-samples, OUTPUT/samples-<suite>.jsonl holds every question's context, continuations,
log-likelihoods, prediction and answer (or every program's completion and outcome).

\b
Examples:
  gecko eval run/ --suite kmmlu,mmlu,humaneval --data-dir evaldata/
  gecko eval run/ --suite kmmlu --num-fewshot 5 --limit 20 --subjects Criminal-Law,Biology
  gecko eval run/ --suite bpb --data packed/val/
  gecko eval run/ --suite humaneval --samples 10 --temperature 0.8
  gecko eval --suite humaneval --self-check
"""


def eval_(
    ctx: typer.Context,
    run: Annotated[Optional[str], typer.Argument(help="Run folder of gecko pretrain. [default: the newest in runs/]")] = None,
    suite: Annotated[str, typer.Option(help="Comma-separated: kmmlu, mmlu, humaneval, bpb.")] = ",".join(C.suites),
    data_dir: Annotated[str, typer.Option(help="Folder with kmmlu/, mmlu/ and humaneval/ as released.")] = C.data_dir,
    data: Annotated[Optional[str], typer.Option(help="Packed folder (or its val/) for bpb. [default: packed/]")] = None,
    output: Annotated[Optional[str], typer.Option(help="Results folder. [default: results/]")] = None,
    step: Annotated[Optional[int], typer.Option(help="Checkpoint step (default: the newest).")] = None,
    num_fewshot: Annotated[int, typer.Option(help="Examples before each multiple-choice question.")] = C.num_fewshot,
    limit: Annotated[Optional[int], typer.Option(help="Questions per subject (seeded); problems for HumanEval.")] = None,
    subjects: Annotated[Optional[str], typer.Option(help="Comma-separated subjects (default: all).")] = None,
    batch_size: Annotated[int, typer.Option(help="Sequences per forward pass.")] = C.batch_size,
    samples: Annotated[int, typer.Option(help="HumanEval completions per problem (pass@k for k <= samples).")] = C.samples,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (0 = greedy).")] = C.temperature,
    max_new_tokens: Annotated[int, typer.Option(help="Longest HumanEval completion, in tokens.")] = C.max_new_tokens,
    sandbox: Annotated[Sandbox, typer.Option(help="bwrap (bubblewrap isolation) or none (no isolation!).")] = Sandbox(C.sandbox),
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Programs run at once.")] = C.workers,
    timeout_s: Annotated[float, typer.Option(help="Wall-clock limit per program, seconds.")] = C.timeout_s,
    self_check: Annotated[bool, typer.Option(help="Run HumanEval's reference solutions (all must pass).")] = False,
    log_samples: Annotated[bool, typer.Option(help="Write every question's context, scores and answer.")] = False,
    seed: o.Seed = C.seed,
    config: o.ConfigOpt = None,
    json_out: o.JsonOut = False,
) -> None:
    import json

    from gecko_cli import allocator, compile_cache

    allocator.tune_for_cpu("eval")  # before jax starts its threads
    compile_cache.enable()  # before anything compiles

    from gecko_cli.cli import build_config
    from gecko_cli.console import log, result
    from gecko_cli.eval.run import run as run_eval

    overrides = {"suites": tuple(s.strip() for s in suite.split(",") if s.strip()),
                 "subjects": tuple(s.strip() for s in (subjects or "").split(",") if s.strip())}
    cfg = build_config(ctx, C, "eval", paths={"output": "results", "data": "packed"}, overrides=overrides)
    if cfg.run is None and not cfg.self_check:
        cfg = _with_newest_run(ctx, cfg)
    if cfg.sandbox == "none" and "humaneval" in cfg.suites:
        log.warning("--sandbox none: model-written programs run WITHOUT isolation on this machine")
    report = run_eval(cfg)
    if json_out:
        result(json.dumps(report.results, ensure_ascii=False))
        return
    result(report.markdown)


def _with_newest_run(ctx: typer.Context, cfg: C) -> C:
    import dataclasses
    import os

    from gecko_cli.config import load_file, workspace_path
    from gecko_cli.errors import DataError

    runs = workspace_path(load_file(ctx.params.get("config")), "runs")
    found = [os.path.join(runs, d) for d in (os.listdir(runs) if os.path.isdir(runs) else [])
             if os.path.isfile(os.path.join(runs, d, "config.json"))]
    if not found:
        raise DataError(f"no run found in {runs}/", hint="run `gecko pretrain` first, or pass the run folder")
    newest = max(found, key=lambda d: os.path.getmtime(os.path.join(d, "config.json")))
    return dataclasses.replace(cfg, run=newest)


eval_.__doc__ = HELP
