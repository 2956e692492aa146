import pytest

from gecko_cli.config import load_file, merge, workspace_path
from gecko_cli.dedup.config import DedupConfig
from gecko_cli.errors import ConfigError


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
    ({"input": "same", "output": "same"}, "differ"),
])
def test_bad_settings_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        DedupConfig(**kwargs)


def test_auto_bands_resolves_to_a_valid_banding():
    cfg = DedupConfig(auto_bands=True, threshold=0.7).resolved()
    assert cfg.bands * cfg.rows == cfg.num_perm <= 112
    assert not cfg.auto_bands
