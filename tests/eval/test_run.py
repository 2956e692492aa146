"""`gecko eval` on a real (briefly trained) run: multiple choice, HumanEval in the sandbox, bits per byte."""

import json
import os
import subprocess
import sys

import pytest
from tokenizers import Tokenizer, models

from gecko_cli.errors import DataError
from gecko_cli.eval.config import EvalConfig
from gecko_cli.eval.run import run
from gecko_cli.eval.suites import check_letters
from gecko_cli.pretrain.config import PretrainConfig
from gecko_cli.pretrain.run import run as pretrain
from helpers import SHARED

EVAL = os.path.join(SHARED, "eval")


@pytest.fixture(scope="module")
def trained(packed, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("run") / "tiny")
    pretrain(PretrainConfig(input=packed, output=out, model="tiny", steps=3, batch_tokens=8 * 128, eval_every=0))
    return out


def test_multiple_choice_and_bpb(trained, packed, tmp_path):
    out = str(tmp_path / "results")
    report = run(EvalConfig(run=trained, output=out, suites=("kmmlu", "mmlu", "bpb"), data_dir=EVAL, data=packed,
                            limit=2, log_samples=True))
    res = json.load(open(os.path.join(out, "results.json")))
    assert res["step"] == 3 and res == json.loads(json.dumps(report.results))
    for suite, subjects in (("kmmlu", 3), ("mmlu", 3)):
        r = res["suites"][suite]
        assert r["n"] == 2 * subjects and len(r["subjects"]) == subjects
        assert sum(r["predicted"].values()) == r["n"] and 0 <= r["acc_micro"] <= 1
        assert set(r["baselines"]) == {"always A", "always B", "always C", "always D"}
        with open(os.path.join(out, f"samples-{suite}.jsonl")) as fh:
            lines = [json.loads(x) for x in fh]
        assert len(lines) == r["n"] and all(len(x["loglikelihoods"]) == 4 for x in lines)
    bpb = res["suites"]["bpb"]
    assert bpb["rows"] > 0 and bpb["val_tokens"] > 0
    for lang in ("ko", "en", "code"):
        assert 0 < bpb[f"val_bpb_{lang}"] < 20
    md = open(os.path.join(out, "results.md")).read()
    assert "## KMMLU" in md and "## Bits per byte" in md and "always A" in md


def test_humaneval_generates_and_runs_in_the_sandbox(trained, tmp_path):
    out = str(tmp_path / "results")
    run(EvalConfig(run=trained, output=out, suites=("humaneval",), data_dir=EVAL, limit=3, max_new_tokens=32,
                   log_samples=True))
    r = json.load(open(os.path.join(out, "results.json")))["suites"]["humaneval"]
    assert r["problems"] == 3 and sum(r["counts"].values()) == 3 and "pass@1" in r["pass_at_k"]
    assert r["sandbox"] == "bwrap"
    lines = [json.loads(x) for x in open(os.path.join(out, "samples-humaneval.jsonl"))]
    assert [x["task_id"] for x in lines] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


def test_user_errors(trained, tmp_path):
    def gecko(*args):
        return subprocess.run([sys.executable, "-m", "gecko_cli", "eval", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)

    done = gecko("--suite", "kmmlu")  # no runs/ here
    assert done.returncode == 1 and "no run found in runs/" in done.stderr and "Traceback" not in done.stderr
    done = gecko(str(tmp_path / "missing"), "--suite", "kmmlu")
    assert done.returncode == 1 and "not found" in done.stderr
    done = gecko(trained, "--suite", "kmmlu", "--data-dir", str(tmp_path))
    assert done.returncode == 1 and "error:" in done.stderr and "Traceback" not in done.stderr
    assert gecko(trained, "--suite", "arc").returncode == 1
    assert gecko(trained, "--sandbox", "docker").returncode == 2
    tok = Tokenizer(models.WordLevel({"<unk>": 0, "a": 1}, unk_token="<unk>"))
    with pytest.raises(DataError, match="are not single tokens"):
        check_letters(tok, "tok.json")


@pytest.mark.parametrize("output, why", [("afile", "exists and is not a folder"),
                                         ("afile/sub", "is inside a file, not a folder")])
def test_output_that_is_a_file_or_inside_one(trained, tmp_path, output, why):
    (tmp_path / "afile").write_text("x")
    done = subprocess.run([sys.executable, "-m", "gecko_cli", "eval", trained, "--suite", "kmmlu", "--data-dir", EVAL,
                           "--output", output, "--limit", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.startswith(f"error: {output} {why}") and "hint:" in done.stderr
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("record, why", [
    ("{bad", "not a readable run record (Expecting property name"),
    ("[]", 'not a run record: it has no "model" object'),
    ('{"model": 5}', 'not a run record: it has no "model" object'),
    ('{"model": {"d_model": "wide"}}', "model settings of the wrong type: d_model"),
    ('{"model": {"tie_embeddings": 1}}', "model settings of the wrong type: tie_embeddings"),
    ('{"model": {"depth": 4}}', "unknown model settings depth"),
    ('{"model": {"d_model": 0}}', "model d_model must be at least 1, not 0"),
])
def test_a_damaged_run_record_is_named(trained, tmp_path, record, why):
    from gecko_cli.eval.checkpoint import read_record

    assert read_record(trained)["model"]  # the record pretrain writes passes
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(record)
    with pytest.raises(DataError) as info:
        read_record(str(run_dir))
    assert info.value.message.startswith(f"{run_dir / 'config.json'}: {why}")


def test_a_second_eval_loads_its_programs_from_the_compilation_cache(trained, tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "GECKO_JAX_CACHE": str(cache)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)

    def evaluate(out):
        done = subprocess.run([sys.executable, "-m", "gecko_cli", "eval", trained, "--suite", "mmlu", "--data-dir",
                               EVAL, "--limit", "2", "--output", str(tmp_path / out)], env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads((tmp_path / out / "results.json").read_text())

    first = evaluate("a")
    files = {p: p.stat().st_size for p in cache.rglob("*") if p.is_file()}
    assert files and all(os.path.dirname(p) != str(cache) for p in files)  # under the machine's own folder
    assert oct(os.stat(next(iter(files)).parent).st_mode & 0o777) == "0o700"
    second = evaluate("b")
    assert {p: p.stat().st_size for p in cache.rglob("*") if p.is_file()} == files  # every program found
    for result in (first, second):
        result["suites"]["mmlu"].pop("seconds")  # the second is faster: it compiled nothing
    assert second["suites"] == first["suites"]
