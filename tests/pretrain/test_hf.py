"""HF LLaMA <-> gecko: the conversion table, loading an HF folder onto a mesh, and logits against transformers."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import torch  # noqa: E402
import transformers  # noqa: E402
from flax import nnx
from safetensors.numpy import load_file, save_file

from gecko_cli.errors import ConfigError, DataError
from gecko_cli.export import llama_map
from gecko_cli.pretrain import hf
from gecko_cli.pretrain.mesh import make_mesh
from gecko_cli.pretrain.model_config import ModelConfig
from gecko_cli.pretrain.state import abstract_model, param_shardings

CFG = ModelConfig(vocab_size=256, max_seq_len=128, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=128,
                  rope_theta=50000.0, norm_eps=1e-5)


def _torch_model(cfg: ModelConfig, seed: int = 0):
    """A random transformers LlamaForCausalLM of this shape, with norm scales away from 1 so they matter."""
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, intermediate_size=cfg.d_ff,
        num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.kv_heads,
        max_position_embeddings=cfg.max_seq_len, rms_norm_eps=cfg.norm_eps, rope_theta=cfg.rope_theta,
        tie_word_embeddings=cfg.tie_embeddings)
    model = transformers.LlamaForCausalLM(config).float().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0.0, 0.08)
    return model


@pytest.fixture(scope="module")
def hf_dirs(tmp_path_factory) -> dict:
    """Saved tiny models: untied float32, tied float32, and untied bfloat16 in several shards."""
    root = tmp_path_factory.mktemp("hf")
    out = {}
    model = _torch_model(CFG)
    model.save_pretrained(root / "untied")
    out["untied"] = (str(root / "untied"), model)
    tied = _torch_model(dataclasses.replace(CFG, tie_embeddings=True), seed=1)
    tied.save_pretrained(root / "tied")
    out["tied"] = (str(root / "tied"), tied)
    copy.deepcopy(model).to(torch.bfloat16).save_pretrained(root / "bf16", max_shard_size="40KB")
    out["bf16"] = (str(root / "bf16"), None)
    return out


def _config(folder: str) -> ModelConfig:
    with open(os.path.join(folder, "config.json")) as f:
        return llama_map.model_config_from_hf(json.load(f))


def _load(folder: str, cfg: ModelConfig):
    mesh = make_mesh({"data": 1, "fsdp": 1, "tensor": 1})
    graphdef, abstract = abstract_model(cfg, 0)
    return graphdef, hf.load_params(folder, cfg, param_shardings(abstract, mesh))


def _gecko_logits(graphdef, params, tokens: np.ndarray) -> np.ndarray:
    model = nnx.merge(graphdef, params)
    positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
    hidden = model(jnp.asarray(tokens), positions, None, impl="einsum")
    return np.asarray(model.logits(hidden))


# -- the table -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tied", [False, True])
def test_table_covers_every_parameter_with_its_shape(tied):
    cfg = dataclasses.replace(CFG, tie_embeddings=tied)
    _, abstract = abstract_model(cfg, 0)
    model_shapes = {".".join(str(k) for k in path): leaf.shape
                    for path, leaf in _flat_paths(nnx.to_pure_dict(abstract))}
    table = llama_map.entries(cfg)
    assert {e.gecko_name: e.shape for e in table} == model_shapes
    sd_shapes = {k: tuple(v.shape) for k, v in _torch_model(cfg).state_dict().items()}
    if tied:
        sd_shapes.pop("lm_head.weight")  # state_dict lists the tied head; save_pretrained does not write it
    assert {e.hf_name: e.hf_shape for e in table} == sd_shapes


def _zeros(cfg: ModelConfig) -> dict:
    return jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), nnx.to_pure_dict(abstract_model(cfg, 0)[1]))


def _flat_paths(tree, prefix=()):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flat_paths(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def test_config_round_trip_and_transformers_reads_it():
    d = llama_map.hf_config(CFG)
    assert llama_map.model_config_from_hf(d) == CFG
    config = transformers.LlamaConfig(**d)
    assert config.rope_parameters["rope_theta"] == CFG.rope_theta
    assert (config.num_key_value_heads, config.intermediate_size, config.rms_norm_eps) == (2, 128, 1e-5)


@pytest.mark.parametrize("change, message", [
    ({"hidden_act": "gelu"}, "hidden_act='gelu'"),
    ({"mlp_bias": True}, "mlp_bias=True"),
    ({"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4}}, "rope scaling"),
    ({"head_dim": 32}, "head_dim=32"),
    ({"architectures": ["MistralForCausalLM"]}, "not a LlamaForCausalLM"),
])
def test_unsupported_hf_configs_are_refused(change, message):
    with pytest.raises(ConfigError, match=message):
        llama_map.model_config_from_hf({**llama_map.hf_config(CFG), **change})


def test_round_trip_is_exact(hf_dirs):
    tensors = load_file(os.path.join(hf_dirs["untied"][0], "model.safetensors"))
    back = llama_map.to_hf(llama_map.from_hf(tensors, CFG), CFG)
    assert back.keys() == tensors.keys()
    for name, x in tensors.items():
        assert back[name].dtype == x.dtype and np.array_equal(back[name], x), name
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda a: rng.standard_normal(a.shape).astype(np.float32),
                          nnx.to_pure_dict(abstract_model(CFG, 0)[1]))
    again = llama_map.from_hf(llama_map.to_hf(params, CFG), CFG)
    assert jax.tree.all(jax.tree.map(np.array_equal, again, params))


def test_from_hf_takes_a_torch_state_dict_with_its_tied_head(hf_dirs):
    folder, model = hf_dirs["tied"]
    cfg = _config(folder)
    from_file = llama_map.from_hf(load_file(os.path.join(folder, "model.safetensors")), cfg)
    from_torch = llama_map.from_hf(model.state_dict(), cfg)  # lists lm_head.weight, the embedding itself
    assert jax.tree.all(jax.tree.map(np.array_equal, from_torch, from_file))
    untied_head = {**model.state_dict(), "lm_head.weight": torch.zeros(cfg.vocab_size, cfg.d_model)}
    with pytest.raises(DataError, match="lm_head.weight differs from model.embed_tokens.weight"):
        llama_map.from_hf(untied_head, cfg)


def test_read_block_matches_the_full_conversion():
    rng = np.random.default_rng(1)
    for e in llama_map.entries(CFG):
        x = rng.standard_normal(e.hf_shape).astype(np.float32)
        full = llama_map.read_block(e, tuple(slice(None) for _ in e.shape), x.__getitem__)
        for _ in range(5):
            index = []
            for n in e.shape:
                a = int(rng.integers(0, n))
                index.append(slice(a, int(rng.integers(a + 1, n + 1))))
            assert np.array_equal(llama_map.read_block(e, tuple(index), x.__getitem__), full[tuple(index)]), e


def test_from_hf_names_the_bad_tensor():
    tensors = llama_map.to_hf(_zeros(CFG), CFG)
    missing = dict(tensors)
    del missing["model.layers.1.mlp.up_proj.weight"]
    with pytest.raises(DataError, match=r"missing 1 \(model.layers.1.mlp.up_proj.weight\)"):
        llama_map.from_hf(missing, CFG)
    bad = {**tensors, "model.layers.0.self_attn.k_proj.weight": np.zeros((64, 64), np.float32)}
    with pytest.raises(DataError, match=r"model.layers.0.self_attn.k_proj.weight has shape \(64, 64\), expected "
                                        r"\(32, 64\)"):
        llama_map.from_hf(bad, CFG)
    with pytest.raises(DataError, match=r"unexpected 1 \(model.layers.0.mlp.up_proj.bias\)"):
        llama_map.from_hf({**tensors, "model.layers.0.mlp.up_proj.bias": np.zeros(128)}, CFG)


def test_to_hf_names_the_bad_parameter():
    params = _zeros(CFG)
    params["layers"][0]["attn"]["o"] = np.zeros((4, 16, 32), np.float32)
    with pytest.raises(DataError, match=r"layers.0.attn.o has shape \(4, 16, 32\)"):
        llama_map.to_hf(params, CFG)


# -- loading a folder ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["untied", "tied"])
def test_logits_match_transformers(hf_dirs, which):
    folder, model = hf_dirs[which]
    cfg = _config(folder)
    assert cfg == dataclasses.replace(CFG, tie_embeddings=which == "tied")
    graphdef, params = _load(folder, cfg)
    tokens = np.random.default_rng(2).integers(0, cfg.vocab_size, (2, 24))
    ours = _gecko_logits(graphdef, params, tokens)
    with torch.no_grad():
        theirs = model(torch.as_tensor(tokens)).logits.numpy()
    assert np.abs(theirs).max() > 0.5  # the comparison means something
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)
    assert np.array_equal(ours.argmax(-1), theirs.argmax(-1))


def test_bf16_sharded_folder_loads(hf_dirs):
    folder = hf_dirs["bf16"][0]
    assert os.path.exists(os.path.join(folder, "model.safetensors.index.json"))
    tensors = {}
    for name in os.listdir(folder):
        if name.endswith(".safetensors"):
            tensors.update(load_file(os.path.join(folder, name)))
    assert tensors["model.embed_tokens.weight"].dtype == ml_dtypes.bfloat16
    _, params = _load(folder, CFG)
    expected = llama_map.from_hf(tensors, CFG)
    assert jax.tree.all(jax.tree.map(lambda a, b: a.dtype == jnp.float32 and np.array_equal(a, b), params, expected))


def test_mismatched_config_names_field_and_values(hf_dirs):
    folder = hf_dirs["untied"][0]
    with pytest.raises(ConfigError) as info:
        _load(folder, dataclasses.replace(CFG, d_model=128, n_kv_heads=4))
    assert "hidden_size=64 in config.json but d_model=128" in info.value.message
    assert "num_key_value_heads=2 in config.json but kv_heads=4" in info.value.message
    assert "--model-arg d_model=64 --model-arg n_kv_heads=2" in info.value.hint
    with pytest.raises(ConfigError, match="tie_word_embeddings=False in config.json but tie_embeddings=True"):
        _load(folder, dataclasses.replace(CFG, tie_embeddings=True))
    # The vocabulary is the packed data's, not a --model-arg: the hint says to pack with the model's tokenizer.
    with pytest.raises(ConfigError) as info:
        _load(folder, dataclasses.replace(CFG, vocab_size=CFG.vocab_size + 8))
    assert f"vocab_size={CFG.vocab_size} in config.json but vocab_size={CFG.vocab_size + 8}" in info.value.message
    assert "--model-arg" not in info.value.hint and "pack the data with that model's tokenizer" in info.value.hint


def test_missing_tensor_is_named(hf_dirs, tmp_path):
    src = hf_dirs["untied"][0]
    tensors = load_file(os.path.join(src, "model.safetensors"))
    del tensors["model.layers.1.self_attn.o_proj.weight"]
    save_file(tensors, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(open(os.path.join(src, "config.json")).read())
    with pytest.raises(DataError, match="lacks 1 of the model's 21 tensors: model.layers.1.self_attn.o_proj.weight"):
        _load(str(tmp_path), CFG)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_unreadable_weight_file_is_named(hf_dirs, tmp_path, damage):
    src = hf_dirs["untied"][0]
    data = open(os.path.join(src, "model.safetensors"), "rb").read()
    (tmp_path / "model.safetensors").write_bytes(os.urandom(500) if damage == "garbage" else data[: len(data) // 2])
    (tmp_path / "config.json").write_text(open(os.path.join(src, "config.json")).read())
    with pytest.raises(DataError, match="model.safetensors is not a readable safetensors file") as info:
        _load(str(tmp_path), CFG)
    assert "save_pretrained" in info.value.hint


def test_missing_folder_and_files(tmp_path, hf_dirs):
    with pytest.raises(DataError, match="no HF model folder"):
        _load(str(tmp_path / "nope"), CFG)
    with pytest.raises(DataError, match="has no config.json") as info:
        _load(str(tmp_path), CFG)
    assert "save_pretrained" in info.value.hint
    (tmp_path / "config.json").write_text(open(os.path.join(hf_dirs["untied"][0], "config.json")).read())
    with pytest.raises(DataError, match="has no model.safetensors or model.safetensors.index.json"):
        _load(str(tmp_path), CFG)


_SHARDED = """
import os, sys
import jax, numpy as np
from safetensors.numpy import load_file
from gecko_cli.export import llama_map
from gecko_cli.pretrain import hf
from gecko_cli.pretrain.mesh import make_mesh
from gecko_cli.pretrain.model_config import ModelConfig
from gecko_cli.pretrain.state import abstract_model, param_shardings

