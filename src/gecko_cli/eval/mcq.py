"""Multiple-choice evaluation as lm-evaluation-harness runs its default `kmmlu` and `mmlu` tasks (log-likelihood).

Each test question becomes one context and the continuations " A" .. " D"; the model's answer is the continuation
with the highest log-likelihood. The context is, character for character, the harness's:

    KMMLU: "{question.strip()}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. {D}\\n정답："   (full-width colon U+FF1A)
    MMLU:  "The following are multiple choice questions (with answers) about {subject}.\\n\\n" once, then
           "{question.strip()}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. {D}\\nAnswer:"

preceded by `num_fewshot` dev questions in the same form, each followed by " " + its answer letter + "\\n\\n".
KMMLU draws them with `random.Random(1234)`, made once per subject, calling `.sample(dev, k)` for each test
question in file order; MMLU takes the first k dev questions in file order. Every question is rendered before
`limit_questions` samples some, so a question's prompt does not depend on `--limit` (the harness's own --limit
keeps the first N questions, whose prompts are the same as here).

Pure: no files, no model. The model is a `score_fn` (see `score`), so a fake one can test this module.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gecko_cli.errors import ConfigError
from gecko_cli.eval.mcq_data import LETTERS, SUITES, Row, Subject

TARGET_DELIMITER = " "
FEWSHOT_DELIMITER = "\n\n"
CONTINUATIONS = tuple(TARGET_DELIMITER + c for c in LETTERS)  # " A", " B", " C", " D"
FEWSHOT_SEED = 1234  # the harness's default fewshot_random_seed


@dataclass(frozen=True)
class Question:
    """One scored request: the context, its continuations, and the gold continuation's index."""

    suite: str
    subject: str
    index: int  # the question's row in its test file, from 0 (the harness's doc_id)
    context: str
    continuations: tuple[str, ...]
    gold: int


def _random_shots(pool: list[str], k: int) -> Callable[[], list[str]]:
    rng = random.Random(FEWSHOT_SEED)
    return lambda: rng.sample(pool, k)


def _first_shots(pool: list[str], k: int) -> Callable[[], list[str]]:
    return lambda: pool[:k]


@dataclass(frozen=True)
class _Prompt:
    answer_cue: str  # ends each question's text
    description: Callable[[str], str]  # subject name -> text before the examples
    shots: Callable[[list[str], int], Callable[[], list[str]]]  # (rendered dev examples, k) -> draw for one question


PROMPTS: dict[str, _Prompt] = {
    "kmmlu": _Prompt("정답：", lambda subject: "", _random_shots),
    "mmlu": _Prompt(
        "Answer:",
        lambda subject: f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n",
        _first_shots,
    ),
}


def _text(row: Row, cue: str) -> str:
    a, b, c, d = row.choices
    return f"{row.question.strip()}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\n{cue}"


def render(suite: str, subject: Subject, num_fewshot: int) -> list[Question]:
    """The subject's test questions as the harness prompts them.

    Args:
        suite: "kmmlu" or "mmlu".
        subject: the subject's dev rows (few-shot pool) and test rows.
        num_fewshot: examples before each question (0 or more, at most the number of dev rows).

    Returns:
        One question per test row, in file order.

    Raises:
        ConfigError: an unknown suite, a negative num_fewshot, or more examples than the subject has dev rows.
    """
    prompt = PROMPTS.get(suite)
    if prompt is None:
        raise ConfigError(f"unknown multiple-choice suite {suite!r}", hint=f"use one of: {', '.join(SUITES)}")
    if num_fewshot < 0:
        raise ConfigError(f"--num-fewshot must be 0 or more, not {num_fewshot}")
    if num_fewshot > len(subject.dev):
        raise ConfigError(f"--num-fewshot {num_fewshot} needs {num_fewshot} dev questions, but {suite} subject "
                          f"{subject.name!r} has {len(subject.dev)}", hint=f"pass --num-fewshot {len(subject.dev)} or less")
    examples = [_text(r, prompt.answer_cue) + TARGET_DELIMITER + LETTERS[r.answer] + FEWSHOT_DELIMITER for r in subject.dev]
    draw = prompt.shots(examples, num_fewshot)
    head = prompt.description(subject.name)
    questions = []
    for i, row in enumerate(subject.test):
        shots = "".join(draw()) if num_fewshot else ""  # the harness draws nothing for zero-shot
        context = head + shots + _text(row, prompt.answer_cue)
        questions.append(Question(suite, subject.name, i, context, CONTINUATIONS, row.answer))
    return questions


