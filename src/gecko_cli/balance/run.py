"""`gecko balance`: scan, plan, scatter, gather; the manifest when complete; or only the plan (--dry-run)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from gecko_cli import __version__
from gecko_cli.balance import scan, shuffle
from gecko_cli.balance.config import PHASES, BalanceConfig
from gecko_cli.balance.work import COPY, Work
from gecko_cli.console import log
from gecko_cli.shards import InputFile, check_hosts, discover, fingerprint, host_slice, read_manifest, write_manifest
from gecko_cli.stage import prepare_output, run_parallel


@dataclass
class BalanceReport:
    """What a run did: the plan and statistics (when known), and the manifest once the output is complete."""

    output: str
    complete: bool = False
    dry_run: bool = False
    already_complete: bool = False
    stats: dict | None = None
    manifest: dict | None = None
    phases: dict = field(default_factory=dict)


def run(cfg: BalanceConfig) -> BalanceReport:
    """Run balance as configured; returns a report (the output folder is written as a side effect)."""
    check_hosts(cfg.num_hosts, cfg.host_index)
    if cfg.by == "tokens":
        shuffle.load_tokenizer(cfg)  # a bad tokenizer stops the run before the scan, not after it
    inputs = discover(cfg.input, cfg.exclude)
    if cfg.dry_run:
        return _dry_run(cfg, inputs)
    listing = [[f.relpath, f.size] for f in inputs]
    fp = fingerprint({"settings": cfg.output_settings(), "inputs": listing})
    scan_fp = fingerprint({"settings": cfg.scan_settings(), "inputs": listing})
    work = Work(cfg.output)
    report = BalanceReport(output=cfg.output)
    side = tuple(filter(None, (cfg.keep_dropped,)))
    if prepare_output(work, cfg.output, fp, cfg.output_settings(), overwrite=cfg.overwrite,
                      single_host=cfg.num_hosts == 1, side_dirs=side, reuse=("scan", scan_fp)):
        report.complete = report.already_complete = True
        report.manifest = read_manifest(cfg.output)
        report.stats = report.manifest["stats"]
        return report
    for phase in PHASES if cfg.phase == "all" else (cfg.phase,):
        t0 = time.perf_counter()
        _PHASES[phase](cfg, work, inputs)
        report.phases[phase] = time.perf_counter() - t0
        log.info(f"balance: {phase} done in {report.phases[phase]:.1f}s")
    manifest = _finalize(cfg, work, inputs, fp)
    if manifest is not None:
        report.complete, report.manifest, report.stats = True, manifest, manifest["stats"]
    return report


def _scan(cfg, work, inputs):
    if cfg.keep_dropped:
        os.makedirs(cfg.keep_dropped, exist_ok=True)
    mine = host_slice(inputs, cfg.num_hosts, cfg.host_index)
    results = run_parallel(cfg.workers, scan.run_unit, [(cfg, work, f, len(inputs)) for f in mine],
                           costs=[f.size for f in mine])
    for f, result in zip(mine, results):  # what the later phases read next, without reading it back
        work.hold_scan_info(f.index, result["info"])
        if result["meta"] is not None:
            work.hold_meta(f.index, result["meta"])


def _plan(cfg, work, inputs):
    work.require("scan", [f.index for f in inputs], "plan")
    if cfg.host_index != 0 or work.is_done("plan", None):  # one global step: host 0 writes it
        return
    meta = shuffle.load_meta(work, len(inputs))
    samples = [_sample(work, f.index, work.done_info("scan", f.index)) for f in inputs] if cfg.by == "tokens" else []
    plan = shuffle.make_plan(cfg, meta, samples)
    if plan["mix"]["note"]:
        log.warning(f"warning: {plan['mix']['note']}")
    work.mark_done("plan", None, plan)


def _scatter(cfg, work, inputs):
    work.require("plan", [None], "scatter")
    plan = shuffle.read_plan(work)
    mine = host_slice(inputs, cfg.num_hosts, cfg.host_index)
    if _holds_copies(cfg, plan):  # computed here and kept in memory, for the gather that follows in this process
        for f in mine:
            shuffle.scatter_unit(cfg, work, f.index, plan, hold=True)
        return
    run_parallel(cfg.workers, shuffle.scatter_unit, [(cfg, work, f.index, plan) for f in mine], costs=[f.size for f in mine])


def _holds_copies(cfg: BalanceConfig, plan: dict) -> bool:
    """Whether scatter keeps its copies in memory instead of writing them: when this process runs every phase on
    the only host, they fit in Work.COPIES_HELD_BYTES, and the work folder is not to be kept. A crash then loses
    them, and the rerun scatters again (a small step: a sort of each scanned file's copies) before it gathers
    the shards not yet written. Elsewhere they go to files, for the hosts or runs of the phases that follow."""
    copies = sum(p["docs_out"] for p in plan["langs"].values())
    return (cfg.phase == "all" and cfg.num_hosts == 1 and not cfg.keep_work
            and copies * COPY.itemsize <= Work.COPIES_HELD_BYTES)


def _gather(cfg, work, inputs):
    work.require("scatter", [f.index for f in inputs if not work.holds_copies(f.index)], "gather")
    shards = host_slice(list(range(shuffle.read_plan(work)["shards"])), cfg.num_hosts, cfg.host_index)
    threads = max(1, cfg.workers // max(len(shards), 1))  # fewer shards than workers: each compresses on several
    run_parallel(cfg.workers, shuffle.gather_unit, [(cfg, work, k, len(inputs), threads) for k in shards])


_PHASES = {"scan": _scan, "plan": _plan, "scatter": _scatter, "gather": _gather}


def _sample(work: Work, unit: int, scan_info: dict) -> dict:
    """A scanned file's sample of texts per language: on its done marker (in sample-N.json in work folders
    written by earlier versions)."""
    if "sample" in scan_info:
        return scan_info["sample"]
    with open(work.sample_file(unit), encoding="utf-8") as fh:
        return json.load(fh)


def _dry_run(cfg: BalanceConfig, inputs: list[InputFile]) -> BalanceReport:
    results = run_parallel(cfg.workers, scan.run_unit, [(cfg, None, f, len(inputs)) for f in inputs])
    meta = np.concatenate([r["meta"] for r in results])
    plan = shuffle.make_plan(cfg, meta, [r["sample"] for r in results])
    return BalanceReport(output=cfg.output, dry_run=True, stats=stats_of(cfg, [r["info"] for r in results], plan))


def stats_of(cfg: BalanceConfig, scans: list[dict], plan: dict) -> dict:
    """The table of the plan and the result: per language, in, after the rules, out, share and epochs."""
    langs: dict = defaultdict(Counter)
    dropped: dict = defaultdict(Counter)
    pii = Counter()
    for s in scans:
        for lang, row in s["langs"].items():
            langs[lang].update({k: v for k, v in row.items() if k != "dropped"})
            dropped[lang].update(row["dropped"])
        pii.update(s["pii"])
    out_bytes = max(plan["bytes_out"], 1)
    table = {}
    for lang, row in sorted(langs.items(), key=lambda kv: ("ko", "en", "code", "other").index(kv[0])):
        p = plan["langs"].get(lang, {})
        tpb = p.get("tokens_per_byte")
        table[lang] = {"docs_in": row["docs_in"], "bytes_in": row["bytes_in"], "docs_kept": row["docs_kept"],
                       "bytes_kept": row["bytes_kept"], "docs_out": p.get("docs_out", 0),
                       "bytes_out": p.get("bytes_out", 0), "share_out": p.get("bytes_out", 0) / out_bytes,
                       "target_share": p.get("share", 0.0), "epochs": p.get("epochs", 0.0),
                       "dropped": dict(sorted(dropped[lang].items()))}
        if tpb is not None:
            table[lang].update({"tokens_per_byte": tpb, "tokens_kept": row["bytes_kept"] * tpb,
                                "tokens_out": p.get("bytes_out", 0) * tpb})
    if cfg.by == "tokens":
        total_tokens = max(sum(r.get("tokens_out", 0) for r in table.values()), 1)
        for r in table.values():
            r["share_out"] = r.get("tokens_out", 0) / total_tokens
    docs = {"read": sum(r["docs_in"] for r in table.values()), "kept": sum(r["docs_kept"] for r in table.values()),
            "out": sum(r["docs_out"] for r in table.values())}
    reasons = Counter()
    for c in dropped.values():
        reasons.update(c)
    return {"by": cfg.by, "languages": table, "documents": {**docs, "dropped": dict(sorted(reasons.items()))},
            "pii": dict(sorted(pii.items())), "mix": plan["mix"], "shards": plan["shards"]}


def _finalize(cfg: BalanceConfig, work: Work, inputs: list[InputFile], fp: str) -> dict | None:
    """Write the manifest once every output shard is gathered (by any host); else return None."""
    if not work.is_done("plan", None):
        return None
    plan = shuffle.read_plan(work)
    if not all(work.is_done("gather", k) for k in range(plan["shards"])):
        return None
    scans = [work.scan_info(f.index) for f in inputs]
    stats = stats_of(cfg, scans, plan)
    shards = [work.done_info("gather", k) for k in range(plan["shards"])]
    base = {"stage": "balance", "gecko_version": __version__, "schema": "docs", "fingerprint": fp,
            "config": {"input": cfg.input, **cfg.output_settings()},
            "inputs": [{"path": f.relpath, "format": f.format, "bytes": f.size} for f in inputs]}
    if cfg.keep_dropped:
        dropped = [{"name": f"shard-{f.index:05d}.arrow",
                    "rows": sum(row["docs_in"] - row["docs_kept"] for row in s["langs"].values()),
                    "bytes": os.path.getsize(os.path.join(cfg.keep_dropped, f"shard-{f.index:05d}.arrow"))}
                   for f, s in zip(inputs, scans)]
        write_manifest(cfg.keep_dropped, {**base, "stage": "balance-dropped", "shards": dropped,
                                          "stats": {"documents": stats["documents"]}})
    manifest = {**base, "shards": [{"name": s["name"], "rows": s["rows"], "bytes": s["bytes"]}
                                   for s in shards if s["name"]], "stats": stats}
    write_manifest(cfg.output, manifest)
    if not cfg.keep_work:
        work.remove()
    return manifest
