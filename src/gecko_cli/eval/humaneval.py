"""HumanEval's execution side: the problems, the programs run for each completion, and pass@k.

`evaluate(problems, completions, ...)` runs `program(problem, completion)` for every sample, `workers` at a time,
each in its own sandboxed process (`gecko_cli.eval.sandbox`), and scores them as human-eval does: a sample passes
when its program runs to its end, that is when `check(entry_point)` raises nothing. Completions are run as given;
cut them with `truncate` first where the model was not stopped at the stop sequences.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import signal
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gecko_cli.errors import DataError
from gecko_cli.eval import sandbox as sb

STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")
KS = (1, 10, 100)
SAMPLE_STATUSES = ("passed", "failed", "timeout", "error")
FILE_NAMES = ("HumanEval.jsonl.gz", "HumanEval.jsonl")
DETAIL_CHARS = 200
_STATUS_OF = {"ok": "passed", "failed": "failed", "timeout": "timeout", "error": "error"}


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str


@dataclass
class ProblemResult:
    task_id: str
    statuses: list[str]    # one of SAMPLE_STATUSES per sample, in the order of the completions
    details: list[str]     # a short reason per sample: "" when passed, else the error's last line or the limit hit

    @property
    def n(self) -> int:
        return len(self.statuses)

    @property
    def passed(self) -> int:
        return self.statuses.count("passed")


@dataclass
class HumanEvalResult:
    problems: list[ProblemResult]
    pass_at_k: dict[int, float]             # k -> mean over problems, for k in KS with k <= the fewest samples
    counts: dict[str, int]                  # samples per status, every status in SAMPLE_STATUSES present
    samples: int                            # the fewest samples of any problem
    seconds: float                          # wall time of the runs
    sandbox: str
    settings: dict = field(default_factory=dict)  # workers, timeout_s and the limits used

    @property
    def all_passed(self) -> bool:
        return self.counts["passed"] == sum(p.n for p in self.problems)

    def failures(self) -> list[tuple[str, int, str, str]]:
        """(task_id, sample index, status, detail) of every sample that did not pass."""
        return [(p.task_id, i, s, d) for p in self.problems for i, (s, d) in enumerate(zip(p.statuses, p.details))
                if s != "passed"]

    def to_dict(self) -> dict:
        return {"pass_at_k": {f"pass@{k}": v for k, v in self.pass_at_k.items()}, "counts": self.counts,
                "samples": self.samples, "problems": len(self.problems), "seconds": round(self.seconds, 3),
                "sandbox": self.sandbox, "settings": self.settings,
                "results": [{"task_id": p.task_id, "passed": p.passed, "n": p.n, "statuses": p.statuses,
                             "details": p.details} for p in self.problems]}


def _find_file(path: Path) -> Path:
    if path.is_dir():
        for name in FILE_NAMES:
            if (path / name).is_file():
                return path / name
        found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith((".jsonl.gz", ".jsonl")))
        if len(found) == 1:
            return found[0]
        what = "no .jsonl.gz or .jsonl file" if not found else f"{len(found)} .jsonl(.gz) files and no {FILE_NAMES[0]}"
        raise DataError(f"{path}: {what}", hint=f"pass the HumanEval file itself, or a folder holding {FILE_NAMES[0]}")
    if not path.exists():
        raise DataError(f"{path}: no such file", hint=f"pass the released {FILE_NAMES[0]} or a folder holding it")
    return path


def load_problems(path_or_folder: str | os.PathLike) -> list[Problem]:
    """The problems of a HumanEval file (the released HumanEval.jsonl.gz, or a .jsonl), or of the one in a folder."""
    path = _find_file(Path(path_or_folder))
    opener = gzip.open if path.name.endswith(".gz") else open
    problems: list[Problem] = []
    seen: set[str] = set()
    line_no = 0
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise DataError(f"{path}, line {line_no}: expected a JSON object, got {type(row).__name__}")
                missing = [k for k in FIELDS if not isinstance(row.get(k), str)]
                if missing:
                    raise DataError(f"{path}, line {line_no}: missing or non-string field(s) {', '.join(missing)}",
                                    hint=f"each line needs the string fields {', '.join(FIELDS)}")
                if row["task_id"] in seen:
                    raise DataError(f"{path}, line {line_no}: task_id {row['task_id']!r} appears twice")
                seen.add(row["task_id"])
                problems.append(Problem(**{k: row[k] for k in FIELDS}))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}, line {line_no}: not valid JSON ({e.msg})",
                        hint="the file is damaged: download the released HumanEval.jsonl.gz again") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot be read ({e})",
                        hint="the file is damaged: download the released HumanEval.jsonl.gz again") from None
    if not problems:
        raise DataError(f"{path}: holds no problems", hint="pass the released HumanEval.jsonl.gz")
    return problems


def truncate(completion: str) -> str:
    """`completion` cut at the first stop sequence (the stop sequence itself dropped)."""
    cut = min((i for i in (completion.find(s) for s in STOP_SEQUENCES) if i >= 0), default=len(completion))
    return completion[:cut]


def program(problem: Problem, completion: str) -> str:
    """The program human-eval runs for a completion: prompt, completion, the test, and the call of `check`."""
    return problem.prompt + completion + "\n" + problem.test + "\n" + f"check({problem.entry_point})"


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k from `n` samples of which `c` passed: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def _detail(outcome: sb.Outcome, timeout_s: float) -> str:
    if outcome.status == "ok":
        return ""
    if outcome.status == "timeout":
        return f"timed out after {timeout_s:g} s"
    lines = [line.strip() for line in outcome.stderr_tail.splitlines() if line.strip()]
    if lines:
        return lines[-1][:DETAIL_CHARS]
    if outcome.returncode < 0:
        try:
            return f"killed by {signal.Signals(-outcome.returncode).name}"
        except ValueError:
            return f"killed by signal {-outcome.returncode}"
    return f"exited with status {outcome.returncode} before its end"


def evaluate(problems: Sequence[Problem], completions: Sequence[Sequence[str]], *, workers: int, sandbox: str,
             timeout_s: float, memory_mb: int = sb.DEFAULT_MEMORY_MB, file_mb: int = sb.DEFAULT_FILE_MB,
             max_procs: int = sb.DEFAULT_MAX_PROCS,
             progress: Callable[[int, int], None] | None = None) -> HumanEvalResult:
    """Run every completion of every problem (completions[i] are problem i's samples) and score them.

    `progress(done, total)` is called after each program, from the calling thread.
    """
    if len(completions) != len(problems):
        raise ValueError(f"{len(completions)} lists of completions for {len(problems)} problems")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    sb.require(sandbox)
    jobs = [(i, j, program(p, c)) for i, (p, cs) in enumerate(zip(problems, completions)) for j, c in enumerate(cs)]
    statuses = [[""] * len(cs) for cs in completions]
    details = [[""] * len(cs) for cs in completions]

    def run(src: str) -> sb.Outcome:
        return sb.run_program(src, timeout_s=timeout_s, memory_mb=memory_mb, file_mb=file_mb, max_procs=max_procs,
                              sandbox=sandbox)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, ((i, j, _), outcome) in enumerate(zip(jobs, pool.map(run, [src for _, _, src in jobs])), 1):
            statuses[i][j] = _STATUS_OF[outcome.status]
            details[i][j] = _detail(outcome, timeout_s)
            if progress is not None:
                progress(done, len(jobs))
    seconds = time.perf_counter() - t0
    results = [ProblemResult(p.task_id, s, d) for p, s, d in zip(problems, statuses, details)]
    samples = min((r.n for r in results), default=0)
    scores = {k: sum(pass_at_k(r.n, r.passed, k) for r in results) / len(results)
              for k in KS if results and k <= samples}
    counted = Counter(s for r in results for s in r.statuses)
    counts = {s: counted.get(s, 0) for s in SAMPLE_STATUSES}
    settings = {"workers": workers, "timeout_s": timeout_s, "memory_mb": memory_mb, "file_mb": file_mb,
                "max_procs": max_procs}
    return HumanEvalResult(results, scores, counts, samples, seconds, sandbox, settings)


def self_check(problems: Sequence[Problem], workers: int, sandbox: str, *, timeout_s: float = 10.0) -> HumanEvalResult:
    """Run each problem's canonical solution: on the released problems, every one must pass (`result.all_passed`)."""
    return evaluate(problems, [[p.canonical_solution] for p in problems], workers=workers, sandbox=sandbox,
                    timeout_s=timeout_s)
