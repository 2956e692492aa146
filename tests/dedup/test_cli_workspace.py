import os
import shutil
import subprocess
import sys


def _gecko(cwd, *args):
    return subprocess.run([sys.executable, "-m", "gecko_cli", *args], cwd=cwd, capture_output=True, text=True)


def test_workspace_defaults_raw_to_clean(tiny_raw, tmp_path):
    done = _gecko(tmp_path, "dedup")
    assert done.returncode == 0, done.stderr
    assert os.path.exists(tmp_path / "clean" / "manifest.json")
    assert "read" in done.stdout


def test_missing_default_input_says_what_to_do(tmp_path):
    done = _gecko(tmp_path, "dedup")
    assert done.returncode == 1
    assert done.stderr.startswith("error: raw not found")
    assert "hint:" in done.stderr and "Traceback" not in done.stderr


def test_gecko_toml_paths_and_options(tiny_raw, tmp_path):
    shutil.move(tiny_raw, tmp_path / "texts")
    (tmp_path / "gecko.toml").write_text('[paths]\nraw = "texts"\nclean = "deduped"\n\n[dedup]\nkeep = "longest"\n')
    done = _gecko(tmp_path, "dedup", "--json")
    assert done.returncode == 0, done.stderr
    import json

    result = json.loads(done.stdout)
    assert result["complete"] and result["output"] == "deduped"
    with open(tmp_path / "deduped" / "manifest.json") as fh:
        assert json.load(fh)["config"]["keep"] == "longest"


def test_unknown_choice_is_a_usage_error(tiny_raw, tmp_path):
    done = _gecko(tmp_path, "dedup", "--keep", "last")
    assert done.returncode == 2
    assert "'last' is not one of 'first', 'longest'" in done.stderr


def test_bad_value_in_gecko_toml_is_a_user_error(tiny_raw, tmp_path):
    (tmp_path / "gecko.toml").write_text('[dedup]\nkeep = "last"\n')
    done = _gecko(tmp_path, "dedup")
    assert done.returncode == 1
    assert "error: --keep must be one of first, longest" in done.stderr
