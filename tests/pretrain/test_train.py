import json
import os

import jax
import numpy as np
import pytest

from gecko_cli.errors import ConfigError, DataError
from gecko_cli.pack.reader import PackedDataset
from gecko_cli.pretrain import optim
from gecko_cli.pretrain import state as statelib
from gecko_cli.pretrain import step as steplib
from gecko_cli.pretrain.config import PretrainConfig
from gecko_cli.pretrain.data import BatchShape, host_arrays
from gecko_cli.pretrain.mesh import make_mesh
from gecko_cli.pretrain.model_config import resolve
from gecko_cli.pretrain.run import TrainingDiverged, run
from packed_corpus import pack_corpus

TINY = dict(model="tiny", batch_tokens=8 * 128, lr=3e-3, warmup_steps=4, eval_rows=64, log_every=100)


def _metrics(folder):
    with open(os.path.join(folder, "metrics.jsonl")) as fh:
        return [json.loads(line) for line in fh]


def test_tiny_model_overfits_one_batch(packed):
    data = PackedDataset(packed)
    model = resolve("tiny", {"vocab_size": data.manifest["vocab_size"]})
    tx = optim.adamw(optim.schedule(1e-2, 0, 80, 1.0), b1=0.9, b2=0.95, eps=1e-8, weight_decay=0.0, clip_norm=1.0)
    mesh = make_mesh({"data": 1, "fsdp": 1, "tensor": 1})
    graphdef, state, _ = statelib.create(model, tx, mesh, seed=0)
    batch = host_arrays(data, BatchShape(rows=4, micro_rows=4, seq_len=data.seq_len), step=0, seed=0, process=0, processes=1)
    fn = jax.jit(lambda s, b: steplib.train_step(graphdef, tx, steplib.StepSettings(), s, b))
    losses = []
    for _ in range(80):
        state, m = fn(state, batch)
        losses.append(float(m["loss"]))
    assert losses[0] > 6.0  # about ln(1024) at initialisation
    assert losses[-1] < 0.25 * losses[0], losses[::10]


def test_learns_on_the_corpus_and_writes_its_record(packed, tmp_path):
    out = str(tmp_path / "run")
    report = run(PretrainConfig(input=packed, output=out, steps=40, eval_every=20, checkpoint_every=20, **TINY))
    assert (report.start_step, report.end_step) == (0, 40)
    steps = [m for m in _metrics(out) if "kind" not in m]
    vals = [m for m in _metrics(out) if m.get("kind") == "val"]
    assert [m["step"] for m in steps] == list(range(40))
    assert {"loss", "lr", "grad_norm", "tokens_per_s", "mfu", "step_s"} <= set(steps[0])
    assert steps[0]["lr"] == 0.0 and abs(steps[4]["lr"] - 3e-3) < 1e-9  # linear warmup to the peak
    assert np.mean([m["loss"] for m in steps[-5:]]) < steps[0]["loss"] - 1.0
    assert len(vals) == 2 and vals[1]["val_loss"] < vals[0]["val_loss"] < steps[0]["loss"]
    for lang in ("ko", "en", "code"):  # bits per byte per language, from the packed rows' per-language bytes
        assert 0 < vals[1][f"val_bpb_{lang}"] < vals[0][f"val_bpb_{lang}"]
    record = json.load(open(os.path.join(out, "config.json")))
    assert record["model"]["vocab_size"] == 1024 and record["data"]["seq_len"] == 128
    assert record["mesh"] == {"data": 1, "fsdp": 1, "tensor": 1} and record["dtype"] == "float32"
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == ["20", "40"]
    assert os.path.isfile(os.path.join(out, "tokenizer", "tokenizer.json"))  # the run holds its tokenizer

    again = run(PretrainConfig(input=packed, output=out, steps=40, eval_every=20, checkpoint_every=20, **TINY))
    assert (again.start_step, again.end_step) == (40, 40)  # complete: nothing to do
    with pytest.raises(ConfigError, match="other settings: lr"):
        run(PretrainConfig(input=packed, output=out, steps=40, **{**TINY, "lr": 1e-3}))


def test_gradient_accumulation_gives_the_same_steps(packed, tmp_path):
    a = run(PretrainConfig(input=packed, output=str(tmp_path / "a"), steps=3, eval_every=0, **TINY))
    b = run(PretrainConfig(input=packed, output=str(tmp_path / "b"), steps=3, eval_every=0, micro_batch=2, **TINY))
    assert a.end_step == b.end_step == 3
    la = [m["loss"] for m in _metrics(str(tmp_path / "a"))]
    lb = [m["loss"] for m in _metrics(str(tmp_path / "b"))]
    np.testing.assert_allclose(la, lb, rtol=1e-5)


def test_divergence_stops_and_keeps_the_last_good_checkpoint(packed, tmp_path):
    out = str(tmp_path / "run")
    cfg = PretrainConfig(input=packed, output=out, steps=20, eval_every=0, checkpoint_every=1,
                         **{**TINY, "lr": 1e30, "warmup_steps": 0, "clip_norm": 0.0})
    with pytest.raises(TrainingDiverged, match="the loss became .* at step (\\d+).*last good checkpoint"):
        run(cfg)
    steps = [m["step"] for m in _metrics(out)]
    saved = sorted(int(n) for n in os.listdir(os.path.join(out, "checkpoints")) if n.isdigit())
    assert saved and saved[-1] == len(steps)  # the failing step saved nothing


def test_data_and_model_mismatches_are_clear_errors(packed, tokenizer_dir, tmp_path):
    out = str(tmp_path / "run")
    run(PretrainConfig(input=packed, output=out, steps=1, eval_every=0, **TINY))
    other = pack_corpus(tmp_path, tokenizer_dir, 64, "packed64")
    with pytest.raises(ConfigError, match="other packed data: .*seq_len|other packed data: packed_fingerprint"):
        run(PretrainConfig(input=other, output=out, steps=1, eval_every=0, **{**TINY, "batch_tokens": 8 * 64}))
    with pytest.raises(ConfigError, match="context of 64 tokens, shorter than the packed rows' 128"):
        run(PretrainConfig(input=packed, output=str(tmp_path / "r2"), steps=1, model_args=("max_seq_len=64",), **TINY))
    with pytest.raises(ConfigError, match="vocab_size=50 differs"):
        run(PretrainConfig(input=packed, output=str(tmp_path / "r3"), steps=1, model_args=("vocab_size=50",), **TINY))
    with pytest.raises(ConfigError, match="mesh .* needs at least 2 devices"):
        run(PretrainConfig(input=packed, output=str(tmp_path / "r4"), steps=1, mesh="2x1", **TINY))
    with pytest.raises(DataError, match="is not a folder"):
        run(PretrainConfig(input=str(tmp_path / "nothing"), output=str(tmp_path / "r5"), steps=1, **TINY))
