import math
import os

import pytest

from gecko_cli.balance.config import BalanceConfig
from gecko_cli.config import load_file, merge, workspace_path
from gecko_cli.dedup.config import DedupConfig
from gecko_cli.errors import ConfigError
from gecko_cli.eval.config import EvalConfig
from gecko_cli.pack.config import PackConfig
from gecko_cli.tokenizer.config import TokenizerConfig


def test_file_values_apply_and_explicit_flags_win(tmp_path):
    path = tmp_path / "gecko.toml"
    path.write_text('[dedup]\nthreshold = 0.9\nkeep = "longest"\nexclude = ["*.md"]\nngram = 4\n')
    file = load_file(str(path))
    flags = {"threshold": 0.7, "keep": "first", "ngram": 5, "input": "in", "output": "out"}
    cfg = merge(DedupConfig, "dedup", file, flags, explicit={"threshold"})
    assert cfg.threshold == 0.7            # given on the command line
    assert cfg.keep == "longest"           # from the file
    assert cfg.ngram == 4
    assert cfg.exclude == ("*.md",)


def test_unknown_key_names_it_and_lists_valid_ones(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[dedup]\nthreshhold = 0.9\n")
    with pytest.raises(ConfigError, match="threshhold") as e:
        merge(DedupConfig, "dedup", load_file(str(path)), {}, set())
    assert "threshold" in e.value.hint


def test_wrong_type_is_a_config_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[dedup]\nngram = "five"\n')
    with pytest.raises(ConfigError, match="ngram"):
        merge(DedupConfig, "dedup", load_file(str(path)), {}, set())


def test_bad_toml_and_missing_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[dedup\n")
    with pytest.raises(ConfigError, match="TOML"):
        load_file(str(path))
    with pytest.raises(ConfigError, match="does not exist"):
        load_file(str(tmp_path / "nope.toml"))


def test_workspace_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_file(None) == {}
    (tmp_path / "gecko.toml").write_text('[paths]\nclean = "data/clean"\n')
    file = load_file(None)
    assert workspace_path(file, "clean") == "data/clean"
    assert workspace_path(file, "raw") == "raw"
    with pytest.raises(ConfigError, match="cleen"):
        workspace_path({"paths": {"cleen": "x"}}, "raw")


@pytest.mark.parametrize("kwargs, match", [
    ({"threshold": 1.5}, "threshold"),
    ({"bands": 10, "rows": 10}, "num-perm"),
    ({"keep": "last"}, "keep"),
    ({"input": "same", "output": "same"}, "is the input same itself"),
    ({"input": "same", "output": "same/out"}, "is inside the input folder same"),
    ({"input": "same/in", "output": "same"}, "is inside the output folder same"),
])
def test_bad_settings_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        DedupConfig(**kwargs)


def test_auto_bands_resolves_to_a_valid_banding():
    cfg = DedupConfig(auto_bands=True, threshold=0.7).resolved()
    assert cfg.bands * cfg.rows == cfg.num_perm <= 112
    assert not cfg.auto_bands


# --- values that no setting can take ---------------------------------------------------------------------------

def _gecko(*args: str, cwd=None):
    """Run gecko in a fresh process, as a user would."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "GECKO_DEBUG"}
    return subprocess.run([sys.executable, "-m", "gecko_cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**env, "NO_COLOR": "1", "COLUMNS": "200"}, timeout=120)


def _user_error(done) -> str:
    """The `error:` line of a run that stopped on a user error, with a hint and no traceback."""
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "hint: " in done.stderr
    return done.stderr.splitlines()[0]


@pytest.mark.parametrize("cls, section, name, flag", [
    (BalanceConfig, "balance", "max_epochs", "--max-epochs"),
    (DedupConfig, "dedup", "threshold", "--threshold"),
    (PackConfig, "pack", "val_fraction", "--val-fraction"),
    (EvalConfig, "eval", "temperature", "--temperature"),
    (EvalConfig, "eval", "timeout_s", "--timeout-s"),
    (TokenizerConfig, "train-tokenizer", "heldout_fraction", "--heldout-fraction"),
])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_every_float_flag_must_be_finite(cls, section, name, flag, value):
    flags = {"input": "in", "output": "out", name: value}
    with pytest.raises(ConfigError, match=f"^{flag} must be a finite number, not {value}$"):
        merge(cls, section, {}, flags, explicit={name})


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_every_float_in_a_config_file_must_be_finite(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(f"[balance]\nmax_epochs = {text}\n")
    with pytest.raises(ConfigError, match=f"c.toml: \\[balance\\] max_epochs = {text} is not a finite number"):
        merge(BalanceConfig, "balance", load_file(str(path)), {"input": "in", "output": "out"}, set())


def test_nan_flag_stops_the_command_with_a_user_error(tmp_path):
    line = _user_error(_gecko("balance", str(tmp_path / "in"), str(tmp_path / "out"), "--max-epochs", "nan"))
    assert line == "error: --max-epochs must be a finite number, not nan"
    assert not (tmp_path / "out").exists()


# --- config files ----------------------------------------------------------------------------------------------

def test_config_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "b.toml"
    path.write_bytes(b"\xff\xfe[dedup]\n")
    with pytest.raises(ConfigError, match="b.toml: not UTF-8 text") as e:
        load_file(str(path))
    assert "UTF-8" in e.value.hint
    line = _user_error(_gecko("dedup", str(tmp_path / "in"), str(tmp_path / "out"), "--config", str(path)))
    assert "b.toml: not UTF-8 text" in line


@pytest.mark.parametrize("text, cls, section, message", [
    ("[dedup]\nexclude = 5", DedupConfig, "dedup", "[dedup] exclude = 5 is not a list of strings"),
    ("[dedup]\nexclude = [1, 2]", DedupConfig, "dedup", "[dedup] exclude = [1, 2] is not a list of strings"),
    ("[dedup]\nkeep_work = 1", DedupConfig, "dedup", "[dedup] keep_work = 1 is not true or false"),
    ("[dedup]\nthreshold = \"0.8\"", DedupConfig, "dedup", "[dedup] threshold = \"0.8\" is not a finite number"),
    ("[dedup]\nkeep = 5", DedupConfig, "dedup", "[dedup] keep = 5 is not a string"),
    ("[balance]\nmix = 5", BalanceConfig, "balance", "[balance] mix = 5 is not a table of finite numbers"),
    ("[balance]\nmix = {ko = \"a\"}", BalanceConfig, "balance", "[balance] mix = {'ko': 'a'} is not a table"),
    ("[balance]\nrules = 5", BalanceConfig, "balance", "[balance] rules = 5 is not a table"),
    ("[balance.rules]\nmax_chars = 1.5", BalanceConfig, "balance", "[balance.rules] max_chars = 1.5 is not a whole number"),
    ("[eval]\nlimit = \"x\"", EvalConfig, "eval", "[eval] limit = \"x\" is not a whole number"),
])
def test_wrongly_typed_values_name_the_file_the_key_and_the_type(tmp_path, text, cls, section, message):
    path = tmp_path / "c.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as e:
        merge(cls, section, load_file(str(path)), {"input": "in", "output": "out"}, set())
    assert e.value.message.startswith(f"{path}: {message}")
    assert e.value.hint.startswith("write it")


def test_mix_rules_and_total_may_be_written_as_text(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[balance]\nmix = "ko=0.5,en=0.5"\ntotal = "2MB"\n[balance.rules]\nmin_chars = "off"\n'
                    "max_chars = 5000\n")
    cfg = merge(BalanceConfig, "balance", load_file(str(path)), {"input": "in", "output": "out"}, set())
    assert (cfg.mix, cfg.total, cfg.rules.min_chars, cfg.rules.max_chars) == ((("ko", 0.5), ("en", 0.5)), 2e6, None, 5000)


def test_wrongly_typed_value_stops_the_command_before_any_work(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[balance]\nrules = 5\n")
    line = _user_error(_gecko("balance", str(tmp_path / "in"), str(tmp_path / "out"), "--config", str(path)))
    assert line == f"error: {path}: [balance] rules = 5 is not a table"


@pytest.mark.parametrize("text, message", [
    ("[bogus]\nx = 1", "unknown table [bogus]"),
    ("[train_tokenizer]\nvocab = 1000", "unknown table [train_tokenizer]"),
    ("x = 1", "x = 1 is outside any table"),
    ("[paths]\nbogus = \"x\"", "unknown key 'bogus' in [paths]"),
    ("[paths]\nraw = 5", "[paths] raw = 5 is not a string"),
])
def test_tables_and_paths_no_command_reads_are_errors(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as e:
        load_file(str(path))
    assert e.value.message == f"{path}: {message}"
    assert e.value.hint


def test_unknown_table_in_the_workspace_file_stops_any_command(tmp_path):
    (tmp_path / "gecko.toml").write_text('[paths]\nclean = "c"\n[bogus]\nx = 1\n')
    line = _user_error(_gecko("dedup", "in", "out", cwd=tmp_path))
    assert line == "error: gecko.toml: unknown table [bogus]"


# --- messages name what the user typed ---------------------------------------------------------------------------

def test_messages_name_the_flag_or_the_config_key():
    from gecko_cli.config import option_name

    assert option_name("shard_bytes") == "--shard-size"
    assert option_name("model_args") == "--model-arg"
    assert option_name("max_epochs") == "--max-epochs"
    assert option_name("batch_rows") == "batch_rows in the config file"
    with pytest.raises(ConfigError, match="^--shard-size must be at least 1, not 0$"):
        DedupConfig(shard_bytes=0)
    with pytest.raises(ConfigError, match="^batch_rows in the config file must be at least 1, not 0$"):
        DedupConfig(batch_rows=0)
    with pytest.raises(ConfigError, match="^token_sample_bytes in the config file must be at least 1, not 0$"):
        BalanceConfig(token_sample_bytes=0)
    with pytest.raises(ConfigError, match="^--max-token-chars must be at least 2, not 1$"):
        TokenizerConfig(max_token_chars=1)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_fewshot": -1}, "--num-fewshot must be 0 or more, not -1"),
    ({"limit": 0}, "--limit must be at least 1, not 0"),
    ({"temperature": -0.5}, "--temperature must not be negative, not -0.5"),
    ({"timeout_s": 0.0}, "--timeout-s must be positive, not 0.0"),
])
def test_eval_settings_name_the_one_flag_that_is_wrong(kwargs, message):
    with pytest.raises(ConfigError) as e:
        EvalConfig(**kwargs)
    assert str(e.value) == message
    EvalConfig(num_fewshot=0, limit=1, temperature=0.0, timeout_s=0.5)  # the bounds themselves are allowed


def test_shard_size_zero_names_shard_size(tmp_path):
    line = _user_error(_gecko("dedup", str(tmp_path / "in"), str(tmp_path / "out"), "--shard-size", "0"))
    assert line == "error: --shard-size must be at least 1, not 0"


@pytest.mark.parametrize("flag, key, bad", [("--suite", "suites", '["bogus"]'), ("--shard-size", "shard_bytes", "0")])
def test_a_renamed_flag_given_explicitly_wins_over_the_config_file(tmp_path, flag, key, bad):
    # --suite sets `suites` and --shard-size sets `shard_bytes`: given on the command line, they beat the file.
    import subprocess
    import sys

    section = "eval" if flag == "--suite" else "dedup"
    (tmp_path / "gecko.toml").write_text(f"[{section}]\n{key} = {bad}\n")
    cmd = [sys.executable, "-m", "gecko_cli", section, "nope", *(["out"] if section == "dedup" else [])]
    value = "kmmlu" if flag == "--suite" else "64MB"
    with_flag = subprocess.run([*cmd, flag, value], cwd=tmp_path, capture_output=True, text=True)
    without = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert without.returncode != 0 and ("bogus" in without.stderr or "--shard-size" in without.stderr)
    assert with_flag.returncode == 1 and "nope not found" in with_flag.stderr, with_flag.stderr
