import io
import json
import os
import subprocess
import sys

import pytest
import zstandard

from gecko_cli.errors import ConfigError, DataError
from gecko_cli.tokenizer.config import TokenizerConfig
from gecko_cli.tokenizer.run import tokenizer_report, train_tokenizer
from helpers import BAD_TOKENIZER_FILES, CORPUS, bad_tokenizer_folder, write_jsonl


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


def test_input_without_documents_says_so(tmp_path):
    folder = tmp_path / "none"
    folder.mkdir()
    write_jsonl(str(folder / "a.jsonl"), [])
    with pytest.raises(DataError, match="no documents to train on"):
        train_tokenizer(_cfg(str(folder), tmp_path))


def test_too_little_text_and_too_small_a_vocabulary(mixed, tmp_path):
    with pytest.raises(DataError, match="could be learned"):
        train_tokenizer(_cfg(mixed, tmp_path, vocab=60000))
    with pytest.raises(ConfigError, match="too small"):
        TokenizerConfig(vocab=300)
    # A vocabulary beyond 65,535 ids is allowed: packed shards then hold uint32 token ids (schemas.token_type).
    with pytest.raises(DataError, match="could be learned"):
        train_tokenizer(_cfg(mixed, tmp_path, vocab=70000))


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


def _gecko(*args: str, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "GECKO_DEBUG"}
    return subprocess.run([sys.executable, "-m", "gecko_cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**env, "NO_COLOR": "1"}, timeout=120)


def _user_error(done) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "hint: " in done.stderr
    return done.stderr.splitlines()[0]


def test_compare_files_are_checked_before_training(mixed, tmp_path):
    out = tmp_path / "tok"
    with pytest.raises(DataError, match="nonexistent.model: no such file"):
        train_tokenizer(_cfg(mixed, tmp_path, compare=(str(tmp_path / "nonexistent.model"),)))
    (tmp_path / "empty.tiktoken").write_bytes(b"")
    with pytest.raises(DataError, match="empty.meta.json is missing"):
        train_tokenizer(_cfg(mixed, tmp_path, compare=(str(tmp_path / "empty.tiktoken"),)))
    assert not out.exists()
    line = _user_error(_gecko("train-tokenizer", mixed, str(out), "--vocab", "700", "--compare", "/nonexistent.model"))
    assert line == "error: /nonexistent.model: no such file"
    assert not out.exists()


def test_a_run_killed_after_saving_leaves_a_folder_the_stages_refuse(mixed, tmp_path):
    from gecko_cli.tokenizer.folder import load_tokenizer
    from helpers import kill_when

    out = tmp_path / "tok"
    cmd = [sys.executable, "-m", "gecko_cli", "-q", "train-tokenizer", mixed, str(out), "--vocab", "700",
           "--heldout-fraction", "0.1"]
    assert kill_when(cmd, str(out / "tokenizer.json")), "the run finished before it could be killed"
    assert not (out / "manifest.json").exists()
    with pytest.raises(DataError, match="unfinished `gecko train-tokenizer` run"):
        load_tokenizer(str(out))
    line = _user_error(_gecko("pack", mixed, str(tmp_path / "packed"), "--tokenizer", str(out)))
    assert "unfinished `gecko train-tokenizer` run" in line
    assert not (tmp_path / "packed").exists()
    assert train_tokenizer(_cfg(mixed, tmp_path, overwrite=True)).report  # a rerun finishes the folder
    assert not (out / ".gecko-work").exists()
    tok, _ = load_tokenizer(str(out))
    assert tok.get_vocab_size() == 700


@pytest.fixture(scope="module")
def tok_folder(tmp_path_factory):
    """A tokenizer folder as HuggingFace tools write one: tokenizer.json and its configs, no gecko files."""
    from gecko_cli.tokenizer.trainer import TrainSpec, save, train

    folder = str(tmp_path_factory.mktemp("hf-tok"))
    save(train(lambda: iter([d["text"] for d in _docs(20)]), TrainSpec(vocab=600, min_frequency=1)), folder)
    return folder


@pytest.mark.parametrize("content", BAD_TOKENIZER_FILES)
def test_tokenizer_report_on_an_unreadable_tokenizer(mixed, tmp_path, content):
    tok = bad_tokenizer_folder(tmp_path / "bad", content)
    with pytest.raises(DataError, match="tokenizer.json: not a readable tokenizer"):
        tokenizer_report(str(tok), mixed, (), 10_000)
    line = _user_error(_gecko("tokenizer-report", str(tok), "--data", mixed))
    assert "tokenizer.json: not a readable tokenizer" in line


@pytest.mark.parametrize("line, message", [
    (b"not json\n", "JSON"),
    (b'{"text": 5}\n', "'text'"),
    (b'{"text": "bad \xff byte"}\n', "UTF-8"),
])
def test_tokenizer_report_stops_at_a_bad_record_unless_told_to_skip(tok_folder, tmp_path, line, message):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_bytes(b'{"text": "hello world, this is fine"}\n' + line + b'{"text": "and so is this"}\n')
    with pytest.raises(DataError, match=f"a.jsonl:2: .*{message}"):
        tokenizer_report(tok_folder, str(data), (), 10_000)
    done = _gecko("tokenizer-report", tok_folder, "--data", str(data))
    assert _user_error(done).startswith(f"error: {data / 'a.jsonl'}:2: ")
    assert "--on-bad-record skip" in done.stderr
    report = tokenizer_report(tok_folder, str(data), (), 10_000, on_bad="skip")
    assert report["round_trip"]["failures"] == 0
    done = _gecko("tokenizer-report", tok_folder, "--data", str(data), "--on-bad-record", "skip", "--json")
    assert done.returncode == 0, done.stderr


def test_an_output_folder_overlapping_the_input_is_refused(mixed, tmp_path):
    for out, why in ((mixed, "is the input"), (os.path.join(mixed, "tok"), "is inside the input folder"),
                     (str(tmp_path), "is inside the output folder")):
        with pytest.raises(ConfigError, match=why):
            TokenizerConfig(input=mixed, output=out, vocab=700)
    assert sorted(os.listdir(mixed)) == ["a.jsonl"]
