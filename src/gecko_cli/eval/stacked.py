"""The model as eval runs it: every layer but the last stacked on a leading axis, and run by `jax.lax.scan`.

A jitted program over the training model's list of layers holds one copy of the layer per layer, and each copy
is traced, lowered and compiled again; eval compiles a program per padded shape (length buckets, batch rows,
prefix and tail passes, prefill and decode), so that cost is paid many times. Scanned, a program holds one layer
body whatever the depth. Measured on the CPU: a `gecko-7b` scoring pass at 2 x 1,536 tokens lowers and compiles
in 1.5 instead of 8.8 s; benchmarks/bench_eval.py's first (compiling) pass over its 80 questions with the 8-layer
`small` preset takes 36 instead of 52 s, generation's prefill and decode compile in 3.6 instead of 6.5 s; the
scores, generated texts and run times are the same (log-likelihoods within 1e-6).

The last layer stays apart because eval runs it differently: only at the positions whose logits are read (the
others need only its keys and values). `EvalModel` holds the training model's own embedding, final norm, output
projection and last block (the same arrays, not copies) and a `Block` whose parameters are the other layers'
stacked; a scan step merges one layer's slice of them back into a `Block`, so each layer runs the training
model's own code.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from gecko_cli.pretrain.model import Block, Llama
from gecko_cli.pretrain.model_config import ModelConfig


class EvalModel(nnx.Module):
    """A decoder's embedding, final norm, output projection and last block, and its other blocks stacked."""

    def __init__(self, model: Llama, body: Block):
        self.cfg = model.cfg
        self.embed = model.embed
        self.norm = model.norm
        if not model.cfg.tie_embeddings:
            self.head = model.head
        self.body = body      # a Block whose parameters have a leading axis of n_layers - 1
        self.last = model.layers[-1]

    head_kernel = Llama.head_kernel  # it reads the same attributes: cfg, embed and head

    @property
    def last_index(self) -> int:
        """The last block's layer index (its slot in a KV cache)."""
        return self.cfg.n_layers - 1

    def scan_body(self, step, carry):
        """Run `step(block, carry, i) -> (carry, y)` over the stacked layers in order, i being the layer's index
        (its slot in a KV cache); returns (carry, the ys stacked)."""
        block_def, stacked = nnx.split(self.body)
        return jax.lax.scan(lambda c, inp: step(nnx.merge(block_def, inp[0]), c, inp[1]), carry,
                            (stacked, jnp.arange(self.last_index)))


@dataclass(frozen=True)
class Stacked:
    """An `EvalModel` split for jitted functions: its graph (static) and its state (the arrays)."""

    graphdef: object
    state: object
    cfg: ModelConfig


def stack(graphdef, params) -> Stacked:
    """The eval form of a decoder given as the training model's graph and parameters.

    The stacked layers are new arrays (n_layers - 1 layers' worth, so the weights are held twice until the caller
    drops `params`); the embedding, norms, output projection and last block are the given arrays.
    """
    model = nnx.merge(graphdef, params)
    layers = list(model.layers)
    block_def, last = nnx.split(layers[-1])
    states = [nnx.state(layer) for layer in layers[:-1]]
    if states:
        stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
    else:  # one layer: an empty stack, which the scan runs zero times
        stacked = jax.tree.map(lambda a: jnp.zeros((0, *a.shape), a.dtype), last)
    body = nnx.merge(block_def, stacked)
    eval_def, state = nnx.split(EvalModel(model, body))
    return Stacked(eval_def, state, model.cfg)
