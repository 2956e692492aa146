"""The LLaMA decoder in Flax NNX: RMSNorm, rotate-half rotary embeddings (HF layout), SwiGLU, no biases,
optional grouped-query attention, untied embeddings by default.

Every parameter carries `axes`, its logical axis names; mesh.RULES turns them into shardings. Kernels are
[in, out] (HF's torch weights are [out, in]); the embedding is [vocab, d_model] in both.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from gecko_cli.pretrain.attention import attention
from gecko_cli.pretrain.mesh import constrain
from gecko_cli.pretrain.model_config import ModelConfig


def _param(rngs: nnx.Rngs, shape: tuple[int, ...], axes: tuple[str, ...], std: float) -> nnx.Param:
    """A float32 parameter drawn from N(0, std^2); `init_std` records the draw so that state.create can make it
    again, one parameter at a time, without building the model."""
    return nnx.Param(jax.random.normal(rngs.params(), shape, jnp.float32) * std, axes=axes, init_std=std)


def dense(x: jax.Array, w: jax.Array, contract: int = 1, preferred_element_type=None) -> jax.Array:
    """x (..., *in) times w (*in, *out) over the `contract` trailing dimensions of x, as one 2-D matmul.

    The product jnp.einsum would give, but with the leading (batch, seq) dimensions merged into one, the
    weight's gradient is a plain (tokens, in)^T @ (tokens, out) matmul, which XLA's CPU backend runs without
    first copying a transposed activation (a contraction over both batch and seq costs one such copy per
    weight: a quarter of the MLP's forward+backward time at d_model 512, measured on a 2-core CPU).
    """
    lead, inner, outer = x.shape[:-contract], w.shape[:contract], w.shape[contract:]
    x2, w2 = x.reshape(-1, math.prod(inner)), w.reshape(math.prod(inner), -1)
    if preferred_element_type is None and x.dtype == w.dtype == jnp.bfloat16 and jax.default_backend() == "cpu":
        # XLA's CPU backend runs a bf16 x bf16 -> bf16 matmul as a float32 one on converted copies; asking for the
        # float32 result lets it use its bf16 kernel (float32 accumulation either way, one rounding to bf16)
        y = jnp.dot(x2, w2, preferred_element_type=jnp.float32).astype(x.dtype)
    else:
        y = jnp.dot(x2, w2, preferred_element_type=preferred_element_type)
    return y.reshape(*lead, *outer)


class RMSNorm(nnx.Module):
    def __init__(self, dim: int, eps: float):
        self.scale = nnx.Param(jnp.ones((dim,), jnp.float32), axes=("norm",), init_std=None)
        self.eps = eps

    def __call__(self, x: jax.Array) -> jax.Array:
        x32 = x.astype(jnp.float32)
        y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
        return (y * self.scale[...]).astype(x.dtype)


def rope_tables(positions: jax.Array, head_dim: int, theta: float) -> tuple[jax.Array, jax.Array]:
    """cos and sin (B, T, 1, head_dim) for rotate-half rotary embeddings at the given positions (B, T)."""
    inv = 1.0 / (theta ** (jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim))
    angles = positions.astype(jnp.float32)[..., None] * inv  # (B, T, D/2)
    angles = jnp.concatenate([angles, angles], axis=-1)[:, :, None, :]
    return jnp.cos(angles), jnp.sin(angles)


def apply_rope(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """Rotate pairs (i, i + D/2) of x (B, T, H, D), as HF LlamaModel does."""
    half = x.shape[-1] // 2
    x32 = x.astype(jnp.float32)
    rotated = jnp.concatenate([-x32[..., half:], x32[..., :half]], axis=-1)
    return (x32 * cos + rotated * sin).astype(x.dtype)


class Attention(nnx.Module):
    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        d, hd, std = cfg.d_model, cfg.head_dim, cfg.init_std
        self.q = _param(rngs, (d, cfg.n_heads, hd), ("embed", "heads", "head_dim"), std)
        self.k = _param(rngs, (d, cfg.kv_heads, hd), ("embed", "kv_heads", "head_dim"), std)
        self.v = _param(rngs, (d, cfg.kv_heads, hd), ("embed", "kv_heads", "head_dim"), std)
        self.o = _param(rngs, (cfg.n_heads, hd, d), ("heads", "head_dim", "embed"), std / (2 * cfg.n_layers) ** 0.5)
        self.cfg = cfg

    def __call__(self, x, cos, sin, segment_ids, impl: str, dtype):
        q = dense(x, self.q[...].astype(dtype))
        k = dense(x, self.k[...].astype(dtype))
        v = dense(x, self.v[...].astype(dtype))
        q = constrain(apply_rope(q, cos, sin), ("batch", "seq", "heads", "head_dim"))
        k = constrain(apply_rope(k, cos, sin), ("batch", "seq", "kv_heads", "head_dim"))
        v = constrain(v, ("batch", "seq", "kv_heads", "head_dim"))
        out = attention(q, k, v, segment_ids, impl)  # (B, T, H, D)
        return dense(out, self.o[...].astype(dtype), contract=2)


class MLP(nnx.Module):
    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        d, f, std = cfg.d_model, cfg.d_ff, cfg.init_std
        self.gate = _param(rngs, (d, f), ("embed", "mlp"), std)
        self.up = _param(rngs, (d, f), ("embed", "mlp"), std)
        self.down = _param(rngs, (f, d), ("mlp", "embed"), std / (2 * cfg.n_layers) ** 0.5)

    def __call__(self, x, dtype):
        gate = dense(x, self.gate[...].astype(dtype))
        up = dense(x, self.up[...].astype(dtype))
        h = constrain(jax.nn.silu(gate) * up, ("batch", "seq", "mlp"))
        return dense(h, self.down[...].astype(dtype))


class Block(nnx.Module):
    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg, rngs)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg, rngs)

    def __call__(self, x, cos, sin, segment_ids, impl: str, dtype):
        x = x + self.attn(self.attn_norm(x), cos, sin, segment_ids, impl, dtype)
        x = constrain(x, ("batch", "seq", "act_embed"))
        x = x + self.mlp(self.mlp_norm(x), dtype)
        return constrain(x, ("batch", "seq", "act_embed"))


class Llama(nnx.Module):
    """The decoder. Call with token ids (B, T), positions (B, T) and segment ids (B, T) or None; returns the
    final hidden states (B, T, d_model) in the compute dtype; `logits` maps them to the vocabulary in float32."""

    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        self.embed = _param(rngs, (cfg.vocab_size, cfg.d_model), ("vocab", "embed"), cfg.init_std)
        self.layers = nnx.List([Block(cfg, rngs) for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        if not cfg.tie_embeddings:
            self.head = _param(rngs, (cfg.d_model, cfg.vocab_size), ("embed", "vocab"), cfg.init_std)

    def __call__(self, tokens, positions, segment_ids=None, *, impl: str = "einsum", dtype=jnp.float32,
                 remat: bool = False):
        x = jnp.take(self.embed[...], tokens, axis=0).astype(dtype)
        x = constrain(x, ("batch", "seq", "act_embed"))
        cos, sin = rope_tables(positions, self.cfg.head_dim, self.cfg.rope_theta)
        for block in self.layers:
            if remat:
                x = nnx.remat(lambda blk, h: blk(h, cos, sin, segment_ids, impl, dtype))(block, x)
            else:
                x = block(x, cos, sin, segment_ids, impl, dtype)
        return self.norm(x)

    def head_kernel(self, dtype) -> jax.Array:
        """The output projection (d_model, vocab) in `dtype` (the embedding's transpose when tied)."""
        w = self.embed[...].T if self.cfg.tie_embeddings else self.head[...]
        return w.astype(dtype)

    def logits(self, hidden: jax.Array) -> jax.Array:
        out = dense(hidden, self.head_kernel(hidden.dtype), preferred_element_type=jnp.float32)
        return constrain(out, ("batch", "seq", "act_vocab"))
