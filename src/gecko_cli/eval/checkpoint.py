"""A trained run as eval and export see it: its model shape, its parameters at a step, and its tokenizer."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields

from gecko_cli.errors import ConfigError, DataError
from gecko_cli.pretrain.model_config import ModelConfig

_HINT = "pass the output folder of `gecko pretrain` (it holds config.json and checkpoints/)"


@dataclass
class Run:
    folder: str
    model: ModelConfig
    graphdef: object
    params: dict          # parameter arrays, plain nested dict
    step: int
    tokenizer_file: str
    record: dict          # the run's config.json


def read_record(folder: str) -> dict:
    path = os.path.join(folder, "config.json")
    if not os.path.isdir(folder):
        raise DataError(f"{folder} not found", hint=_HINT)
    try:
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
    except FileNotFoundError:
        raise DataError(f"{folder} holds no config.json: not a gecko pretrain run", hint=_HINT) from None
    except (OSError, ValueError, RecursionError) as e:
        raise DataError(f"{path}: not a readable run record ({e})", hint=_HINT) from None
    model = record.get("model") if isinstance(record, dict) else None
    if not isinstance(model, dict):
        raise DataError(f'{path}: not a run record: it has no "model" object (the model\'s shape)', hint=_HINT)
    defaults = {f.name: f.default for f in fields(ModelConfig)}
    unknown = sorted(set(model) - set(defaults))
    if unknown:
        raise DataError(f"{path}: unknown model settings {', '.join(unknown)} (not written by this gecko version?)",
                        hint=_HINT)
    wrong = sorted(k for k, v in model.items() if not _fits(v, defaults[k]))
    if wrong:
        raise DataError(f"{path}: model settings of the wrong type: {', '.join(wrong)}", hint=_HINT)
    try:
        ModelConfig(**model)
    except ConfigError as e:
        raise DataError(f"{path}: {e}", hint=_HINT) from None
    return record


def _fits(value, default) -> bool:
    """Whether a model setting read from JSON has the type of its default: a flag a bool, a size or rate a number
    (not a bool), a setting that defaults to None a number or None."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if default is None and value is None:
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def tokenizer_file(folder: str) -> str:
    path = os.path.join(folder, "tokenizer", "tokenizer.json")
    if not os.path.isfile(path):
        raise DataError(f"{folder} holds no tokenizer/tokenizer.json",
                        hint="rerun `gecko pretrain` on this run folder (it copies the packed data's tokenizer)")
    return path


def load(folder: str, step: int | None = None, mesh=None) -> Run:
    """The run's parameters at `step` (default: the newest complete checkpoint), placed on `mesh` (default: one
    device), with its model shape and tokenizer."""
    import jax

    from gecko_cli.pretrain import optim
    from gecko_cli.pretrain import state as statelib
    from gecko_cli.pretrain.checkpoint import Checkpoints
    from gecko_cli.pretrain.mesh import make_mesh

    record = read_record(folder)
    model = ModelConfig(**record["model"])
    tok = tokenizer_file(folder)
    ckpt_dir = os.path.join(folder, "checkpoints")
    if not os.path.isdir(ckpt_dir):
        raise DataError(f"{folder} has no checkpoints/", hint="train it with `gecko pretrain` first")
    ckpts = Checkpoints(ckpt_dir, every=1, keep=1_000_000)
    try:
        steps = ckpts.manager.all_steps()
        if not steps:
            raise DataError(f"{ckpt_dir} holds no complete checkpoint", hint="let `gecko pretrain` save one first")
        if step is None:
            step = max(steps)
        elif step not in steps:
            raise DataError(f"{ckpt_dir} has no checkpoint at step {step}",
                            hint=f"saved steps: {', '.join(map(str, sorted(steps)))}")
        s = record["settings"]
        tx = optim.adamw(optim.schedule(s["lr"], s["warmup_steps"], s["steps"], s["final_lr_ratio"]), b1=s["b1"],
                         b2=s["b2"], eps=s["eps"], weight_decay=s["weight_decay"], clip_norm=s["clip_norm"])
        mesh = mesh or make_mesh({"data": 1, "fsdp": 1, "tensor": 1})
        graphdef, targets, _ = statelib.abstract_state(model, tx, mesh, s.get("seed", 0))
        state, _ = ckpts.restore(step, targets)
    finally:
        ckpts.close()
    params = state["params"]
    del state
    jax.block_until_ready(params)
    return Run(folder=folder, model=model, graphdef=graphdef, params=params, step=step, tokenizer_file=tok, record=record)
