"""`gecko pack`: tokenize and pack every input file, then write the shuffled rows; the manifest when complete."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

from gecko_cli import __version__, schemas
from gecko_cli.console import log
from gecko_cli.pack import encode, write
from gecko_cli.pack.config import PHASES, PackConfig
from gecko_cli.pack.work import SPLITS, TokenizerInfo, Work, tokenizer_info
from gecko_cli.shards import InputFile, check_hosts, discover, fingerprint, host_slice, read_manifest, write_manifest
from gecko_cli.stage import prepare_output, run_parallel


@dataclass
class PackReport:
    """What a run did: the manifest once the output is complete, and the phases' timings."""

    output: str
    complete: bool = False
    already_complete: bool = False
    manifest: dict | None = None
    phases: dict = field(default_factory=dict)


def run(cfg: PackConfig) -> PackReport:
    """Run pack as configured; returns a report (the output folder is written as a side effect)."""
    check_hosts(cfg.num_hosts, cfg.host_index)
    info = tokenizer_info(cfg.tokenizer)
    inputs = discover(cfg.input, cfg.exclude)
    fp = fingerprint({"settings": cfg.output_settings(), "tokenizer": info.fingerprint,
                      "inputs": [[f.relpath, f.size] for f in inputs]})
    work = Work(cfg.output)
    report = PackReport(output=cfg.output)
    if prepare_output(work, cfg.output, fp, cfg.output_settings(), overwrite=cfg.overwrite,
                      single_host=cfg.num_hosts == 1, side_dirs=(os.path.join(cfg.output, "val"),)):
        report.complete = report.already_complete = True
        report.manifest = read_manifest(cfg.output)
        return report
    for phase in PHASES if cfg.phase == "all" else (cfg.phase,):
        t0 = time.perf_counter()
        if phase == "encode":
            mine = host_slice(inputs, cfg.num_hosts, cfg.host_index)
            run_parallel(cfg.workers, encode.run_unit, [(cfg, work, f, info) for f in mine])
        else:
            _write(cfg, work, info, inputs)
        report.phases[phase] = time.perf_counter() - t0
        log.info(f"pack: {phase} done in {report.phases[phase]:.1f}s")
    manifest = _finalize(cfg, work, info, inputs, fp)
    if manifest is not None:
        report.complete, report.manifest = True, manifest
    return report


def _plan(cfg: PackConfig, work: Work, info: TokenizerInfo, inputs: list[InputFile]) -> dict[str, tuple[list, int]]:
    """Per split: the rows each input file packed, and how many output shards they fill."""
    per = write.rows_per_shard(cfg, info)
    plan = {}
    for split in SPLITS:
        counts = [work.done_info("encode", f.index)[split]["rows"] for f in inputs]
        plan[split] = (counts, math.ceil(sum(counts) / per))
    return plan


def _write(cfg: PackConfig, work: Work, info: TokenizerInfo, inputs: list[InputFile]) -> None:
    work.require("encode", [f.index for f in inputs], "write")
    jobs = [(cfg, work, info, split, k, counts) for split, (counts, n) in _plan(cfg, work, info, inputs).items()
            for k in range(n)]
    run_parallel(cfg.workers, write.write_shard, host_slice(jobs, cfg.num_hosts, cfg.host_index))


def _finalize(cfg: PackConfig, work: Work, info: TokenizerInfo, inputs: list[InputFile], fp: str) -> dict | None:
    """Write the manifests once every shard of both splits is written (by any host); else return None."""
    if not all(work.is_done("encode", f.index) for f in inputs):
        return None
    plan = _plan(cfg, work, info, inputs)
    if not all(work.is_done("write", f"{split}-{k:05d}") for split, (_, n) in plan.items() for k in range(n)):
        return None
    encoded = [work.done_info("encode", f.index) for f in inputs]
    base = {"stage": "pack", "gecko_version": __version__, "schema": "packed", "fingerprint": fp,
            "config": {"input": cfg.input, **cfg.output_settings()},
            "tokenizer": {"path": info.path, "fingerprint": info.fingerprint, "vocab_size": info.vocab_size},
            "inputs": [{"path": f.relpath, "bytes": f.size} for f in inputs],
            "seq_len": cfg.seq_len, "vocab_size": info.vocab_size, "token_type": str(schemas.token_type(info.vocab_size)),
            "bos_id": info.bos_id, "eos_id": info.eos_id, "pad_id": info.pad_id, "strategy": cfg.strategy,
            "rows_per_batch": cfg.rows_per_batch}
    manifests = {}
    for split in ("val", "train"):  # the main manifest last: it marks the whole output complete
        shards = [work.done_info("write", f"{split}-{k:05d}") for k in range(plan[split][1])]
        stats = _stats([e[split] for e in encoded], sum(e["bad_records"] for e in encoded))
        manifest = {**base, "split": split, "shards": shards, "stats": stats,
                    "splits": {"val": "val"} if split == "train" else {}}
        if split == "val" and not shards:
            continue
        write_manifest(write.folder_of(cfg, split), manifest)
        manifests[split] = manifest
    if not cfg.keep_work:
        work.remove()
    return manifests["train"]


def _stats(parts: list[dict], bad: int) -> dict:
    total = {k: sum(p[k] for p in parts) for k in ("documents", "documents_cut", "rows", "tokens", "padding",
                                                  "text_bytes")}
    slots = total["tokens"] + total["padding"]
    by_lang = {lang: sum(p["tokens_by_lang"][lang] for p in parts) for lang in schemas.PACKED_LANGS}
    return {**total, "bad_records": bad, "tokens_by_lang": by_lang,
            "padding_share": total["padding"] / slots if slots else 0.0,
            "cut_share": total["documents_cut"] / total["documents"] if total["documents"] else 0.0}