folder = sys.argv[1]
cfg = hf.read_config(folder)
mesh = make_mesh({"data": 1, "fsdp": 4, "tensor": 2})
params = hf.load_params(folder, cfg, param_shardings(abstract_model(cfg, 0)[1], mesh))
expected = llama_map.from_hf(load_file(os.path.join(folder, "model.safetensors")), cfg)
for e in llama_map.entries(cfg):
    got, want = params, expected
    for k in e.path:
        got, want = got[k], want[k]
    assert np.array_equal(np.asarray(got), want), e.gecko_name
    for shard in got.addressable_shards:
        assert np.array_equal(np.asarray(shard.data), want[shard.index]), e.gecko_name
q = params["layers"][0]["attn"]["q"]
assert q.addressable_shards[0].data.shape == (16, 2, 16), q.sharding
print("ok", len(jax.devices()))
"""


def test_sharded_load_on_eight_devices(hf_dirs):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_SHARDED), hf_dirs["untied"][0]], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["ok", "8"]


def test_pretrain_init_from_starts_at_the_hf_models_loss(packed, tmp_path):
    """`gecko pretrain --init-from` trains from the HF weights: its first loss is transformers' loss on that batch."""
    from gecko_cli.pack.reader import PackedDataset
    from gecko_cli.pretrain.config import PretrainConfig
    from gecko_cli.pretrain.data import BatchShape, host_arrays
    from gecko_cli.pretrain.run import run
    from gecko_cli.pretrain.step import targets

    data = PackedDataset(packed)
    shape = ModelConfig(vocab_size=data.manifest["vocab_size"], max_seq_len=1024, d_model=64, n_layers=2, n_heads=4,
                        d_ff=192)
    model = _torch_model(shape, seed=3)
    model.save_pretrained(tmp_path / "hf")
    out = str(tmp_path / "run")
    run(PretrainConfig(input=packed, output=out, model="tiny", init_from=str(tmp_path / "hf"), steps=1,
                       batch_tokens=4 * data.seq_len, eval_every=0, doc_mask=False))
    with open(os.path.join(out, "metrics.jsonl")) as fh:
        first = json.loads(fh.readline())["loss"]
    b = host_arrays(data, BatchShape(rows=4, micro_rows=4, seq_len=data.seq_len), 0, 0, 0, 1)
    tokens = b["tokens"][0]
    _, w = targets(jnp.asarray(tokens), jnp.asarray(b["segment_ids"][0]), jnp.asarray(b["loss_mask"][0]))
    labels = np.where(np.roll(np.asarray(w), 1, axis=1) > 0, tokens, -100)  # HF shifts labels by one itself
    with torch.no_grad():
        want = model(input_ids=torch.tensor(tokens, dtype=torch.long), labels=torch.tensor(labels, dtype=torch.long)).loss
    assert abs(first - float(want)) < 1e-5 * float(want), (first, float(want))
