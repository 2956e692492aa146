import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from gecko_cli.errors import ConfigError, DataError

ARGS = ["--batch-tokens", "1024", "--log-every", "100", "--eval-rows", "16"]


def _gecko(cwd, *args, env=None):
    return subprocess.run([sys.executable, "-m", "gecko_cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def test_workspace_defaults_and_user_errors(packed, tmp_path):
    done = _gecko(tmp_path, "pretrain", "--steps", "2")
    assert done.returncode == 1 and "packed not found" in done.stderr and "gecko pack" in done.stderr
    assert "Traceback" not in done.stderr
    shutil.copytree(packed, tmp_path / "packed")
    done = _gecko(tmp_path, "pretrain", "--steps", "2", "--eval-every", "2", *ARGS)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "runs/tiny: at step 2 of 2" in done.stdout
    assert (tmp_path / "runs" / "tiny" / "checkpoints" / "2").is_dir()
    done = _gecko(tmp_path, "pretrain", "--steps", "2", "--mesh", "3x1", *ARGS)
    assert done.returncode == 1 and "error: mesh" in done.stderr and "hint:" in done.stderr
    assert "Traceback" not in done.stderr
    done = _gecko(tmp_path, "pretrain", "--steps", "2", "--batch-tokens", "1000")
    assert done.returncode == 1 and "not a multiple of the packed rows' 128 tokens" in done.stderr
    done = _gecko(tmp_path, "pretrain", "--steps", "3", *ARGS)  # another schedule in the same run folder
    assert done.returncode == 1 and "other settings: steps" in done.stderr and "--overwrite" in done.stderr
    assert _gecko(tmp_path, "pretrain", "--model", "huge").returncode == 2
    assert _gecko(tmp_path, "pretrain", "--model-arg", "layers=2", *ARGS).returncode == 1


def test_sigterm_checkpoints_and_the_rerun_finishes(packed, tmp_path):
    cmd = [sys.executable, "-m", "gecko_cli", "pretrain", packed, str(tmp_path / "run"), "--steps", "60",
           "--checkpoint-every", "1000", "--eval-every", "0", *ARGS]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.exists() and metrics.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "stopped by SIGTERM after step" in out
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    saved = [int(n) for n in os.listdir(tmp_path / "run" / "checkpoints") if n.isdigit()]
    assert saved == [steps[-1] + 1] and saved[0] < 60
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resuming from the checkpoint after step {saved[0]}" in done.stderr and "at step 60 of 60" in done.stdout
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert steps == list(range(60))


def test_run_folder_that_is_the_input_or_another_stage_output(packed, tiny_raw, tmp_path):
    before = sorted(os.listdir(packed))
    done = _gecko(tmp_path, "pretrain", packed, packed, "--steps", "1", *ARGS)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.startswith(f"error: the run folder {packed} is the input {packed} itself")
    assert "hint:" in done.stderr and sorted(os.listdir(packed)) == before
    assert _gecko(tmp_path, "dedup", tiny_raw, "clean").returncode == 0
    done = _gecko(tmp_path, "pretrain", packed, "clean", "--steps", "1", *ARGS)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.startswith("error: clean is not empty and is not a gecko pretrain run: it holds the output "
                                  "of gecko dedup (manifest.json)")
    assert not (tmp_path / "clean" / "config.json").exists()


@pytest.mark.parametrize("output, error, why", [
    ("afile", DataError, "afile exists and is not a folder"),
    ("afile/run", DataError, "afile/run is inside a file, not a folder"),
    ("shards", ConfigError, "shards is not empty and is not a gecko pretrain run: it holds shards (shard-00000.arrow)"),
    ("work", ConfigError, "work is not empty and is not a gecko pretrain run: it holds an unfinished output"),
])
def test_run_folder_that_cannot_hold_a_run(packed, tmp_path, output, error, why):
    from gecko_cli.pretrain.config import PretrainConfig
    from gecko_cli.pretrain.run import run

    (tmp_path / "afile").write_text("x")
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "shard-00000.arrow").write_bytes(b"")
    (tmp_path / "work" / ".gecko-work").mkdir(parents=True)
    with pytest.raises(error, match=re.escape(f"{tmp_path}/{why}")):
        run(PretrainConfig(input=packed, output=str(tmp_path / output), model="tiny", steps=1, batch_tokens=1024))
    assert sorted(os.listdir(tmp_path)) == ["afile", "shards", "work"]