def limit_questions(questions: Sequence[Question], limit: int | None, seed: int) -> list[Question]:
    """At most `limit` questions per subject: a seeded sample that keeps the share of each gold letter.

    Each subject's quota is split over the gold letters in proportion to their counts (largest remainder; ties
    go to the earlier letter), and each letter's questions are sampled with a generator seeded by `seed`, suite
    and subject, so the choice is the same on every run and does not depend on the other subjects.

    Args:
        questions: rendered questions of one or more subjects.
        limit: questions to keep per subject (None keeps all).
        seed: the sampling seed.

    Returns:
        The kept questions, in their original order.

    Raises:
        ConfigError: a limit below 1.
    """
    if limit is None:
        return list(questions)
    if limit < 1:
        raise ConfigError(f"--limit must be at least 1, not {limit}")
    groups: dict[tuple[str, str], list[int]] = {}
    for pos, q in enumerate(questions):
        groups.setdefault((q.suite, q.subject), []).append(pos)
    keep: list[int] = []
    for (suite, subject), positions in groups.items():
        if len(positions) <= limit:
            keep += positions
            continue
        by_gold: dict[int, list[int]] = {}
        for pos in positions:
            by_gold.setdefault(questions[pos].gold, []).append(pos)
        golds = sorted(by_gold)
        n = len(positions)
        quota = {g: limit * len(by_gold[g]) // n for g in golds}
        for g in sorted(golds, key=lambda g: (-(limit * len(by_gold[g]) % n), g))[: limit - sum(quota.values())]:
            quota[g] += 1
        rng = random.Random(f"{seed}:{suite}:{subject}")
        for g in golds:
            keep += rng.sample(by_gold[g], quota[g])
    return [questions[pos] for pos in sorted(keep)]


# --- scoring -------------------------------------------------------------------------------------------------------


def _letters(counts: Sequence[int | float], prefix: str = "") -> dict[str, int | float]:
    return {f"{prefix}{LETTERS[i]}": c for i, c in enumerate(counts)}


@dataclass(frozen=True)
class SubjectResult:
    """Counts for one subject. `predicted` and `gold` are histograms over the letters A..D."""

    suite: str
    subject: str
    n: int
    correct: int
    predicted: tuple[int, ...]
    gold: tuple[int, ...]

    @property
    def acc(self) -> float:
        return self.correct / self.n

    @property
    def baselines(self) -> dict[str, float]:
        """Accuracy if every answer were the same letter: {"always A": ..., ..., "always D": ...}."""
        return _letters([g / self.n for g in self.gold], "always ")


@dataclass(frozen=True)
class McqResult:
    """Scores of a set of questions.

    Attributes:
        subjects: per-subject counts, in the order the subjects first appear in the questions.
        samples: one record per question, in question order, shaped like the harness's --log_samples lines:
            suite, subject, doc_id, target (gold index), arguments ({"gen_args_i": {"arg_0": context, "arg_1":
            continuation}}), loglikelihoods (one per continuation), pred (index), acc (1.0 or 0.0), and the
            harness's prompt_hash and target_hash (SHA-256 of the context and of str(target)), to compare runs.
        truncated: contexts cut to fit the model's window, as the score_fn reported them.
    """

    subjects: tuple[SubjectResult, ...]
    samples: tuple[dict, ...]
    truncated: int = 0

    @property
    def n(self) -> int:
        return sum(s.n for s in self.subjects)

    @property
    def correct(self) -> int:
        return sum(s.correct for s in self.subjects)

    @property
    def micro(self) -> float:
        """Accuracy over all questions (the harness's kmmlu and mmlu group score)."""
        return self.correct / self.n

    @property
    def macro(self) -> float:
        """Mean of the subjects' accuracies."""
        return sum(s.acc for s in self.subjects) / len(self.subjects)

    @property
    def predicted(self) -> tuple[int, ...]:
        return tuple(int(x) for x in np.sum([s.predicted for s in self.subjects], axis=0))

    @property
    def gold(self) -> tuple[int, ...]:
        return tuple(int(x) for x in np.sum([s.gold for s in self.subjects], axis=0))

    @property
    def baselines(self) -> dict[str, float]:
        """Accuracy over all questions if every answer were the same letter."""
        return _letters([g / self.n for g in self.gold], "always ")

    @property
    def suites(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.suite for s in self.subjects))

    def for_suite(self, suite: str) -> McqResult:
        """The part of this result that belongs to one suite (its truncated count is not split: 0)."""
        return McqResult(tuple(s for s in self.subjects if s.suite == suite),
                         tuple(r for r in self.samples if r["suite"] == suite))

    def to_dict(self) -> dict:
        """Everything but the samples, for results.json."""
        return {
            "n": self.n, "correct": self.correct, "acc_micro": self.micro, "acc_macro": self.macro,
            "baselines": self.baselines, "predicted": _letters(self.predicted), "gold": _letters(self.gold),
            "truncated": self.truncated,
            "subjects": [{"suite": s.suite, "subject": s.subject, "n": s.n, "correct": s.correct, "acc": s.acc,
                          "baselines": s.baselines, "predicted": _letters(s.predicted), "gold": _letters(s.gold)}
                         for s in self.subjects],
        }


