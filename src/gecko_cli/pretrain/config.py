"""Settings of `gecko pretrain`: the single source of their defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from gecko_cli.config import at_least, choice
from gecko_cli.errors import ConfigError
from gecko_cli.pretrain.mesh import parse_mesh
from gecko_cli.pretrain.model_config import PRESETS, parse_overrides

DTYPES = ("auto", "float32", "bfloat16")
#: Attention implementations (pretrain/attention.py); auto picks one per platform.
IMPLEMENTATIONS = ("auto", "einsum", "xla", "cudnn", "splash")


@dataclass(frozen=True, kw_only=True)
class PretrainConfig:
    """Everything `gecko pretrain` needs to know.

    Attributes:
        input: the output folder of `gecko pack` (train rows, and val/ for validation).
        output: the run folder: checkpoints/, metrics.jsonl, config.json.
        model: preset name (tiny, small, gecko-1b, gecko-7b).
        model_args: `key=value` overrides of the preset's fields (vocab_size comes from the packed data).
        mesh: FSDPxTENSOR ("64x4") or named sizes ("data=2,fsdp=32,tensor=4"); data takes the other devices.
        batch_tokens: tokens per optimizer step over all devices (a multiple of the packed rows' length).
        micro_batch: rows per forward/backward pass over all devices (0 = the whole batch at once); the batch is
            reached by gradient accumulation.
        steps: optimizer steps of the whole run (the cosine schedule ends there).
        lr, warmup_steps, final_lr_ratio: peak learning rate, linear warmup, and the cosine floor as a share of
            the peak.
        b1, b2, eps, weight_decay, clip_norm: AdamW and clipping (decay on matrices only).
        z_loss: weight of the log(Z)^2 auxiliary loss (0 = off).
        dtype: compute dtype; auto = bfloat16 on accelerators, float32 on CPU. Parameters and optimizer state
            are float32 always.
        attention: attention implementation (auto picks per platform).
        doc_mask: document-masked attention from the rows' segment ids (off = plain causal).
        remat: recompute each block's activations in the backward pass (less memory, about a third more compute).
        seed: seed of the initialisation and of the data order.
        checkpoint_every, keep_checkpoints: save every N steps (and on SIGTERM and at the end), keeping the last K.
        eval_every, eval_rows: validation on the first `eval_rows` rows of val/ every N steps (0 = never).
        log_every: steps between progress-line updates (every step goes to metrics.jsonl).
        peak_flops: per-device peak FLOP/s for MFU (0 = known device table, or a measured matmul rate on CPU).
        init_from: a HuggingFace LLaMA folder to start from instead of a random initialisation.
        overwrite: start afresh in a run folder that holds a run with other settings.
        coordinator, num_processes, process_id: multi-process launch without a cluster environment
            (TPU pods and SLURM are detected by jax itself).
    """

    input: str = "packed"
    output: str = "runs/tiny"
    model: str = "tiny"
    model_args: tuple[str, ...] = ()
    mesh: str = "-1x1"
    batch_tokens: int = 65536
    micro_batch: int = 0
    steps: int = 1000
    lr: float = 3e-4
    warmup_steps: int = 100
    final_lr_ratio: float = 0.1
    b1: float = 0.9
    b2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1
    clip_norm: float = 1.0
    z_loss: float = 0.0
    dtype: str = "auto"
    attention: str = "auto"
    doc_mask: bool = True
    remat: bool = False
    seed: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    eval_every: int = 500
    eval_rows: int = 64
    log_every: int = 1
    peak_flops: float = 0.0
    init_from: str | None = None
    overwrite: bool = False
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None

    def __post_init__(self):
        choice("--model", self.model, tuple(PRESETS))
        choice("--dtype", self.dtype, DTYPES)
        choice("--attention", self.attention, IMPLEMENTATIONS)
        parse_overrides(self.model_args)
        parse_mesh(self.mesh)
        at_least(self, 1, ("batch_tokens", "steps", "checkpoint_every", "keep_checkpoints", "log_every"))
        at_least(self, 0, ("micro_batch", "warmup_steps", "eval_every", "eval_rows"))
        if self.lr <= 0 or not 0 <= self.final_lr_ratio <= 1:
            raise ConfigError("--lr must be positive and --final-lr-ratio within [0, 1]")
        if not (0 <= self.b1 < 1 and 0 <= self.b2 < 1) or self.eps <= 0 or self.weight_decay < 0:
            raise ConfigError("AdamW needs 0 <= b1, b2 < 1, eps > 0 and weight decay >= 0")
        if self.clip_norm < 0 or self.z_loss < 0 or self.peak_flops < 0:
            raise ConfigError("--clip-norm, --z-loss and --peak-flops must not be negative")

    def fingerprint_settings(self) -> dict:
        """The settings a resumed run must share with the run it continues: all but where and how it logs,
        checkpoints and launches."""
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
        for key in ("input", "output", "checkpoint_every", "keep_checkpoints", "eval_every", "eval_rows",
                    "log_every", "peak_flops", "overwrite", "coordinator", "num_processes", "process_id",
                    "mesh", "attention", "remat", "micro_batch"):
            d.pop(key)
        return d
