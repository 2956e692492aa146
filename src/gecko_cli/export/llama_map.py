"""The one table between gecko's LLaMA parameters and HF `LlamaForCausalLM` state-dict names, and the
conversions built on it. Pure: numpy in, numpy out, no files.

Layouts: gecko kernels are [in, out] with heads kept as their own axes (q is (d, H, hd), o is (H, hd, d)); torch
Linear weights are [out, in] with heads flattened (q_proj is (H*hd, d)). So a projection converts as
`hf = gecko.reshape(prod(in dims), prod(out dims)).T`. Norm scales and the embedding are stored alike in both.
Both use rotate-half rotary embeddings, so q and k need no permutation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from gecko_cli.errors import ConfigError, DataError
from gecko_cli.pretrain.model_config import ModelConfig

#: gecko path (in the `nnx.to_pure_dict` tree), HF name, gecko dims, and how many leading gecko dims are the
#: torch Linear's input (None: no transposition, the tensor is stored alike).
#: Dims: V vocab, d d_model, H query heads, K key/value heads, hd head size, f d_ff.
GLOBAL_TABLE: tuple[tuple[tuple[str, ...], str, tuple[str, ...], int | None], ...] = (
    (("embed",), "model.embed_tokens.weight", ("V", "d"), None),
    (("norm", "scale"), "model.norm.weight", ("d",), None),
    (("head",), "lm_head.weight", ("d", "V"), 1),  # absent when the embeddings are tied
)
LAYER_TABLE: tuple[tuple[tuple[str, ...], str, tuple[str, ...], int | None], ...] = (
    (("attn_norm", "scale"), "model.layers.{i}.input_layernorm.weight", ("d",), None),
    (("attn", "q"), "model.layers.{i}.self_attn.q_proj.weight", ("d", "H", "hd"), 1),
    (("attn", "k"), "model.layers.{i}.self_attn.k_proj.weight", ("d", "K", "hd"), 1),
    (("attn", "v"), "model.layers.{i}.self_attn.v_proj.weight", ("d", "K", "hd"), 1),
    (("attn", "o"), "model.layers.{i}.self_attn.o_proj.weight", ("H", "hd", "d"), 2),
    (("mlp_norm", "scale"), "model.layers.{i}.post_attention_layernorm.weight", ("d",), None),
    (("mlp", "gate"), "model.layers.{i}.mlp.gate_proj.weight", ("d", "f"), 1),
    (("mlp", "up"), "model.layers.{i}.mlp.up_proj.weight", ("d", "f"), 1),
    (("mlp", "down"), "model.layers.{i}.mlp.down_proj.weight", ("f", "d"), 1),
)

#: Non-parameter buffers that some older HF checkpoints carry; skipped on import.
IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)

#: ModelConfig field -> HF config.json key, for the fields that fix the parameters' shapes.
SHAPE_FIELDS: dict[str, str] = {
    "vocab_size": "vocab_size",
    "d_model": "hidden_size",
    "n_layers": "num_hidden_layers",
    "n_heads": "num_attention_heads",
    "kv_heads": "num_key_value_heads",
    "d_ff": "intermediate_size",
    "tie_embeddings": "tie_word_embeddings",
}
#: The other fields that change the model's function (not its shapes).
OTHER_FIELDS: dict[str, str] = {
    "rope_theta": "rope_theta",
    "norm_eps": "rms_norm_eps",
    "max_seq_len": "max_position_embeddings",
}


@dataclass(frozen=True)
class Entry:
    """One parameter: its gecko path (layer indices as ints), HF name, gecko shape and torch input dims."""

    path: tuple[str | int, ...]
    hf_name: str
    shape: tuple[int, ...]
    split: int | None

    @property
    def hf_shape(self) -> tuple[int, ...]:
        if self.split is None:
            return self.shape
        return (math.prod(self.shape[self.split:]), math.prod(self.shape[:self.split]))

    @property
    def gecko_name(self) -> str:
        return ".".join(str(k) for k in self.path)


def entries(cfg: ModelConfig) -> list[Entry]:
    """Every parameter of a model of this shape, in HF order (embedding, layers, final norm, head)."""
    dims = {"V": cfg.vocab_size, "d": cfg.d_model, "H": cfg.n_heads, "K": cfg.kv_heads, "hd": cfg.head_dim,
            "f": cfg.d_ff}

    def entry(path, name, names, split):
        return Entry(path, name, tuple(dims[n] for n in names), split)

    out = [entry(*GLOBAL_TABLE[0])]
    for i in range(cfg.n_layers):
        out += [entry(("layers", i, *path), name.format(i=i), names, split) for path, name, names, split in LAYER_TABLE]
    out.append(entry(*GLOBAL_TABLE[1]))
    if not cfg.tie_embeddings:
        out.append(entry(*GLOBAL_TABLE[2]))
    return out


# -- layout conversion ---------------------------------------------------------------------------------------


def read_block(entry: Entry, index: tuple[slice, ...], read: Callable[[tuple[slice, ...]], np.ndarray]) -> np.ndarray:
    """The block `gecko_param[index]`, fetched from the HF tensor through `read(hf_index)`.

    Reads only what the block needs when its layout allows: a slice of a flattened head group is contiguous
    when only its leading dim is cut (heads, never head_dim, are sharded), else the enclosing rows are read
    and cut afterwards.

    Args:
        entry: the parameter.
        index: one slice (step 1) per gecko dim, as `jax.make_array_from_callback` passes.
        read: returns the HF tensor at a tuple of slices (a safetensors slice, or `array.__getitem__`).

    Returns:
        The block in gecko layout.
    """
    bounds = [s.indices(n)[:2] for s, n in zip(index, entry.shape)]
    if any(s.indices(n)[2] != 1 for s, n in zip(index, entry.shape)):
        raise ValueError(f"strided shard index {index} for {entry.gecko_name}")
    if entry.split is None:
        return read(tuple(slice(a, b) for a, b in bounds))
    k = entry.split
    in_rows, in_rest = _flat_range(bounds[:k], entry.shape[:k])
    out_rows, out_rest = _flat_range(bounds[k:], entry.shape[k:])
    block = read((out_rows, in_rows))  # (out rows, in rows), torch layout
    lead_in, lead_out = bounds[0][1] - bounds[0][0], bounds[k][1] - bounds[k][0]
    block = block.T.reshape((lead_in, *entry.shape[1:k], lead_out, *entry.shape[k + 1:]))
    return block[(slice(None), *in_rest, slice(None), *out_rest)]


def _flat_range(bounds: list[tuple[int, int]], dims: tuple[int, ...]) -> tuple[slice, list[slice]]:
    """The rows of the flattened dims that cover the block, and the cuts of the inner dims left to apply."""
    inner = math.prod(dims[1:])
    rows = slice(bounds[0][0] * inner, bounds[0][1] * inner)
    return rows, [slice(a, b) for a, b in bounds[1:]]


def _to_hf_layout(entry: Entry, x: np.ndarray) -> np.ndarray:
    if entry.split is None:
        return x
    return x.reshape(entry.hf_shape[1], entry.hf_shape[0]).T


# -- whole-model conversions ---------------------------------------------------------------------------------


def to_hf(params: dict, cfg: ModelConfig) -> dict[str, np.ndarray]:
    """gecko parameters -> HF `LlamaForCausalLM` state dict.

    Args:
        params: the `nnx.to_pure_dict` tree of a model with config `cfg` (numpy or fully addressable jax arrays;
            layer keys may be ints or digit strings).
        cfg: the model's shape.

    Returns:
        HF name -> contiguous numpy array in the parameters' dtype. Tied models have no `lm_head.weight`, as
        `save_pretrained` writes them.

    Raises:
        DataError: a parameter is missing, unexpected, or of the wrong shape.
    """
    table = entries(cfg)
    flat = _flatten(params)
    _check_names({e.gecko_name for e in table}, set(flat), "gecko parameters", cfg)
    out = {}
    for e in table:
        x = np.asarray(flat[e.gecko_name])
        if x.shape != e.shape:
            raise DataError(f"gecko parameter {e.gecko_name} has shape {x.shape}, expected {e.shape} "
                            f"(for {e.hf_name})", hint="the parameters were made for a different model config")
        out[e.hf_name] = np.ascontiguousarray(_to_hf_layout(e, x))
    return out


def from_hf(tensors: Mapping, cfg: ModelConfig) -> dict:
    """HF `LlamaForCausalLM` state dict -> gecko parameters.

    Args:
        tensors: HF name -> array-like (numpy of any float dtype including bfloat16, or torch tensors).
            A tied model's `lm_head.weight` may be present if equal to the embedding; `rotary_emb.inv_freq`
            buffers are skipped.
        cfg: the model's shape.

    Returns:
        The `nnx.to_pure_dict`-shaped tree of float32 numpy arrays (layer keys are ints), ready for `nnx.merge`.

    Raises:
        DataError: a tensor is missing, unexpected, or of the wrong shape.
    """
    table = entries(cfg)
    names = {n for n in tensors if not n.endswith(IGNORED_SUFFIXES)}
    if cfg.tie_embeddings and "lm_head.weight" in names:
        if not np.array_equal(_as_f32(tensors["lm_head.weight"]), _as_f32(tensors["model.embed_tokens.weight"])):
            raise DataError("lm_head.weight differs from model.embed_tokens.weight, but the model ties them",
                            hint="use a model config with tie_embeddings=false for this checkpoint")
        names.discard("lm_head.weight")
    _check_names({e.hf_name for e in table}, names, "HF tensors", cfg)
    out: dict = {}
    for e in table:
        x = _as_f32(tensors[e.hf_name])
        if x.shape != e.hf_shape:
            raise DataError(f"HF tensor {e.hf_name} has shape {x.shape}, expected {e.hf_shape} (for {e.gecko_name})",
                            hint="the checkpoint was saved for a different model config")
        _put(out, e.path, read_block(e, tuple(slice(None) for _ in e.shape), x.__getitem__))
    return out


def _as_f32(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor: numpy cannot take bfloat16 ones directly
        x = x.detach().cpu().float().numpy()
    return np.asarray(x).astype(np.float32, copy=False)


def _flatten(tree: Mapping, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _put(tree: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def _check_names(expected: set[str], got: set[str], what: str, cfg: ModelConfig) -> None:
    missing, extra = sorted(expected - got), sorted(got - expected)
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} ({_few(missing)})")
    if extra:
        parts.append(f"unexpected {len(extra)} ({_few(extra)})")
    raise DataError(f"{what}: expected {len(expected)} for a {cfg.n_layers}-layer model "
                    f"(tie_embeddings={cfg.tie_embeddings}), got {len(got)}: {'; '.join(parts)}",
                    hint="the weights and the model config describe different models")


def _few(names: list[str], n: int = 4) -> str:
    return ", ".join(names[:n]) + (f", ... {len(names) - n} more" if len(names) > n else "")


# -- config.json ---------------------------------------------------------------------------------------------


def hf_config(cfg: ModelConfig, *, dtype: str = "float32") -> dict:
    """The HF config.json of a `LlamaForCausalLM` with this shape.

    Args:
        cfg: the model's shape.
        dtype: the dtype the weights are saved in ("float32", "bfloat16").

    Returns:
        The config dict. rope_theta and the dtype are written both the transformers 4 way (`rope_theta`,
        `torch_dtype`) and the transformers 5 way (`rope_parameters`, `dtype`), so both read it.
    """
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.d_ff,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.kv_heads,
        "head_dim": cfg.head_dim,
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
        "rope_scaling": None,
        "tie_word_embeddings": cfg.tie_embeddings,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "initializer_range": cfg.init_std,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": dtype,
        "dtype": dtype,
    }


def model_config_from_hf(d: dict) -> ModelConfig:
    """The ModelConfig of an HF LLaMA config.json dict.

    Raises:
        ConfigError: the config is not a plain LLaMA gecko can build (another architecture, biases, an
            activation other than silu, rope scaling, or a head_dim other than hidden_size / heads).
    """
    arch = d.get("architectures") or ["LlamaForCausalLM"]
    if d.get("model_type", "llama") != "llama" or "LlamaForCausalLM" not in arch:
        raise ConfigError(f"config.json describes {arch} (model_type {d.get('model_type')!r}), not a LlamaForCausalLM")
    for key, want in (("hidden_act", "silu"), ("attention_bias", False), ("mlp_bias", False)):
        if d.get(key, want) != want:
            raise ConfigError(f"config.json has {key}={d[key]!r}; gecko's LLaMA supports only {key}={want!r}")
    rope = d.get("rope_parameters") or {}
    if rope.get("rope_type", "default") != "default" or d.get("rope_scaling"):
        raise ConfigError(f"config.json uses rope scaling ({rope or d.get('rope_scaling')}); gecko supports only "
                          "plain rotary embeddings")
    try:
        hidden, heads = int(d["hidden_size"]), int(d["num_attention_heads"])
        cfg = ModelConfig(
            vocab_size=int(d["vocab_size"]), max_seq_len=int(d.get("max_position_embeddings", 2048)),
            d_model=hidden, n_layers=int(d["num_hidden_layers"]), n_heads=heads,
            n_kv_heads=int(d.get("num_key_value_heads") or heads), d_ff=int(d["intermediate_size"]),
            rope_theta=float(rope.get("rope_theta", d.get("rope_theta", 10000.0))),
            norm_eps=float(d.get("rms_norm_eps", 1e-6)), tie_embeddings=bool(d.get("tie_word_embeddings", False)),
            init_std=float(d.get("initializer_range", 0.02)))
    except KeyError as e:
        raise ConfigError(f"config.json lacks {e.args[0]!r}", hint="is this an HF LLaMA config.json?") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config.json has a malformed model field: {e}", hint="is this an HF LLaMA config.json?") from None
    if d.get("head_dim") not in (None, cfg.head_dim):
        raise ConfigError(f"config.json has head_dim={d['head_dim']}, but gecko needs hidden_size / "
                          f"num_attention_heads = {cfg.head_dim}")
    return cfg
