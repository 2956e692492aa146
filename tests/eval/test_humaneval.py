"""HumanEval's execution side: loading the problems, the programs, pass@k, and scoring completions in the sandbox."""

from __future__ import annotations

import gzip
import itertools
import json
import math
import os
import time

import pytest

from gecko_cli.errors import DataError
from gecko_cli.eval import humaneval as he
from gecko_cli.eval import sandbox
from helpers import SHARED

HUMANEVAL = os.path.join(SHARED, "eval", "humaneval")
HUMANEVAL_GZ = os.path.join(HUMANEVAL, "HumanEval.jsonl.gz")
SANDBOX = "bwrap" if sandbox.available() else "none"
needs_bwrap = pytest.mark.skipif(not sandbox.available(), reason="bubblewrap does not work here: " + sandbox.INSTALL_HINT)
needs_data = pytest.mark.skipif(not os.path.exists(HUMANEVAL_GZ), reason=f"{HUMANEVAL_GZ} not found (set GECKO_SHARED)")

TOY = he.Problem(
    task_id="Toy/0",
    prompt='def add(a: int, b: int) -> int:\n    """Return a + b.\n    >>> add(1, 2)\n    3\n    """\n',
    canonical_solution="    return a + b\n",
    test="\n\nMETADATA = {}\n\n\ndef check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n",
    entry_point="add",
)


def toy_rows(n: int = 3) -> list[dict]:
    return [{"task_id": f"Toy/{i}", "prompt": TOY.prompt, "canonical_solution": TOY.canonical_solution, "test": TOY.test,
             "entry_point": TOY.entry_point} for i in range(n)]


def write_jsonl(path, rows, gz: bool = False) -> str:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return str(path)


@pytest.fixture(scope="module")
def problems() -> list[he.Problem]:
    if not os.path.exists(HUMANEVAL_GZ):
        pytest.skip(f"{HUMANEVAL_GZ} not found (set GECKO_SHARED)")
    return he.load_problems(HUMANEVAL)


# --- loading -------------------------------------------------------------------------------------------------------

@needs_data
def test_load_released_file_and_folder():
    from_folder = he.load_problems(HUMANEVAL)
    from_file = he.load_problems(HUMANEVAL_GZ)
    assert from_folder == from_file
    assert len(from_file) == 164
    assert [p.task_id for p in from_file] == [f"HumanEval/{i}" for i in range(164)]
    first = from_file[0]
    assert first.entry_point == "has_close_elements"
    assert first.prompt.startswith("from typing import List") and "def check(candidate):" in first.test


@needs_data
def test_load_plain_jsonl(tmp_path):
    with gzip.open(HUMANEVAL_GZ, "rb") as f:
        (tmp_path / "HumanEval.jsonl").write_bytes(f.read())
    assert he.load_problems(tmp_path / "HumanEval.jsonl") == he.load_problems(HUMANEVAL_GZ)
    assert len(he.load_problems(tmp_path)) == 164


def test_load_any_single_jsonl_in_a_folder(tmp_path):
    write_jsonl(tmp_path / "mine.jsonl.gz", toy_rows(), gz=True)
    assert [p.task_id for p in he.load_problems(tmp_path)] == ["Toy/0", "Toy/1", "Toy/2"]


def test_load_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.jsonl.gz"
    with pytest.raises(DataError, match="nope.jsonl.gz: no such file"):
        he.load_problems(missing)
    with pytest.raises(DataError, match="no .jsonl.gz or .jsonl file"):
        he.load_problems(tmp_path)
    two = tmp_path / "two"
    two.mkdir()
    write_jsonl(two / "a.jsonl", toy_rows())
    write_jsonl(two / "b.jsonl", toy_rows())
    with pytest.raises(DataError, match="2 .jsonl"):
        he.load_problems(two)

    garbled = tmp_path / "garbled.jsonl.gz"
    garbled.write_bytes(b"\x1f\x8b\x08\x00not really gzip at all")
    with pytest.raises(DataError, match="garbled.jsonl.gz: cannot be read") as e:
        he.load_problems(garbled)
    assert "download" in e.value.hint
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(gzip.compress(("".join(json.dumps(r) + "\n" for r in toy_rows(50))).encode())[:200])
    with pytest.raises(DataError, match="truncated.jsonl.gz"):
        he.load_problems(truncated)

    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text(json.dumps(toy_rows(1)[0]) + "\n{not json\n")
    with pytest.raises(DataError, match=r"bad.jsonl, line 2: not valid JSON"):
        he.load_problems(bad_json)

    row = toy_rows(1)[0]
    del row["entry_point"]
    with pytest.raises(DataError, match=r"no_entry.jsonl, line 1: missing or non-string field\(s\) entry_point"):
        he.load_problems(write_jsonl(tmp_path / "no_entry.jsonl", [row]))
    with pytest.raises(DataError, match="line 2: expected a JSON object"):
        he.load_problems(write_jsonl(tmp_path / "list.jsonl", [toy_rows(1)[0], [1, 2]]))
    with pytest.raises(DataError, match="appears twice"):
        he.load_problems(write_jsonl(tmp_path / "dup.jsonl", toy_rows(1) * 2))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="empty.jsonl: holds no problems"):
        he.load_problems(tmp_path / "empty.jsonl")


