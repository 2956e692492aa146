"""Settings of `gecko eval`: the single source of their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from gecko_cli.config import at_least
from gecko_cli.errors import ConfigError

SUITES = ("kmmlu", "mmlu", "humaneval", "bpb")
SANDBOXES = ("bwrap", "none")


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """Everything `gecko eval` needs to know.

    Attributes:
        run: the `gecko pretrain` run folder to evaluate (None with --self-check alone).
        output: folder for results.json, results.md and the sample logs.
        suites: which evaluations, in order.
        step: the checkpoint step (None = the newest).
        data_dir: folder holding kmmlu/, mmlu/ and humaneval/ in their released layouts.
        data: packed folder (or its val/ split) for bits per byte.
        num_fewshot: examples before each multiple-choice question.
        limit: questions per subject (a seeded sample stratified by answer), None = all.
        subjects: subjects to evaluate (None = every subject found).
        batch_size: sequences per forward pass.
        samples, temperature, max_new_tokens: HumanEval generation (greedy when temperature is 0).
        sandbox, workers, timeout_s: how generated programs run (bubblewrap unless --sandbox none).
        self_check: run HumanEval's reference solutions instead of a model (all must pass).
        log_samples: write every question's context, continuations, log-likelihoods, prediction and answer.
        seed: seed of --limit sampling and of sampled generation.
    """

    run: str | None = None
    output: str = "results"
    suites: tuple[str, ...] = ("kmmlu", "mmlu", "humaneval")
    step: int | None = None
    data_dir: str = "evaldata"
    data: str = "packed"
    num_fewshot: int = 5
    limit: int | None = None
    subjects: tuple[str, ...] = ()
    batch_size: int = 8
    samples: int = 1
    temperature: float = 0.0
    max_new_tokens: int = 384
    sandbox: str = "bwrap"
    workers: int = 2
    timeout_s: float = 10.0
    self_check: bool = False
    log_samples: bool = False
    seed: int = 1234

    def __post_init__(self):
        if not self.suites:
            raise ConfigError("--suite names no suite", hint=f"suites: {', '.join(SUITES)}")
        for s in self.suites:
            if s not in SUITES:
                raise ConfigError(f"unknown suite {s!r}", hint=f"suites: {', '.join(SUITES)}")
        if self.sandbox not in SANDBOXES:
            raise ConfigError(f"--sandbox must be one of {', '.join(SANDBOXES)}, not {self.sandbox!r}")
        if self.self_check and set(self.suites) != {"humaneval"}:
            raise ConfigError("--self-check runs HumanEval's reference solutions: use it with --suite humaneval alone")
        at_least(self, 1, ("batch_size", "samples", "max_new_tokens", "workers"))
        at_least(self, 0, ("num_fewshot",))
        if self.limit is not None:
            at_least(self, 1, ("limit",))
        if self.temperature < 0:
            raise ConfigError(f"--temperature must not be negative, not {self.temperature}",
                              hint="pass 0 for greedy decoding, or a sampling temperature such as 0.8")
        if self.timeout_s <= 0:
            raise ConfigError(f"--timeout-s must be positive, not {self.timeout_s}",
                              hint="give each program's wall-time limit in seconds, e.g. --timeout-s 10")
        if self.samples > 1 and self.temperature == 0:
            raise ConfigError(f"--samples {self.samples} with greedy decoding gives {self.samples} identical programs",
                              hint="pass --temperature (0.8 is usual for pass@10)")
