"""The LLaMA model's shape: named presets and `key=value` overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from gecko_cli.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The shape of a LLaMA decoder.

    Attributes:
        vocab_size: token ids 0..vocab_size-1 (taken from the packed data's manifest at training time).
        max_seq_len: the longest context the model is built for (rotary tables, HF `max_position_embeddings`).
        d_model: width of the residual stream.
        n_layers: decoder blocks.
        n_heads: query heads; head_dim = d_model / n_heads.
        n_kv_heads: key/value heads (grouped-query attention when below n_heads; None = n_heads).
        d_ff: hidden width of the SwiGLU feed-forward block.
        rope_theta: base of the rotary frequencies.
        norm_eps: RMSNorm epsilon.
        tie_embeddings: share the input embedding with the output head.
        init_std: standard deviation of the normal initialisation of every matrix (output projections are
            scaled by 1/sqrt(2 * n_layers), as in GPT-2).
    """

    vocab_size: int = 32000
    max_seq_len: int = 8192
    d_model: int = 4096
    n_layers: int = 32
    n_heads: int = 32
    n_kv_heads: int | None = None
    d_ff: int = 11008
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = False
    init_std: float = 0.02

    def __post_init__(self):
        for name in ("vocab_size", "max_seq_len", "d_model", "n_layers", "n_heads", "d_ff"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model {name} must be at least 1, not {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise ConfigError(f"model d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")
        if self.head_dim % 2:
            raise ConfigError(f"the head size d_model/n_heads = {self.head_dim} must be even for rotary embeddings")
        if self.kv_heads < 1 or self.n_heads % self.kv_heads:
            raise ConfigError(f"model n_heads {self.n_heads} is not a multiple of n_kv_heads {self.kv_heads}")
        if self.rope_theta <= 0 or self.norm_eps <= 0 or self.init_std <= 0:
            raise ConfigError("model rope_theta, norm_eps and init_std must be positive")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    def num_params(self, embeddings: bool = True) -> int:
        """Parameters of the model; without `embeddings`, those of its matmuls but the input embedding lookup."""
        d, hd = self.d_model, self.head_dim
        attn = d * hd * (self.n_heads * 2 + self.kv_heads * 2)
        block = attn + 3 * d * self.d_ff + 2 * d
        head = 0 if self.tie_embeddings else self.vocab_size * d
        embed = self.vocab_size * d
        total = self.n_layers * block + d + head + embed
        if not embeddings:
            total = self.n_layers * (attn + 3 * d * self.d_ff) + self.vocab_size * d  # matmuls incl. the LM head
        return total

    def flops_per_token(self, seq_len: int) -> float:
        """Training FLOPs per token: 3 x forward, forward = 2 x matmul parameters (LM head included) plus causal
        attention 2 x seq_len x n_layers x d_model (half of the full-attention 4 x seq x layers x d)."""
        forward = 2 * self.num_params(embeddings=False) + 2 * seq_len * self.n_layers * self.d_model
        return 3.0 * forward


PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(max_seq_len=1024, d_model=64, n_layers=2, n_heads=4, d_ff=192),
    "small": ModelConfig(max_seq_len=2048, d_model=512, n_layers=8, n_heads=8, d_ff=1408),
    "gecko-1b": ModelConfig(max_seq_len=8192, d_model=2048, n_layers=22, n_heads=16, d_ff=5632),
    "gecko-7b": ModelConfig(max_seq_len=8192, d_model=4096, n_layers=32, n_heads=32, d_ff=11008),
}


def parse_overrides(items: tuple[str, ...] | list[str]) -> dict:
    """Turn `key=value` strings (from --model-arg) into ModelConfig field values of the right type."""
    fields = {f.name: f for f in dataclasses.fields(ModelConfig)}
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise ConfigError(f"--model-arg {item!r} is not key=value with a model field as key",
                              hint=f"model fields: {', '.join(fields)}")
        out[key] = _typed(key, text.strip(), str(fields[key].type))
    return out


def _typed(key: str, text: str, kind: str):
    try:
        if kind == "bool":
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        if kind.startswith("int"):
            if kind.endswith("None") and text.lower() == "none":
                return None
            return int(text)
        return float(text)
    except ValueError:
        raise ConfigError(f"--model-arg {key}={text!r}: expected {kind}") from None


def resolve(name: str, overrides: dict) -> ModelConfig:
    """A preset by name with field overrides applied."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model {name!r}", hint=f"presets: {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)
