#!/usr/bin/env python3
"""Benchmark multiple-choice scoring on CPU: gecko's `Scorer` against lm-evaluation-harness's `hf` backend.

Both score the same questions with the same weights, each in its own process (`measure`: wall, CPU, peak RSS),
one after the other, with every core of the machine, for --rounds rounds (3 by default) that alternate which
system goes first: a machine whose speed drifts (a shared or throttled host) then slows both alike within a
round. The ratio is the median of the rounds' ratios; the table and details are that round's.

Setup (untimed):
- a 32K tokenizer trained with gecko's trainer on every third document of the shared corpus (about 10 MB);
- the `small` preset (58M parameters at vocab 32000), randomly initialised by gecko (seed 0), written as an HF
  `LlamaForCausalLM` folder: config.json (`llama_map.hf_config`), model.safetensors (`llama_map.to_hf`, float32)
  and the tokenizer files (`trainer.save`, tokenizer_config.json naming PreTrainedTokenizerFast). The scores of
  an untrained model mean nothing; the speed of scoring them is the point;
- the questions: every KMMLU and MMLU subject of the shared eval folder, 5-shot, rendered as `gecko eval` renders
  them (`mcq.render`), `mcq.limit_questions` with seed 1234 to ceil(--questions / subjects) per subject, then the
  first --questions. Each question is one context and the 4 continuations " A" .. " D".

Timed:
- gecko: the folder read back with `hf.load_params`, a `Scorer(..., batch_size=--batch-size)`, one untimed
  `Scorer.score` pass over all requests that compiles each padded shape they need (jit's cache keeps them),
  then the timed pass, which must compile nothing. Requests sharing a long prefix (a subject's few-shot examples)
  compute it once per batch into a KV cache; the pass counts list that prefix pass separately. Compile time
  is the sum of JAX's compile events. "cold" is process launch to the end of the timed pass (interpreter, imports,
  loading, compiling, scoring; the requests are tokenized twice, a fraction of a second). The persistent
  compilation cache that `gecko eval` uses (compile_cache.py) is off here, so "cold" is always a first run's.
- harness: `HFLM(pretrained=folder, device="cpu", batch_size=--batch-size)` and `loglikelihood` over the same
  (context, continuation) pairs as `Instance`s, 4 per question: one untimed question first, then all of them.
  "cold" is process launch to the end of that pass (the one warm-up question included).

Agreement: per question, the argmax letter of each system, and the largest absolute difference of the 4 x N
log-likelihoods. Both encode with the tokenizer's own `<s>`; the context token ids of both are compared too.
Target: gecko's questions/s at least 4x the harness's. Writes OUT/eval.json and prints a markdown summary
(--json prints the JSON instead).

Usage: python benchmarks/bench_eval.py [--questions 80] [--batch-size 8] [--rounds 3] [--json]
           [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import REPO, measure, shared_dir  # noqa: E402

TARGET = 4.0
NUM_FEWSHOT = 5
LIMIT_SEED = 1234
MODEL = "small"
VOCAB = 32000
CORPUS_STRIDE = 3  # every third document of the corpus trains the tokenizer


# --- setup ---------------------------------------------------------------------------------------------------------


def corpus_texts(corpus: Path) -> list[str]:
    """The `text` of every CORPUS_STRIDE-th document of every *.jsonl.zst file of the corpus, in path order."""
    import zstandard

    texts = []
    for path in sorted(corpus.rglob("*.jsonl.zst")):
        with open(path, "rb") as fh:
            lines = zstandard.ZstdDecompressor().stream_reader(fh).read().decode("utf-8").splitlines()
        texts += [json.loads(line)["text"] for line in lines[::CORPUS_STRIDE] if line.strip()]
    return texts


def build_model_folder(folder: Path, corpus: Path) -> dict:
    """Train the tokenizer and write the randomly initialised model as an HF LLaMA folder; returns what was made."""
    import dataclasses

    from flax import nnx
    from safetensors.numpy import save_file

    from gecko_cli.export.llama_map import hf_config, to_hf
    from gecko_cli.pretrain.model import Llama
    from gecko_cli.pretrain.model_config import PRESETS
    from gecko_cli.tokenizer.trainer import TrainSpec, save, train

    folder.mkdir(parents=True, exist_ok=True)
    texts = corpus_texts(corpus)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    t0 = time.perf_counter()
    tok = train(iter(texts), TrainSpec(vocab=VOCAB))
    tok_s = time.perf_counter() - t0
    save(tok, str(folder))
    cfg = dataclasses.replace(PRESETS[MODEL], vocab_size=tok.get_vocab_size(with_added_tokens=True))
    params = nnx.to_pure_dict(nnx.state(Llama(cfg, nnx.Rngs(0))))
    save_file(to_hf(params, cfg), str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(hf_config(cfg), indent=2) + "\n")
    return {"preset": MODEL, "params": cfg.num_params(), "vocab": cfg.vocab_size, "max_seq_len": cfg.max_seq_len,
            "init": "random (gecko init, seed 0)", "tokenizer_train_mb": round(mb, 1), "tokenizer_train_s": round(tok_s, 1)}


def build_questions(eval_dir: Path, n: int) -> list[dict]:
    """The first `n` questions, as (suite, subject, context, continuations, gold) records."""
    from gecko_cli.eval import mcq, mcq_data

    subjects = {suite: mcq_data.load_subjects(str(eval_dir), suite, None) for suite in mcq_data.SUITES}
    per_subject = math.ceil(n / sum(len(s) for s in subjects.values()))
    questions = []
    for suite, subs in subjects.items():
        rendered = [q for s in subs for q in mcq.render(suite, s, NUM_FEWSHOT)]
        questions += mcq.limit_questions(rendered, per_subject, LIMIT_SEED)
    if len(questions) < n:
        sys.exit(f"error: only {len(questions)} questions in {eval_dir}, {n} asked")
    return [{"suite": q.suite, "subject": q.subject, "index": q.index, "context": q.context,
             "continuations": list(q.continuations), "gold": q.gold} for q in questions[:n]]


def _ids_hash(ids: list[int]) -> str:
    return hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16]


# --- workers (each in its own process) -----------------------------------------------------------------------------


def gecko_worker(folder: str, questions_path: str, batch_size: int, result: str) -> None:
    """An untimed `Scorer.score` pass that compiles every padded shape the requests need, then the
    timed pass. The allocator is set as `gecko eval` sets it on a CPU."""
    from gecko_cli import allocator

    allocator.tune_for_cpu("eval")  # before jax starts its threads

    import jax
    from tokenizers import Tokenizer

    from gecko_cli.eval.loglik import Scorer
    from gecko_cli.eval.stacked import stack
    from gecko_cli.pretrain import hf
    from gecko_cli.pretrain.mesh import make_mesh
    from gecko_cli.pretrain.state import abstract_model, param_shardings

    compile_events: list[float] = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **_: compile_events.append(seconds) if event.startswith("/jax/core/compile/") else None)
    questions = json.loads(Path(questions_path).read_text())
    requests = [(q["context"], tuple(q["continuations"])) for q in questions]
    t0 = time.perf_counter()
    cfg = hf.read_config(folder)
    graphdef, abstract = abstract_model(cfg, 0)
    params = hf.load_params(folder, cfg, param_shardings(abstract, make_mesh({"data": 1, "fsdp": 1, "tensor": 1})))
    scorer = Scorer(stack(graphdef, params), Tokenizer.from_file(os.path.join(folder, "tokenizer.json")), cfg.max_seq_len,
                    batch_size=batch_size)
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    scorer.score(requests)  # a full untimed pass: compiles every padded shape the requests need
    dry_s = time.perf_counter() - t0
    compile_s, compile_events[:] = sum(compile_events), []

    passes: list[tuple] = []  # (kind, rows, padded length, real tokens, seconds) of each forward pass
    run, prefix_caches, run_tails = scorer._run, scorer._prefix_caches, scorer._run_tails
    b = scorer.batch_size

    def timed(fn, *args):  # the call's result, and its wall seconds until that result is ready
        t = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        return out, time.perf_counter() - t

    def counted(group):
        out, sec = timed(run, group)
        passes.append(("plain", scorer._rows(len(group)), max(scorer._bucket(len(it.tokens)) for it in group),
                       sum(len(it.tokens) for it in group), round(sec, 3)))
        return out

    def counted_prefixes(prefixes, pb):  # each shared prefix once, batch_size of them per pass
        out, sec = timed(prefix_caches, prefixes, pb)
        parts = [prefixes[start:start + b] for start in range(0, len(prefixes), b)]
        for part in parts:  # their passes run back to back: the time is shared out by rows
            passes.append(("prefix", scorer._rows(len(part)), pb, sum(len(p) for p in part),
                           round(sec * scorer._rows(len(part)) / sum(scorer._rows(len(q)) for q in parts), 3)))
        return out

    def counted_tails(cache, chunk, pb):  # rows of packed tails, each tail's own tokens after its group's prefix
        out, sec = timed(run_tails, cache, chunk, pb)
        passes.append(("tails", scorer._rows(len(chunk)), scorer._bucket(max(r.length for r in chunk)),
                       sum(r.length for r in chunk), round(sec, 3)))
        return out

    scorer._run, scorer._prefix_caches, scorer._run_tails = counted, counted_prefixes, counted_tails
    t0 = time.perf_counter()
    out = scorer.score(requests)
    seconds = time.perf_counter() - t0
    cold_end = time.time()
    Path(result).write_text(json.dumps({
        "seconds": seconds, "compile_s": compile_s, "compile_pass_s": dry_s,
        "compiled_in_timed_pass": len(compile_events), "load_s": load_s, "cold_end": cold_end, "loglik": out.loglik,
        "truncated": out.truncated, "forward_passes": len(passes), "passes": passes, "rows": sum(p[1] for p in passes),
        "padded_tokens": sum(p[1] * p[2] for p in passes), "real_tokens": sum(p[3] for p in passes),
        "context_ids": [_ids_hash(scorer.encode(c)) for c, _ in requests]}))


def harness_worker(folder: str, questions_path: str, batch_size: int, result: str) -> None:
    """`HFLM.loglikelihood` over 4 Instances per question: one question untimed, then all of them timed."""
    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    questions = json.loads(Path(questions_path).read_text())
    t0 = time.perf_counter()
    lm = HFLM(pretrained=folder, device="cpu", batch_size=batch_size)
    load_s = time.perf_counter() - t0

    def instances(qs):
        return [Instance("loglikelihood", {}, (q["context"], c), j, (None, i, 1))
                for i, q in enumerate(qs) for j, c in enumerate(q["continuations"])]

    shapes: list[tuple[int, int]] = []  # (rows, padded length) of each forward pass
    call = lm._model_call

    def counted(inps, *args, **kwargs):
        shapes.append(tuple(inps.shape))
        return call(inps, *args, **kwargs)

    lm._model_call = counted
    lm.loglikelihood(instances(questions[:1]), disable_tqdm=True)
    shapes.clear()
    t0 = time.perf_counter()
    answers = lm.loglikelihood(instances(questions), disable_tqdm=True)
    seconds = time.perf_counter() - t0
    cold_end = time.time()
    flat = [float(ll) for ll, _ in answers]
    k = len(questions[0]["continuations"])
    Path(result).write_text(json.dumps({
        "seconds": seconds, "load_s": load_s, "cold_end": cold_end,
        "loglik": [flat[i:i + k] for i in range(0, len(flat), k)], "forward_passes": len(shapes),
        "rows": sum(r for r, _ in shapes), "padded_tokens": sum(r * n for r, n in shapes),
        "requests": len(flat), "batch_size": lm.batch_size, "max_length": lm.max_length,
        "logits_cache": lm.logits_cache, "torch_threads": torch.get_num_threads(),
        "context_ids": [_ids_hash(lm.tok_encode(q["context"])) for q in questions]}))


# --- main ----------------------------------------------------------------------------------------------------------


def run_worker(name: str, folder: Path, questions: Path, batch_size: int, out: Path) -> dict:
    result = out / f"{name}.json"
    cmd = [sys.executable, __file__, "--worker", name, str(folder), str(questions), str(batch_size), str(result)]
    launched = time.time()
    timing = measure(cmd, out / f"{name}.log")
    inner = json.loads(result.read_text())
    inner["cold_s"] = inner.pop("cold_end") - launched
    return {**timing, **inner}


def agreement(questions: list[dict], gecko: dict, harness: dict) -> dict:
    import numpy as np

    a, b = np.array(gecko["loglik"]), np.array(harness["loglik"])
    pa, pb = a.argmax(1), b.argmax(1)
    gold = np.array([q["gold"] for q in questions])
    # how far apart each question's two best letters are (gecko), beside the disagreement, to judge a mismatch
    top2 = np.sort(a, 1)[:, -2:]
    return {"same_prediction": int((pa == pb).sum()), "questions": len(questions),
            "max_abs_diff": float(np.abs(a - b).max()), "mean_abs_diff": float(np.abs(a - b).mean()),
            "same_context_ids": sum(x == y for x, y in zip(gecko["context_ids"], harness["context_ids"])),
            "min_top2_gap": float((top2[:, 1] - top2[:, 0]).min()),
            "acc_gecko": float((pa == gold).mean()), "acc_harness": float((pb == gold).mean())}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=80, help="questions scored by each system [80]")
    ap.add_argument("--batch-size", type=int, default=8, help="sequences per forward pass, both systems [8]")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of both systems, alternating the first [3]")
    ap.add_argument("--json", action="store_true", help="print the JSON report instead of the markdown summary")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out"), help="output folder [benchmarks/out]")
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        name, folder, questions, batch_size, result = args.worker
        (gecko_worker if name == "gecko" else harness_worker)(folder, questions, int(batch_size), result)
        return
    if args.questions < 1 or args.batch_size < 1 or args.rounds < 1:
        sys.exit("error: --questions, --batch-size and --rounds must be at least 1")
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[var] = "1"  # the model is a local folder: nothing to fetch
    shared = shared_dir("eval")
    out = Path(args.out).resolve() / "eval"
    out.mkdir(parents=True, exist_ok=True)
    folder = out / "hf"
    t0 = time.perf_counter()
    model = build_model_folder(folder, shared_dir("corpus") / "corpus")
    questions = build_questions(shared / "eval", args.questions)
    (out / "questions.json").write_text(json.dumps(questions, ensure_ascii=False))
    setup_s = time.perf_counter() - t0
    rounds = []
    for r in range(args.rounds):  # the first system alternates, so that a drifting machine slows both alike
        order = ("gecko", "harness") if r % 2 == 0 else ("harness", "gecko")
        rounds.append({name: run_worker(name, folder, out / "questions.json", args.batch_size, out) for name in order})
    ratios = [got["harness"]["seconds"] / got["gecko"]["seconds"] for got in rounds]
    median = sorted(range(len(rounds)), key=ratios.__getitem__)[(len(rounds) - 1) // 2]
    gecko, harness = rounds[median]["gecko"], rounds[median]["harness"]
    agree = agreement(questions, gecko, harness)
    n = len(questions)
    rate_g, rate_h = n / gecko["seconds"], n / harness["seconds"]
    drop = ("loglik", "context_ids")
    report = {
        "questions": n, "num_fewshot": NUM_FEWSHOT, "batch_size": args.batch_size, "cpu_count": os.cpu_count(),
        "suites": {s: sum(q["suite"] == s for q in questions) for s in dict.fromkeys(q["suite"] for q in questions)},
        "subjects": len({(q["suite"], q["subject"]) for q in questions}), "model": model, "setup_s": round(setup_s, 1),
        "gecko": {k: v for k, v in gecko.items() if k not in drop} | {"questions_per_s": rate_g},
        "harness": {k: v for k, v in harness.items() if k not in drop} | {"questions_per_s": rate_h},
        "ratio": rate_g / rate_h, "target": TARGET, "agreement": agree,
        "rounds": [{"first": next(iter(got)), "gecko_s": got["gecko"]["seconds"], "harness_s": got["harness"]["seconds"],
                    "ratio": ratio} for got, ratio in zip(rounds, ratios)]}
    (out.parent / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"Questions: {n} ({', '.join(f'{k} {v}' for k, v in report['suites'].items())}; {report['subjects']} subjects), "
          f"{NUM_FEWSHOT}-shot, 4 continuations each; model `{MODEL}` ({model['params'] / 1e6:.0f}M parameters, "
          f"vocab {model['vocab']}, {model['init']}); batch size {args.batch_size}; {os.cpu_count()} cores, CPU\n")
    print("| system | questions | seconds | questions/s | ratio | cold s (process start to scores) | peak RSS MB |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for name, r, rate in (("gecko `Scorer.score`", gecko, rate_g), ("lm-eval `hf` loglikelihood", harness, rate_h)):
        print(f"| {name} | {n} | {r['seconds']:.2f} | {rate:.2f} | {rate / rate_h:.2f}x | {r['cold_s']:.1f} | "
              f"{r['peak_rss_mb']:.0f} |")
    mark = "PASS" if report["ratio"] >= TARGET else "FAIL"
    print(f"\ngecko / harness = {report['ratio']:.2f}x, the median of {len(rounds)} rounds (target >= {TARGET:.0f}x): "
          f"{mark}")
    print("rounds (gecko s, harness s, ratio): " + "; ".join(
        f"{x['gecko_s']:.2f}, {x['harness_s']:.2f}, {x['ratio']:.2f}x ({x['first']} first)" for x in report["rounds"]))
    print(f"gecko: compile {gecko['compile_s']:.1f} s (untimed first pass {gecko['compile_pass_s']:.1f} s; "
          f"{gecko['compiled_in_timed_pass']} compile events in the timed pass), loading {gecko['load_s']:.1f} s; "
          f"{gecko['forward_passes']} forward passes, {gecko['rows']} rows (all 4 letters of a question from one "
          f"row; shared few-shot prefixes computed once, in passes of their own), "
          f"{gecko['padded_tokens']:,} padded tokens for {gecko['real_tokens']:,} real; "
          f"{gecko['truncated']} contexts cut to the {model['max_seq_len']}-token window")
    print(f"harness: loading {harness['load_s']:.1f} s; {harness['requests']} requests in {harness['forward_passes']} "
          f"forward passes, {harness['rows']} rows (logits_cache={harness['logits_cache']}: requests sharing a context "
          f"and a one-token continuation share one row), {harness['padded_tokens']:,} padded tokens; torch threads "
          f"{harness['torch_threads']}, max_length {harness['max_length']}")
    print(f"agreement: same prediction on {agree['same_prediction']}/{n} questions; log-likelihoods max |diff| "
          f"{agree['max_abs_diff']:.2e} (mean {agree['mean_abs_diff']:.2e}); identical context token ids "
          f"{agree['same_context_ids']}/{n}; smallest gap between a question's two best letters {agree['min_top2_gap']:.2e}")
    print(f"accuracy (untrained model, for the record): gecko {agree['acc_gecko']:.3f}, harness {agree['acc_harness']:.3f}")


if __name__ == "__main__":
    main()