# --- programs --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("completion, expected", [
    ("    return a + b\n", "    return a + b\n"),
    ("    return a + b\n\ndef other():\n    pass\n", "    return a + b\n"),
    ("    return a + b\n\n\nif __name__ == '__main__':\n    print(add(1, 2))\n", "    return a + b\n\n"),
    ("    return a + b\n# a comment\n", "    return a + b"),
    ("    return a + b\nprint(1)\nclass X: pass\n", "    return a + b"),
    ("    return a + b\nclass X: pass\nprint(1)\n", "    return a + b"),
    ("    x = 1  # keep\n    return a + b", "    x = 1  # keep\n    return a + b"),
    ("    if a:\n        return a\n    return b\n", "    if a:\n        return a\n    return b\n"),
    ("", ""),
    ("\ndef f():\n    pass", ""),
])
def test_truncate(completion, expected):
    assert he.truncate(completion) == expected


def test_stop_sequences():
    assert he.STOP_SEQUENCES == ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


def test_program_is_the_human_eval_program():
    got = he.program(TOY, "    return a + b\n")
    assert got == TOY.prompt + "    return a + b\n" + "\n" + TOY.test + "\n" + "check(add)"


# --- pass@k ----------------------------------------------------------------------------------------------------------

def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """The share of all k-subsets of n samples (c of them passing) that hold at least one passing sample."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_matches_brute_force(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert he.pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_large_n_matches_the_binomial_formula():
    for n, c, k in [(200, 0, 1), (200, 1, 1), (200, 13, 10), (200, 150, 100), (200, 100, 100), (1000, 7, 100)]:
        expected = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert he.pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert he.pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert he.pass_at_k(5, 5, 5) == 1.0 and he.pass_at_k(5, 0, 5) == 0.0


@pytest.mark.parametrize("n, c, k", [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_pass_at_k_rejects_impossible_arguments(n, c, k):
    with pytest.raises(ValueError):
        he.pass_at_k(n, c, k)


# --- evaluate ---------------------------------------------------------------------------------------------------------

def test_evaluate_scores_each_kind_of_completion():
    completions = [
        "    return a + b\n",                      # right
        "    return a - b\n",                      # wrong answer
        "    return (a +\n",                       # syntax error
        "    while True:\n        pass\n",         # never ends
        "    import sys\n    sys.exit(0)\n",       # leaves before check can fail
        "    import os\n    os._exit(0)\n",
        "    return undefined_name\n",
    ]
    result = he.evaluate([TOY], [completions], workers=2, sandbox=SANDBOX, timeout_s=1.0)
    (only,) = result.problems
    assert only.statuses == ["passed", "failed", "error", "timeout", "failed", "failed", "failed"]
    assert only.details[0] == ""
    assert only.details[1] == "AssertionError"
    assert only.details[2].startswith("SyntaxError")
    assert only.details[3] == "timed out after 1 s"
    assert only.details[6] == "NameError: name 'undefined_name' is not defined"
    assert result.counts == {"passed": 1, "failed": 4, "timeout": 1, "error": 1}
    assert result.samples == 7
    assert result.pass_at_k == {1: pytest.approx(1 / 7)}
    assert not result.all_passed
    assert [f[:3] for f in result.failures()] == [("Toy/0", i, s) for i, s in enumerate(only.statuses) if s != "passed"]
    as_dict = result.to_dict()
    assert as_dict["pass_at_k"] == {"pass@1": pytest.approx(1 / 7)} and as_dict["results"][0]["statuses"] == only.statuses
    json.dumps(as_dict)


@pytest.mark.parametrize("sandbox_name", [pytest.param("bwrap", marks=needs_bwrap), "none"])
def test_syntax_error_is_always_an_error(sandbox_name):
    broken = ["    return (a +\n", "    retrun a + b\n", "  return a + b\n      x = 1\n", "    return a + b\n\x00\n"]
    result = he.evaluate([TOY], [broken * 2], workers=2, sandbox=sandbox_name, timeout_s=5.0)
    assert result.problems[0].statuses == ["error"] * 8
    assert all(d.startswith(("SyntaxError", "IndentationError", "ValueError")) for d in result.problems[0].details)


def test_pass_at_k_over_problems_and_samples():
    right, wrong = "    return a + b\n", "    return 0\n"
    samples = [[right] * 10, [right] * 3 + [wrong] * 7, [wrong] * 10]
    result = he.evaluate([TOY, TOY, TOY], samples, workers=2, sandbox=SANDBOX, timeout_s=5.0)
    assert [p.passed for p in result.problems] == [10, 3, 0]
    assert set(result.pass_at_k) == {1, 10}
    assert result.pass_at_k[1] == pytest.approx((1 + 0.3 + 0) / 3)
    assert result.pass_at_k[10] == pytest.approx((1 + 1 + 0) / 3)
    assert result.counts == {"passed": 13, "failed": 17, "timeout": 0, "error": 0}


def test_evaluate_rejects_mismatched_completions():
    with pytest.raises(ValueError, match="2 lists of completions for 1 problems"):
        he.evaluate([TOY], [["x"], ["y"]], workers=1, sandbox="none", timeout_s=1.0)


@needs_bwrap
def test_hostile_completion_is_a_failure_and_leaves_the_host_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("GECKO_HUMANEVAL_SECRET", "s3cr3t")
    target = tmp_path / "pwned"
    hostile = (f"    import os\n    open({str(target)!r}, 'w').write(os.environ.get('GECKO_HUMANEVAL_SECRET', ''))\n"
               "    return a + b\n")
    result = he.evaluate([TOY], [[hostile]], workers=1, sandbox="bwrap", timeout_s=5.0)
    assert result.problems[0].statuses == ["failed"]
    assert not target.exists()


@needs_data
def test_wrong_completions_fail_on_real_problems(problems):
    picked = problems[:8]
    result = he.evaluate(picked, [["    return None\n", "    pass\n"] for _ in picked], workers=2, sandbox=SANDBOX,
                         timeout_s=5.0)
    assert result.counts["passed"] == 0
    assert result.counts["failed"] == 16


@needs_data
@needs_bwrap
def test_self_check_all_164_reference_solutions_pass(problems):
    t0 = time.perf_counter()
    result = he.self_check(problems, workers=2, sandbox="bwrap")
    wall = time.perf_counter() - t0
    assert result.all_passed, result.failures()
    assert result.counts == {"passed": 164, "failed": 0, "timeout": 0, "error": 0}
    assert result.pass_at_k == {1: 1.0}
    assert wall < 30, f"self-check took {wall:.1f} s"


# --- settings ------------------------------------------------------------------------------------------------------


def _gecko(*args: str, cwd=None):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "GECKO_DEBUG"}
    return subprocess.run([sys.executable, "-m", "gecko_cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**env, "NO_COLOR": "1"}, timeout=120)


@pytest.mark.parametrize("flag, value", [("--timeout-s", "nan"), ("--timeout-s", "inf"), ("--temperature", "nan"),
                                         ("--temperature", "inf")])
def test_non_finite_generation_settings_stop_eval_before_it_runs(tmp_path, flag, value):
    done = _gecko("eval", "--suite", "humaneval", "--self-check", flag, value, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[0] == f"error: {flag} must be a finite number, not {value}"
    assert "hint: " in done.stderr
    assert not (tmp_path / "results").exists()


def test_non_finite_timeout_in_a_config_file_stops_eval(tmp_path):
    (tmp_path / "c.toml").write_text("[eval]\ntimeout_s = nan\n")
    done = _gecko("eval", "--suite", "humaneval", "--self-check", "--config", "c.toml", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[0] == "error: c.toml: [eval] timeout_s = nan is not a finite number"
