import math

import pytest

from gecko_cli.config import merge
from gecko_cli.errors import ConfigError
from gecko_cli.pretrain.config import PretrainConfig
from gecko_cli.pretrain.data import batch_shape
from gecko_cli.pretrain.mesh import parse_mesh, resolve_mesh, spec
from gecko_cli.pretrain.model_config import PRESETS, parse_overrides, resolve
from gecko_cli.units import parse_count


@pytest.mark.parametrize("text,devices,want", [
    ("64x4", 512, {"data": 2, "fsdp": 64, "tensor": 4}),
    ("64x4", 256, {"data": 1, "fsdp": 64, "tensor": 4}),
    ("8", 8, {"data": 1, "fsdp": 8, "tensor": 1}),
    ("-1x2", 8, {"data": 1, "fsdp": 4, "tensor": 2}),
    ("data=2,fsdp=32,tensor=4", 256, {"data": 2, "fsdp": 32, "tensor": 4}),
    ("fsdp=2,tensor=2", 8, {"data": 2, "fsdp": 2, "tensor": 2}),
    ("data=-1,tensor=2", 8, {"data": 4, "fsdp": 1, "tensor": 2}),
])
def test_mesh_forms(text, devices, want):
    assert resolve_mesh(parse_mesh(text), devices) == want


@pytest.mark.parametrize("text,devices,message", [
    ("3x1", 8, "does not divide"),
    ("4x2", 1, "needs at least 8 devices, but 1"),
    ("data=2,fsdp=2,tensor=2", 4, "needs 8 devices"),
    ("-1x-1", 8, "at most one"),
    ("4x2x2", 16, "expected FSDPxTENSOR"),
    ("pipe=2", 2, "not a mesh axis"),
    ("0x1", 1, "positive"),
    ("ax2", 2, "not a whole number"),
])
def test_bad_meshes_are_clear_errors(text, devices, message):
    with pytest.raises(ConfigError, match=message):
        resolve_mesh(parse_mesh(text), devices)


def test_logical_rules_shard_weights_over_fsdp_and_heads_over_tensor():
    assert tuple(spec(("embed", "mlp"))) == ("fsdp", "tensor")
    assert tuple(spec(("batch", "seq", "act_embed"))) == (("data", "fsdp"), None, None)
    assert tuple(spec(("heads", "head_dim", "embed"))) == ("tensor", None, "fsdp")


def test_batch_layout_checks():
    s = batch_shape(8 * 256, 4, 256, batch_devices=2, num_processes=1)
    assert (s.rows, s.micro_rows, s.accum) == (8, 4, 2)
    with pytest.raises(ConfigError, match="not a multiple of the packed rows"):
        batch_shape(1000, 0, 256, 1, 1)
    with pytest.raises(ConfigError, match="does not divide the batch"):
        batch_shape(8 * 256, 3, 256, 1, 1)
    with pytest.raises(ConfigError, match="cannot be split over the mesh's 4 batch devices"):
        batch_shape(6 * 256, 0, 256, 4, 1)


def test_presets_and_overrides():
    b7 = PRESETS["gecko-7b"]
    assert (b7.n_layers, b7.d_model, b7.n_heads, b7.d_ff, b7.vocab_size, b7.max_seq_len, b7.rope_theta) == (
        32, 4096, 32, 11008, 32000, 8192, 10000.0)
    assert 6.6e9 < b7.num_params() < 6.8e9  # LLaMA-7B: 6.74B parameters
    m = resolve("small", parse_overrides(["n_layers=4", "n_kv_heads=2", "tie_embeddings=true", "rope_theta=5e5"]))
    assert (m.n_layers, m.kv_heads, m.tie_embeddings, m.rope_theta) == (4, 2, True, 5e5)
    with pytest.raises(ConfigError, match="not key=value"):
        parse_overrides(["layers=4"])
    with pytest.raises(ConfigError, match="expected int"):
        parse_overrides(["n_layers=four"])
    with pytest.raises(ConfigError, match="not a multiple of n_kv_heads"):
        resolve("tiny", {"n_kv_heads": 3})


def test_counts_and_config_checks():
    assert parse_count("4M", "--batch-tokens") == 4 * 2**20
    assert parse_count("64K", "x") == 65536 and parse_count("2048", "x") == 2048
    for bad in ("4MB", "1.5", "lots", "nan", "inf", "9" * 400):
        with pytest.raises(ConfigError, match="whole count"):
            parse_count(bad, "--batch-tokens")
    with pytest.raises(ConfigError, match="--batch-tokens must be positive, not 0"):
        parse_count("0", "--batch-tokens")
    with pytest.raises(ConfigError, match="--steps must be at least 1"):
        PretrainConfig(steps=0)
    with pytest.raises(ConfigError, match="--mesh"):
        PretrainConfig(mesh="2y2")


@pytest.mark.parametrize("name, flag", [("lr", "--lr"), ("final_lr_ratio", "--final-lr-ratio"),
                                        ("weight_decay", "--weight-decay"), ("clip_norm", "--clip-norm"),
                                        ("z_loss", "--z-loss"), ("peak_flops", "--peak-flops")])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_float_settings_must_be_finite(name, flag, value):
    with pytest.raises(ConfigError, match=f"^{flag} must be a finite number, not {value}$"):
        merge(PretrainConfig, "pretrain", {}, {name: value}, explicit={name})


def test_non_finite_learning_rate_stops_pretrain_before_it_starts(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "GECKO_DEBUG"}

    def gecko(*args):
        return subprocess.run([sys.executable, "-m", "gecko_cli", *args], capture_output=True, text=True, cwd=tmp_path,
                              env={**env, "NO_COLOR": "1"}, timeout=120)

    for value in ("nan", "inf"):
        done = gecko("pretrain", "packed", "run", "--lr", value)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.splitlines()[0] == f"error: --lr must be a finite number, not {value}"
    (tmp_path / "c.toml").write_text("[pretrain]\nb2 = inf\n")
    done = gecko("pretrain", "packed", "run", "--config", "c.toml")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[0] == "error: c.toml: [pretrain] b2 = inf is not a finite number"
    assert not (tmp_path / "run").exists()
