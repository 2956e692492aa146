"""Runs of `gecko pretrain` in separate processes: simulated multi-device meshes, several processes joined by
gloo collectives, and a real SIGKILL in the middle of a run."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

from helpers import kill_when

ARGS = ["--model", "tiny", "--batch-tokens", "1024", "--lr", "3e-3", "--warmup-steps", "2", "--eval-rows", "32",
        "--log-every", "100"]


def _env(devices: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
    return env


def _cmd(packed, out, *extra):
    return [sys.executable, "-m", "gecko_cli", "pretrain", packed, out, *ARGS, *extra]


def _gecko(packed, out, *extra, devices=1):
    done = subprocess.run(_cmd(packed, out, *extra), env=_env(devices), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _records(out):
    with open(os.path.join(out, "metrics.jsonl")) as fh:
        recs = [json.loads(line) for line in fh]
    steps = [(r["step"], r["loss"], r["grad_norm"]) for r in recs if "kind" not in r]
    vals = [{k: v for k, v in r.items()} for r in recs if r.get("kind") == "val"]
    return steps, vals


def test_mesh_4x2_on_8_devices_matches_one_device(packed, tmp_path):
    one = str(tmp_path / "one")
    eight = str(tmp_path / "eight")
    _gecko(packed, one, "--steps", "4", "--eval-every", "0")
    done = _gecko(packed, eight, "--steps", "4", "--eval-every", "0", "--mesh", "4x2", devices=8)
    assert "data=1 x fsdp=4 x tensor=2 on 8 cpu device(s)" in done.stderr
    a, _ = _records(one)
    b, _ = _records(eight)
    np.testing.assert_allclose([x[1] for x in a], [x[1] for x in b], rtol=1e-5)
    np.testing.assert_allclose([x[2] for x in a], [x[2] for x in b], rtol=1e-4)
    assert json.load(open(os.path.join(eight, "config.json")))["mesh"] == {"data": 1, "fsdp": 4, "tensor": 2}


def test_sigkill_mid_run_then_rerun_is_bit_identical(packed, tmp_path):
    ref, out = str(tmp_path / "ref"), str(tmp_path / "out")
    extra = ("--steps", "14", "--checkpoint-every", "4", "--eval-every", "7")
    _gecko(packed, ref, *extra)
    assert kill_when(_cmd(packed, out, *extra), os.path.join(out, "checkpoints", "8"), timeout_s=300), \
        "the run finished before it could be killed"
    ckpts = [n for n in os.listdir(os.path.join(out, "checkpoints")) if n.isdigit()]
    assert "14" not in ckpts
    _gecko(packed, out, *extra)
    a_steps, a_vals = _records(ref)
    b_steps, b_vals = _records(out)
    assert [s[0] for s in b_steps] == list(range(14))
    assert a_steps == b_steps  # exact floats: the resumed run repeats the uninterrupted one bit for bit
    assert a_vals == b_vals


def test_two_processes_of_two_devices_match_one_process_of_four(packed, tmp_path):
    single = str(tmp_path / "single")
    _gecko(packed, single, "--steps", "3", "--eval-every", "3", devices=4)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    multi = str(tmp_path / "multi")
    procs = [subprocess.Popen(_cmd(packed, multi, "--steps", "3", "--eval-every", "3", "--coordinator",
                                   f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)),
                              env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    assert "on 4 cpu device(s)" in outs[0][1] and "2 process(es)" in outs[0][1]
    a_steps, a_vals = _records(single)
    b_steps, b_vals = _records(multi)
    np.testing.assert_allclose([x[1] for x in a_steps], [x[1] for x in b_steps], rtol=1e-5)
    np.testing.assert_allclose(a_vals[0]["val_loss"], b_vals[0]["val_loss"], rtol=1e-5)
    assert sorted(n for n in os.listdir(os.path.join(multi, "checkpoints")) if n.isdigit()) == ["3"]


def test_multi_process_flags_are_checked_before_jax_starts(tmp_path):
    import pytest

    from gecko_cli.errors import ConfigError
    from gecko_cli.pretrain import setup
    from gecko_cli.pretrain.config import PretrainConfig

    def check(**flags):
        cfg = PretrainConfig(input=str(tmp_path / "packed"), output=str(tmp_path / "run"), **flags)
        with pytest.raises(ConfigError) as info:
            setup.init_processes(cfg)
        return info.value.message

    assert "together" in check(process_id=1)  # one of the three alone
    assert "together" in check(coordinator="10.0.0.1:1234")
    for bad in ("bogus", "10.0.0.1:", ":1234", "host:port", "host:70000"):
        assert "--coordinator must be host:port" in check(coordinator=bad, num_processes=2, process_id=0)
    assert "--process-id must be within 0..1" in check(coordinator="localhost:1234", num_processes=2, process_id=2)
