"""`gecko pretrain --init-from hf_dir/`: parameters read from an HF LLaMA folder (config.json plus
model.safetensors or a sharded model.safetensors.index.json), placed on the mesh shard by shard.

No host holds the whole model: each parameter is a `jax.make_array_from_callback`, and each callback reads only
its device's block through safetensors' `get_slice` (a projection, stored transposed, reads the rows covering the
block and transposes them). bfloat16 files are read with safetensors' numpy backend once `ml_dtypes` (which
ships with jax) has registered the bfloat16 dtype with numpy; blocks are converted to float32.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack

import jax
import ml_dtypes  # noqa: F401  (registers numpy's "bfloat16", which safetensors' numpy backend asks for)
import numpy as np
from safetensors import SafetensorError, safe_open

from gecko_cli.console import log
from gecko_cli.errors import ConfigError, DataError
from gecko_cli.export.llama_map import (
    IGNORED_SUFFIXES,
    OTHER_FIELDS,
    SHAPE_FIELDS,
    Entry,
    entries,
    model_config_from_hf,
    read_block,
)
from gecko_cli.pretrain.model_config import ModelConfig

_HINT = "--init-from takes a folder written by transformers' save_pretrained (config.json and model.safetensors)"


def load_params(folder: str, cfg: ModelConfig, shardings: dict) -> dict:
    """The parameters of the HF LLaMA in `folder`, each a float32 jax array placed with its sharding.

    Args:
        folder: an HF `LlamaForCausalLM` folder in safetensors format.
        cfg: the model to load into; its shape fields must match the folder's config.json.
        shardings: NamedSharding per parameter, shaped like the parameters (`state.param_shardings`).

    Returns:
        The `nnx.to_pure_dict`-shaped parameter tree (layer keys are ints).

    Raises:
        ConfigError: config.json describes another model than `cfg`.
        DataError: the folder, config.json, a weight file or a tensor is missing, or a tensor has the wrong shape.
    """
    check_same_model(read_config(folder), cfg, folder)
    table = entries(cfg)
    where = _weight_files(folder)
    _check_tensors(table, where, cfg, folder)
    params: dict = {}
    with ExitStack() as stack:
        handles = {path: stack.enter_context(_open(path)) for path in set(where.values())}
        for e in table:
            tensor = handles[where[e.hf_name]].get_slice(e.hf_name)
            if tuple(tensor.get_shape()) != e.hf_shape:
                raise DataError(f"{e.hf_name} in {where[e.hf_name]} has shape {tuple(tensor.get_shape())}, "
                                f"expected {e.hf_shape}", hint="the weights do not match the folder's config.json")
            value = jax.make_array_from_callback(e.shape, _lookup(shardings, e.path), _reader(e, tensor))
            _put(params, e.path, value)
    return params


def _reader(entry: Entry, tensor):
    """The callback that makes one device's block; devices holding the same block share one read."""
    blocks: dict[tuple, np.ndarray] = {}

    def block(index: tuple[slice, ...]) -> np.ndarray:
        key = tuple(s.indices(n) for s, n in zip(index, entry.shape))
        if key not in blocks:
            blocks[key] = np.ascontiguousarray(read_block(entry, index, tensor.__getitem__), dtype=np.float32)
        return blocks[key]

    return block


def read_config(folder: str) -> ModelConfig:
    """The ModelConfig described by `folder`/config.json."""
    if not os.path.isdir(folder):
        raise DataError(f"no HF model folder at {folder}", hint=_HINT)
    path = os.path.join(folder, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except FileNotFoundError:
        raise DataError(f"{folder} has no config.json", hint=_HINT) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not valid JSON: {e}", hint=_HINT) from None
    if not isinstance(d, dict):
        raise DataError(f"{path} is not a JSON object", hint=_HINT)
    return model_config_from_hf(d)


def check_same_model(hf: ModelConfig, cfg: ModelConfig, folder: str) -> None:
    """Raise ConfigError when the shapes differ; warn when only rope_theta, norm_eps or max_seq_len do (changing
    those while continuing training is legitimate, e.g. a longer context)."""
    wrong = [(name, key) for name, key in SHAPE_FIELDS.items() if getattr(hf, name) != getattr(cfg, name)]
    if wrong:
        said = "; ".join(f"{key}={getattr(hf, name)} in config.json but {name}={getattr(cfg, name)} in the model"
                         for name, key in wrong)
        flags = " ".join(f"--model-arg {'n_kv_heads' if name == 'kv_heads' else name}={_flag(getattr(hf, name))}"
                         for name, _ in wrong if name != "vocab_size")
        hints = [f"pass a matching --model and --model-arg, e.g. {flags}"] if flags else []
        if any(name == "vocab_size" for name, _ in wrong):  # not a model argument: it comes from the packed data
            hints.append(f"pack the data with that model's tokenizer ({hf.vocab_size:,} entries), since the "
                         "vocabulary size is the packed data's")
        raise ConfigError(f"{folder}/config.json describes another model: {said}", hint="; ".join(hints))
    for name, key in OTHER_FIELDS.items():
        if getattr(hf, name) != getattr(cfg, name):
            log.warning("%s/config.json has %s=%s; training with %s=%s", folder, key, getattr(hf, name), name,
                        getattr(cfg, name))


def _flag(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _open(path: str):
    """safe_open(path) for numpy, a file that is not safetensors (damaged, truncated, another format) a DataError."""
    try:
        return safe_open(path, framework="numpy")
    except (SafetensorError, OSError) as e:
        raise DataError(f"{path} is not a readable safetensors file ({e})",
                        hint="copy the model's weight files again, or re-save it with save_pretrained") from None


def _weight_files(folder: str) -> dict[str, str]:
    """HF tensor name -> safetensors file that holds it."""
    index = os.path.join(folder, "model.safetensors.index.json")
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(index):
        try:
            with open(index, encoding="utf-8") as f:
                weight_map = json.load(f)["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataError(f"{index} is not a safetensors index (no weight_map): {e}", hint=_HINT) from None
        where = {name: os.path.join(folder, file) for name, file in weight_map.items()}
    elif os.path.exists(single):
        with _open(single) as f:
            where = dict.fromkeys(f.keys(), single)
    else:
        found = ", ".join(sorted(os.listdir(folder))) or "nothing"
        raise DataError(f"{folder} has no model.safetensors or model.safetensors.index.json (found: {found})",
                        hint="re-save the model with save_pretrained(folder, safe_serialization=True)")
    for path in sorted(set(where.values())):
        if not os.path.isfile(path):
            raise DataError(f"{path}, named in {index}, does not exist", hint="copy every weight file of the model")
    return where


def _check_tensors(table: list[Entry], where: dict[str, str], cfg: ModelConfig, folder: str) -> None:
    expected = {e.hf_name for e in table}
    missing = sorted(expected - set(where))
    extra = sorted(n for n in set(where) - expected
                   if not n.endswith(IGNORED_SUFFIXES) and not (cfg.tie_embeddings and n == "lm_head.weight"))
    if missing:
        raise DataError(f"{folder} lacks {len(missing)} of the model's {len(expected)} tensors: "
                        f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}",
                        hint="the weight files are incomplete or belong to another model")
    if extra:
        raise DataError(f"{folder} has {len(extra)} tensors a LLaMA of this shape does not: "
                        f"{', '.join(extra[:4])}{' ...' if len(extra) > 4 else ''}",
                        hint="the folder holds another architecture than its config.json says")


def _lookup(tree: dict, path: tuple):
    for key in path:
        tree = tree[key] if key in tree else tree[str(key)]
    return tree


def _put(tree: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value
