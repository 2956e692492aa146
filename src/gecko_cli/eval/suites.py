"""Each evaluation suite run against a loaded model: multiple choice, HumanEval, bits per byte.

Each returns (results for results.json, a markdown section for results.md, sample records for --log-samples).
"""

from __future__ import annotations

import os

from gecko_cli.console import log
from gecko_cli.errors import DataError
from gecko_cli.eval import humaneval, mcq, mcq_data
from gecko_cli.eval.config import EvalConfig


def check_letters(tokenizer, tokenizer_file: str) -> None:
    """The letters the multiple-choice suites score must each be one token, with and without a space."""
    missing = [t for t in ("▁A", "▁B", "▁C", "▁D", "A", "B", "C", "D") if tokenizer.token_to_id(t) is None]
    if missing:
        raise DataError(f"{tokenizer_file}: {', '.join(repr(m) for m in missing)} are not single tokens, which the "
                        "multiple-choice suites score", hint="train the tokenizer with `gecko train-tokenizer` "
                        "(it keeps \" A\"..\" D\" and \"A\"..\"D\" whole)")


def run_mcq(cfg: EvalConfig, suite: str, score_fn) -> tuple[dict, str, list[dict]]:
    subjects = mcq_data.load_subjects(cfg.data_dir, suite, list(cfg.subjects) or None)
    questions = [q for s in subjects for q in mcq.render(suite, s, cfg.num_fewshot)]
    questions = mcq.limit_questions(questions, cfg.limit, cfg.seed)
    log.info("%s: %d questions from %d subjects, %d-shot", suite, len(questions), len(subjects), cfg.num_fewshot)
    result = mcq.score(questions, score_fn, batch_size=max(cfg.batch_size * 8, 64))
    if result.truncated:
        log.warning("%s: %d contexts were longer than the model's window and were cut from the left", suite,
                    result.truncated)
    return result.to_dict(), mcq.format_table(result), result.samples


def humaneval_problems(cfg: EvalConfig) -> list[humaneval.Problem]:
    folder = os.path.join(cfg.data_dir, "humaneval")
    return humaneval.load_problems(folder if os.path.exists(folder) else cfg.data_dir)


def run_humaneval(cfg: EvalConfig, generator) -> tuple[dict, str, list[dict]]:
    """Generate --samples completions per problem (batched over problems) and run them in the sandbox."""
    from gecko_cli.eval import sandbox

    sandbox.require(cfg.sandbox)
    problems = humaneval_problems(cfg)
    if cfg.limit:
        problems = problems[: cfg.limit]
    completions: list[list[str]] = [[] for _ in problems]
    for s in range(cfg.samples):
        for start in range(0, len(problems), cfg.batch_size):
            group = problems[start:start + cfg.batch_size]
            texts = generator.generate([p.prompt for p in group], max_new_tokens=cfg.max_new_tokens,
                                       temperature=cfg.temperature, seed=cfg.seed + s * 1_000_003 + start,
                                       stop=humaneval.STOP_SEQUENCES)
            for i, text in enumerate(texts):
                completions[start + i].append(humaneval.truncate(text))
        log.info("humaneval: sample %d of %d generated for %d problems", s + 1, cfg.samples, len(problems))
    result = humaneval.evaluate(problems, completions, workers=cfg.workers, sandbox=cfg.sandbox, timeout_s=cfg.timeout_s)
    samples = [{"task_id": p.task_id, "completions": c, "statuses": r.statuses, "details": r.details}
               for p, c, r in zip(problems, completions, result.problems)]
    return result.to_dict(), humaneval_table(result), samples


def humaneval_table(result: humaneval.HumanEvalResult) -> str:
    head = [*(f"pass@{k}" for k in result.pass_at_k), *result.counts, "problems", "samples", "sandbox", "seconds"]
    cells = [*(f"{v:.4f}" for v in result.pass_at_k.values()), *(str(v) for v in result.counts.values()),
             str(len(result.problems)), str(result.samples), result.sandbox, f"{result.seconds:.1f}"]
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---:|" * len(head), "| " + " | ".join(cells) + " |"])


def run_self_check(cfg: EvalConfig) -> tuple[dict, str, list[dict]]:
    problems = humaneval_problems(cfg)
    result = humaneval.self_check(problems, cfg.workers, cfg.sandbox, timeout_s=cfg.timeout_s)
    if not result.all_passed:
        failed = result.failures()
        raise DataError(f"{len(failed)} of {len(problems)} reference solutions did not pass in the sandbox, the first: "
                        f"{failed[0][0]} {failed[0][2]} ({failed[0][3]})",
                        hint="the sandbox's limits are too tight for this machine (raise --timeout-s), or the "
                        "problems file is not the released HumanEval")
    samples = [{"task_id": p.task_id, "statuses": r.statuses} for p, r in zip(problems, result.problems)]
    return result.to_dict(), humaneval_table(result), samples


def run_bpb(cfg: EvalConfig, loaded) -> tuple[dict, str, list[dict]]:
    """Bits per byte on every row of a packed validation split, overall and per language."""
    from gecko_cli.pack.reader import PackedDataset
    from gecko_cli.pretrain.mesh import make_mesh
    from gecko_cli.pretrain.state import abstract_model, param_shardings
    from gecko_cli.pretrain.step import StepSettings
    from gecko_cli.pretrain.validation import Validator

    try:
        data = PackedDataset(cfg.data, "val")
    except DataError:
        data = PackedDataset(cfg.data, "train")  # a split folder itself (packed/val/)
    want = loaded.record.get("data", {}).get("tokenizer_fingerprint")
    have = (data.manifest.get("tokenizer") or {}).get("fingerprint")
    if want and have and want != have:
        raise DataError(f"{data.folder} was packed with another tokenizer than the run's ({have} vs {want})",
                        hint="pass packed data made with the run's tokenizer")
    mesh = make_mesh({"data": 1, "fsdp": 1, "tensor": 1})
    _, abstract = abstract_model(loaded.model, 0)
    validator = Validator(loaded.graphdef, StepSettings(), mesh, param_shardings(abstract, mesh), cfg.batch_size)
    out = validator.full(loaded.params, data)
    out["rows"] = data.num_rows
    out["data"] = data.folder
    langs = [k.removeprefix("val_bpb_") for k in out if k.startswith("val_bpb_")]
    head = ["", "all", *langs]
    bpb = f"{out['val_bpb']:.4f}" if "val_bpb" in out else "n/a (packed without byte counts)"
    rows = [["bits per byte", bpb, *(f"{out[f'val_bpb_{g}']:.4f}" for g in langs)],
            ["loss per token", f"{out['val_loss']:.4f}", *(f"{out.get(f'val_loss_{g}', float('nan')):.4f}" for g in langs)]]
    table = "\n".join(["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1),
                       *("| " + " | ".join(r) + " |" for r in rows)])
    return out, table, []
