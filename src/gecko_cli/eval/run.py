"""`gecko eval` end to end: load the run, run each suite, write results.json, results.md and sample logs."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from gecko_cli.console import log
from gecko_cli.eval.config import EvalConfig
from gecko_cli.shards import write_bytes_atomic, write_json_atomic
from gecko_cli.stage import check_output_folder, make_output_folder

TITLES = {"kmmlu": "KMMLU", "mmlu": "MMLU", "humaneval": "HumanEval", "bpb": "Bits per byte"}


@dataclass
class EvalReport:
    output: str
    results: dict
    markdown: str


def run(cfg: EvalConfig) -> EvalReport:
    from gecko_cli.eval import suites

    check_output_folder(cfg.output)  # before the model loads and the suites run, not after
    results = {"run": cfg.run, "step": None, "settings": {"num_fewshot": cfg.num_fewshot, "limit": cfg.limit,
               "samples": cfg.samples, "temperature": cfg.temperature, "seed": cfg.seed}, "suites": {}}
    sections = {}
    if cfg.self_check:
        results["suites"]["humaneval"], sections["humaneval"], samples = _timed(suites.run_self_check, cfg)
        _write_samples(cfg, "humaneval", samples)
    else:
        loaded, tok = _load(cfg)
        results["step"] = loaded.step
        scorer = generator = None
        # bits per byte first: it reads the training form of the weights, which is dropped once the other suites'
        # scanned form is built (one copy of the weights held, not two)
        for suite in sorted(cfg.suites, key=lambda s: s != "bpb"):
            if suite == "bpb":
                out = _timed(suites.run_bpb, cfg, loaded)
            else:
                if scorer is None:
                    scorer, generator = _scorers(cfg, loaded, tok)
                if suite == "humaneval":
                    out = _timed(suites.run_humaneval, cfg, generator)
                else:
                    out = _timed(suites.run_mcq, cfg, suite, scorer.score)
            results["suites"][suite], sections[suite], samples = out
            _write_samples(cfg, suite, samples)
        results["suites"] = {s: results["suites"][s] for s in cfg.suites}  # in the order asked for
        sections = {s: sections[s] for s in cfg.suites}
    markdown = _markdown(results, sections)
    make_output_folder(cfg.output)
    write_json_atomic(os.path.join(cfg.output, "results.json"), results)
    write_bytes_atomic(os.path.join(cfg.output, "results.md"), markdown.encode("utf-8"))
    return EvalReport(output=cfg.output, results=results, markdown=markdown)


def _load(cfg: EvalConfig):
    """The run's checkpoint and its tokenizer, checked for the suites asked for."""
    from tokenizers import Tokenizer

    from gecko_cli.eval import checkpoint, suites

    loaded = checkpoint.load(cfg.run, cfg.step)
    tok = Tokenizer.from_file(loaded.tokenizer_file)
    if {"kmmlu", "mmlu"} & set(cfg.suites):
        suites.check_letters(tok, loaded.tokenizer_file)
    log.info("evaluating %s at step %d (%s parameters)", cfg.run, loaded.step, f"{loaded.model.num_params():,}")
    return loaded, tok


def _scorers(cfg: EvalConfig, loaded, tok):
    """The scorer and generator of the multiple-choice and HumanEval suites, over the scanned form of the weights
    (`stacked.stack`); the training form in `loaded.params` is dropped."""
    from gecko_cli.eval.generate import Generator
    from gecko_cli.eval.loglik import Scorer
    from gecko_cli.eval.stacked import stack

    model = stack(loaded.graphdef, loaded.params)
    loaded.params = None
    window = loaded.model.max_seq_len
    return (Scorer(model, tok, window, batch_size=cfg.batch_size),
            Generator(model, tok, max_len=window, eos_id=tok.token_to_id("</s>") or 2))


def _timed(fn, *args):
    t0 = time.perf_counter()
    out, table, samples = fn(*args)
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out, table, samples


def _write_samples(cfg: EvalConfig, suite: str, samples: list[dict]) -> None:
    if not cfg.log_samples or not samples:
        return
    make_output_folder(cfg.output)
    text = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples)
    write_bytes_atomic(os.path.join(cfg.output, f"samples-{suite}.jsonl"), text.encode("utf-8"))


def _markdown(results: dict, sections: dict) -> str:
    where = f"{results['run']} at step {results['step']}" if results["run"] else "HumanEval reference solutions"
    parts = [f"# gecko eval: {where}\n"]
    for suite, table in sections.items():
        parts.append(f"## {TITLES[suite]}\n\n{table}\n")
    return "\n".join(parts)
