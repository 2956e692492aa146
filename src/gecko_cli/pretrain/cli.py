"""The `gecko pretrain` command: flags onto PretrainConfig, run, print the result."""

from typing import Annotated, Optional

import typer

from gecko_cli import options as o
from gecko_cli.options import choices
from gecko_cli.pretrain.config import DTYPES, IMPLEMENTATIONS
from gecko_cli.pretrain.config import PretrainConfig as C
from gecko_cli.pretrain.model_config import PRESETS

Model, Dtype, Attn = choices("Model", tuple(PRESETS)), choices("Dtype", DTYPES), choices("Attention", IMPLEMENTATIONS)

HELP = """Pretrain a LLaMA decoder on packed rows, on one CPU or a TPU/GPU pod (FSDP x tensor parallelism).

Running the same command again resumes from the newest complete checkpoint, exactly. Writes OUTPUT/checkpoints/
(Orbax: parameters, optimizer state, step), OUTPUT/metrics.jsonl (every step, and validation loss and bits per
byte per language on the packed val/ split), OUTPUT/config.json (the resolved run).

\b
Examples:
  gecko pretrain packed/ run/ --model tiny --steps 200
  gecko pretrain packed/ run/ --model gecko-7b --mesh 64x4 --batch-tokens 4M --steps 50000 --lr 3e-4
  gecko pretrain packed/ run/ --model small --model-arg n_layers=4 --model-arg n_kv_heads=2
"""


def pretrain(
    ctx: typer.Context,
    input: Annotated[Optional[str], typer.Argument(help="Packed folder (gecko pack's output). [default: packed/]")] = None,
    output: Annotated[Optional[str], typer.Argument(help="Run folder. [default: runs/<model>/]")] = None,
    model: Annotated[Model, typer.Option(help="Model preset.")] = Model(C.model),
    model_arg: Annotated[Optional[list[str]], typer.Option("--model-arg", help="Set a model field: key=value.")] = None,
    mesh: Annotated[str, typer.Option(help="FSDPxTENSOR (64x4) or data=..,fsdp=..,tensor=..; one size may be -1.")] = C.mesh,
    batch_tokens: Annotated[str, typer.Option(help="Tokens per optimizer step over all devices (4M = 4,194,304).")] = "64K",
    micro_batch: Annotated[int, typer.Option(help="Rows per pass over all devices (0 = whole batch).")] = C.micro_batch,
    steps: Annotated[int, typer.Option(help="Optimizer steps of the run (the schedule ends there).")] = C.steps,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = C.lr,
    warmup_steps: Annotated[int, typer.Option(help="Linear warmup steps.")] = C.warmup_steps,
    final_lr_ratio: Annotated[float, typer.Option(help="Cosine floor as a share of the peak.")] = C.final_lr_ratio,
    weight_decay: Annotated[float, typer.Option(help="AdamW decoupled weight decay (matrices only).")] = C.weight_decay,
    clip_norm: Annotated[float, typer.Option(help="Global gradient-norm clip (0 = off).")] = C.clip_norm,
    z_loss: Annotated[float, typer.Option(help="Weight of the log(Z)^2 loss (0 = off).")] = C.z_loss,
    dtype: Annotated[Dtype, typer.Option(help="Compute dtype; auto = bfloat16 on accelerators, float32 on CPU.")] = Dtype(C.dtype),
    attention: Annotated[Attn, typer.Option(help="Attention implementation; auto picks per platform.")] = Attn(C.attention),
    doc_mask: Annotated[bool, typer.Option("--doc-mask/--no-doc-mask", help="Attend within documents only.")] = C.doc_mask,
    remat: Annotated[bool, typer.Option(help="Recompute activations in the backward pass (saves memory).")] = C.remat,
    checkpoint_every: Annotated[int, typer.Option(help="Save a checkpoint every N steps.")] = C.checkpoint_every,
    keep_checkpoints: Annotated[int, typer.Option(help="Checkpoints kept (the newest).")] = C.keep_checkpoints,
    eval_every: Annotated[int, typer.Option(help="Validate on val/ every N steps (0 = never).")] = C.eval_every,
    eval_rows: Annotated[int, typer.Option(help="Rows of val/ per validation.")] = C.eval_rows,
    log_every: Annotated[int, typer.Option(help="Steps between log lines when stderr is not a terminal.")] = C.log_every,
    peak_flops: Annotated[float, typer.Option(help="Per-device peak FLOP/s for MFU (0 = datasheet/measured).")] = C.peak_flops,
    init_from: Annotated[Optional[str], typer.Option(help="Start from a HuggingFace LLaMA folder.")] = None,
    coordinator: Annotated[Optional[str], typer.Option(help="host:port of process 0 (multi-process launch).")] = None,
    num_processes: Annotated[Optional[int], typer.Option(min=1, help="Processes in a multi-process launch.")] = None,
    process_id: Annotated[Optional[int], typer.Option(min=0, help="This process's number in a multi-process launch.")] = None,
    seed: o.Seed = C.seed,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Start afresh in a run folder holding another run.")] = False,
    config: o.ConfigOpt = None,
    json_out: o.JsonOut = False,
) -> None:
    import dataclasses
    import json

    from gecko_cli import allocator, compile_cache

    allocator.tune_for_cpu("pretrain")  # before jax starts its threads
    compile_cache.enable()  # before anything compiles

    from gecko_cli.cli import build_config, input_path
    from gecko_cli.config import load_file, workspace_path
    from gecko_cli.console import result
    from gecko_cli.pretrain.run import run
    from gecko_cli.units import parse_count

    overrides = {"batch_tokens": parse_count(batch_tokens, "--batch-tokens"), "model_args": tuple(model_arg or ())}
    if output is None:
        overrides["output"] = f"{workspace_path(load_file(ctx.params.get('config')), 'runs')}/{model.value}"
    cfg = build_config(ctx, C, "pretrain", paths={"input": "packed"}, overrides=overrides)
    input_path(cfg.input, made_by="pack")
    report = run(cfg)
    if json_out:
        result(json.dumps(dataclasses.asdict(report)))
        return
    where = f"stopped by SIGTERM after step {report.end_step}" if report.stopped else f"at step {report.end_step}"
    loss = f"loss {report.last_loss:.4f}" if report.last_loss is not None else "no new steps"
    val = f", val loss {report.val['val_loss']:.4f}" if report.val else ""
    result(f"{report.output}: {where} of {report.steps}; {loss}{val}; {report.tokens_per_s:,.0f} tokens/s, MFU {report.mfu:.1%}")
    if report.stopped:
        raise SystemExit(143)


pretrain.__doc__ = HELP
