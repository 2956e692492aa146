"""AdamW with linear warmup and cosine decay, weight decay on matrices only, global-norm clipping."""

from __future__ import annotations

import jax
import optax


def schedule(peak_lr: float, warmup_steps: int, total_steps: int, final_ratio: float) -> optax.Schedule:
    """Linear warmup from 0 to `peak_lr` over `warmup_steps`, then cosine decay to `final_ratio * peak_lr` at
    `total_steps`."""
    warmup = max(int(warmup_steps), 0)
    decay = max(int(total_steps) - warmup, 1)
    return optax.warmup_cosine_decay_schedule(0.0, peak_lr, warmup, warmup + decay, end_value=peak_lr * final_ratio)


def decay_mask(params):
    """True for the leaves that get weight decay: matrices (2 or more dimensions), not norm scales."""
    return jax.tree.map(lambda p: p.ndim >= 2, params)


def adamw(lr: optax.Schedule, *, b1: float, b2: float, eps: float, weight_decay: float, clip_norm: float):
    """The optimizer: clip the global gradient norm, then AdamW (decoupled decay, masked to matrices)."""
    parts = [optax.clip_by_global_norm(clip_norm)] if clip_norm > 0 else []
    parts.append(optax.adamw(lr, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay, mask=decay_mask))
    return optax.chain(*parts)
