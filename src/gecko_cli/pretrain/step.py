"""The training and evaluation steps: next-token loss with document boundaries, z-loss, gradient
accumulation over micro-batches, one optimizer update."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from flax import nnx


@dataclass(frozen=True)
class StepSettings:
    """What the step needs besides parameters and data (static under jit)."""

    impl: str = "einsum"          # attention implementation
    dtype: str = "float32"        # compute dtype of matmuls and activations
    doc_mask: bool = True         # attend within documents only
    z_loss: float = 0.0           # weight of log(Z)^2
    remat: bool = False           # recompute each block's activations in the backward pass


def targets(tokens, segment_ids, loss_mask):
    """Next-token targets (B, T) and their weights (B, T) float32.

    Position t predicts token t+1 when both are real tokens of the same segment: the last position of a row,
    padding and the first token of the next document (whose <s> is not predictable from the previous one) have
    weight 0.
    """
    nxt = jnp.roll(tokens, -1, axis=1)
    same = (jnp.roll(segment_ids, -1, axis=1) == segment_ids) & loss_mask & jnp.roll(loss_mask, -1, axis=1)
    same = same.at[:, -1].set(False)
    return nxt, same.astype(jnp.float32)


def token_losses(graphdef, params, batch: dict, s: StepSettings):
    """Per-token cross entropy (B, T) float32, per-token log(Z)^2, and target weights."""
    model = nnx.merge(graphdef, params)
    dtype = jnp.dtype(s.dtype)
    if s.doc_mask:
        seg, positions = batch["segment_ids"], batch["positions"]
    else:  # plain causal attention over the whole row: positions run on across documents too
        seg, positions = None, jnp.broadcast_to(jnp.arange(batch["tokens"].shape[-1]), batch["tokens"].shape)
    hidden = model(batch["tokens"], positions, seg, impl=s.impl, dtype=dtype, remat=s.remat)
    logits = model.logits(hidden)  # (B, T, V) float32
    tgt, weights = targets(batch["tokens"], batch["segment_ids"], batch["loss_mask"])
    lse = jax.nn.logsumexp(logits, axis=-1)
    picked = jnp.take_along_axis(logits, tgt[..., None], axis=-1)[..., 0]
    return lse - picked, lse * lse, weights


def _loss_sums(params, graphdef, batch, s: StepSettings):
    ce, z2, w = token_losses(graphdef, params, batch, s)
    objective = jnp.sum((ce + s.z_loss * z2) * w)
    return objective, (jnp.sum(ce * w), jnp.sum(w))


def train_step(graphdef, tx: optax.GradientTransformation, s: StepSettings, state: dict, batch: dict):
    """One optimizer step over a global batch shaped (accum, micro_rows, T).

    Gradients are summed over the micro-batches and divided by the global count of target tokens, so that the
    update is the token-weighted mean whatever the accumulation. Returns the new state and metrics (loss = mean
    cross entropy, grad_norm before clipping).
    """
    grad_fn = jax.grad(_loss_sums, has_aux=True)

    def micro(carry, mb):
        grads, ce, count = carry
        g, (c, n) = grad_fn(state["params"], graphdef, mb, s)
        return (jax.tree.map(jnp.add, grads, g), ce + c, count + n), None

    zeros = jax.tree.map(jnp.zeros_like, state["params"])
    init = (zeros, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32))
    if batch["tokens"].shape[0] == 1:
        (grads, ce, count), _ = micro(init, jax.tree.map(lambda x: x[0], batch))
    else:
        (grads, ce, count), _ = jax.lax.scan(micro, init, batch)
    denom = jnp.maximum(count, 1.0)
    grads = jax.tree.map(lambda g: g / denom, grads)
    grad_norm = optax.tree.norm(grads)
    updates, opt = tx.update(grads, state["opt"], state["params"])
    params = optax.apply_updates(state["params"], updates)
    return {"params": params, "opt": opt}, {"loss": ce / denom, "grad_norm": grad_norm, "tokens": count}


def eval_sums(graphdef, s: StepSettings, params, batch: dict, langs, num_langs: int):
    """Summed cross entropy (nats) and target counts per language for a validation batch.

    Args:
        langs: (B, T) int language code of each token (-1 on padding); a prediction counts for the language of
            the token it predicts.
        num_langs: number of language codes.

    Returns:
        (nats (num_langs,), tokens (num_langs,)) float32.
    """
    ce, _, w = token_losses(graphdef, params, batch, s)
    tgt_lang = jnp.roll(langs, -1, axis=1)
    onehot = (tgt_lang[..., None] == jnp.arange(num_langs)).astype(jnp.float32) * w[..., None]
    return jnp.einsum("bt,btl->l", ce, onehot), jnp.sum(onehot, axis=(0, 1))