#: score_fn(requests) -> log-likelihoods: requests are (context, continuations) pairs; the answer holds one list
#: of floats per request, one per continuation. It may instead return an object with `.loglik` (that list) and
#: `.truncated` (how many of these requests it cut to fit the model's window), as `loglik.Scorer.score` does.
ScoreFn = Callable[[list[tuple[str, tuple[str, ...]]]], object]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def score(questions: Sequence[Question], score_fn: ScoreFn, batch_size: int = 64) -> McqResult:
    """Score questions with a model: the prediction is the continuation with the highest log-likelihood.

    Args:
        questions: rendered questions (one or more subjects, one or more suites).
        score_fn: the model; see `ScoreFn`.
        batch_size: questions per score_fn call.

    Returns:
        Per-subject and overall counts, and one sample record per question.

    Raises:
        ValueError: no questions, or a score_fn answer of the wrong shape (a bug on the model side).
    """
    if not questions:
        raise ValueError("score() needs at least one question")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    samples, truncated = [], 0
    counts: dict[tuple[str, str], list] = {}
    for start in range(0, len(questions), batch_size):
        batch = questions[start:start + batch_size]
        out = score_fn([(q.context, q.continuations) for q in batch])
        loglik = getattr(out, "loglik", out)
        truncated += int(getattr(out, "truncated", 0))
        if len(loglik) != len(batch):
            raise ValueError(f"score_fn returned {len(loglik)} answers for {len(batch)} requests")
        for q, lls in zip(batch, loglik):
            if len(lls) != len(q.continuations):
                raise ValueError(f"score_fn returned {len(lls)} log-likelihoods for {len(q.continuations)} continuations")
            lls = [float(x) for x in lls]
            pred = int(np.argmax(lls))  # ties and NaN as the harness: the first one
            c = counts.setdefault((q.suite, q.subject), [0, 0, [0] * len(LETTERS), [0] * len(LETTERS)])
            c[0] += 1
            c[1] += pred == q.gold
            c[2][pred] += 1
            c[3][q.gold] += 1
            samples.append({
                "suite": q.suite, "subject": q.subject, "doc_id": q.index, "target": q.gold,
                "arguments": {f"gen_args_{j}": {"arg_0": q.context, "arg_1": cont} for j, cont in enumerate(q.continuations)},
                "loglikelihoods": lls, "pred": pred, "acc": float(pred == q.gold),
                "prompt_hash": _sha256(q.context), "target_hash": _sha256(str(q.gold)),
            })
    subjects = tuple(SubjectResult(suite, subject, n, correct, tuple(pred), tuple(gold))
                     for (suite, subject), (n, correct, pred, gold) in counts.items())
    return McqResult(subjects, tuple(samples), truncated)


def format_table(result: McqResult) -> str:
    """A markdown table: one row per subject, then micro and macro rows per suite (and over all, for several).

    Columns: accuracy, the constant-answer baselines (always A .. always D) and how often each letter was
    predicted. A line after the table counts contexts cut to fit the model's window, if any.
    """
    head = ["suite", "subject", "n", "acc", *(f"always {c}" for c in LETTERS), *(f"pred {c}" for c in LETTERS)]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]

    def row(suite: str, name: str, n: int, acc: float, baselines, predicted) -> None:
        cells = [suite, name, str(n), f"{acc:.4f}", *(f"{b:.4f}" for b in baselines), *(str(p) for p in predicted)]
        lines.append("| " + " | ".join(cells) + " |")

    def summary(part: McqResult, suite: str) -> None:
        row(suite, "**micro**", part.n, part.micro, part.baselines.values(), part.predicted)
        macro_baselines = np.mean([list(s.baselines.values()) for s in part.subjects], axis=0)
        row(suite, f"**macro** ({len(part.subjects)} subjects)", part.n, part.macro, macro_baselines, [""] * len(LETTERS))

    for suite in result.suites:
        part = result.for_suite(suite)
        for s in part.subjects:
            row(suite, s.subject, s.n, s.acc, s.baselines.values(), s.predicted)
        summary(part, suite)
    if len(result.suites) > 1:
        summary(result, "all")
    if result.truncated:
        lines.append(f"\n{result.truncated} of {result.n} contexts were cut from the left to fit the model's window.")
    return "\n".join(lines) + "\n"
