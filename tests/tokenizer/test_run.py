import io
import json
import os
import subprocess
import sys

import pytest
import zstandard

from gecko_cli.errors import ConfigError, DataError
from gecko_cli.tokenizer.config import TokenizerConfig
from gecko_cli.tokenizer.run import train_tokenizer
from helpers import CORPUS, write_jsonl


def _docs(per_file=60):
    """Real Korean, English and code documents from the shared sample corpus."""
    docs = []
    for lang, name in (("ko", "klue_dev"), ("ko", "rust_book_ko"), ("en", "rust_book_en"), ("en", "docs_flask"),
                       ("code", "py_flask"), ("code", "js_express")):
        path = os.path.join(CORPUS, lang, f"{name}.jsonl.zst")
        with open(path, "rb") as fh:
            lines = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8")
            for _, line in zip(range(per_file), lines):
                d = json.loads(line)
                docs.append({"id": d["id"], "text": d["text"][:3000], "lang": lang})
    return docs


@pytest.fixture
def mixed(tmp_path):
    folder = tmp_path / "mixed"
    write_jsonl(str(folder / "a.jsonl"), _docs())
    return str(folder)


def _cfg(mixed, tmp_path, **kw):
    return TokenizerConfig(input=mixed, output=str(tmp_path / "tok"), vocab=kw.pop("vocab", 700),
                           heldout_fraction=0.1, **kw)


def test_trains_checks_and_writes_the_folder(mixed, tmp_path):
    report = train_tokenizer(_cfg(mixed, tmp_path)).report
    out = tmp_path / "tok"
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "report.json", "report.md",
                 "manifest.json"):
        assert (out / name).exists(), name
    assert report["round_trip"]["failures"] == 0 and report["round_trip"]["unk_ids"] == 0
    assert report["round_trip"]["documents"] > 8  # held-out documents plus the fixed hard strings
    assert report["single_tokens"]["ok"]
    assert sum(report["composition"].values()) == 700
    langs = report["efficiency"]
    assert json.dumps(langs)  # serialisable
    assert report["training"]["heldout_documents"] > 0
    with open(out / "tokenizer.json", encoding="utf-8") as fh:
        assert len(json.load(fh)["model"]["vocab"]) + 0 >= 259


def test_rerun_other_settings_and_overwrite(mixed, tmp_path):
    train_tokenizer(_cfg(mixed, tmp_path))
    assert train_tokenizer(_cfg(mixed, tmp_path)).already_complete
    with pytest.raises(ConfigError, match="another tokenizer"):
        train_tokenizer(_cfg(mixed, tmp_path, vocab=720))
    assert not train_tokenizer(_cfg(mixed, tmp_path, vocab=720, overwrite=True)).already_complete


def test_too_little_text_and_too_small_a_vocabulary(mixed, tmp_path):
    with pytest.raises(DataError, match="could be learned"):
        train_tokenizer(_cfg(mixed, tmp_path, vocab=60000))
    with pytest.raises(ConfigError, match="too small"):
        TokenizerConfig(vocab=300)


def test_cli_errors_and_report(mixed, tmp_path):
    run = [sys.executable, "-m", "gecko_cli"]
    done = subprocess.run([*run, "train-tokenizer"], cwd=tmp_path / "mixed", capture_output=True, text=True)
    assert done.returncode == 1 and "mixed not found" in done.stderr and "gecko balance" in done.stderr
    done = subprocess.run([*run, "train-tokenizer", mixed, str(tmp_path / "tok"), "--vocab", "700",
                           "--heldout-fraction", "0.1"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "round trip" in done.stdout
    done = subprocess.run([*run, "tokenizer-report", str(tmp_path / "tok"), "--data", mixed, "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["round_trip"]["failures"] == 0
    assert os.path.exists(tmp_path / "tok" / "manifest.json")
