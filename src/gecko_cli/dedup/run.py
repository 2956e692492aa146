"""`gecko dedup`: run the phases (all, or one on this host's slice) and write the manifest when complete."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass, field

from gecko_cli import __version__
from gecko_cli.console import log
from gecko_cli.dedup import clusters, filtering, pairs, signatures
from gecko_cli.dedup.config import PHASES, DedupConfig
from gecko_cli.dedup.work import REASONS, Work
from gecko_cli.shards import InputFile, check_hosts, discover, fingerprint, host_slice, read_manifest, write_manifest
from gecko_cli.stage import prepare_output, run_parallel


@dataclass
class DedupReport:
    """What a run did: the manifest when the output is complete, and timings of the phases run here."""

    output: str
    complete: bool
    manifest: dict | None = None
    already_complete: bool = False
    phases: dict = field(default_factory=dict)


def run(cfg: DedupConfig) -> DedupReport:
    """Run dedup as configured; returns a report (the output folder is written as a side effect)."""
    cfg = cfg.resolved()
    check_hosts(cfg.num_hosts, cfg.host_index)
    inputs = discover(cfg.input, cfg.exclude)
    fp = fingerprint({"settings": cfg.output_settings(), "inputs": [[f.relpath, f.size] for f in inputs]})
    work = Work(cfg.output)
    report = DedupReport(output=cfg.output, complete=False)
    if _prepare(cfg, work, fp):
        report.complete, report.already_complete = True, True
        report.manifest = read_manifest(cfg.output)
        return report
    counts: list[int] = []
    for phase in PHASES if cfg.phase == "all" else (cfg.phase,):
        t0 = time.perf_counter()
        if phase != "signatures":
            work.require("signatures", range(len(inputs)), phase)
            counts = [work.done_info("signatures", f.index)["records"] for f in inputs]
        _PHASES[phase](cfg, work, inputs, counts)
        report.phases[phase] = time.perf_counter() - t0
        log.info(f"dedup: {phase} done in {report.phases[phase]:.1f}s")
    manifest = _finalize(cfg, work, inputs, fp)
    if manifest is not None:
        report.complete, report.manifest = True, manifest
    return report


# ------------------------------------------------------------------------------------------------- phases
def _signatures(cfg, work, inputs, counts):
    _parallel(cfg, signatures.run_unit, [(cfg, work, f) for f in _mine(cfg, inputs)])


def _pairs(cfg, work, inputs, counts):
    bands = host_slice(list(range(cfg.bands)), cfg.num_hosts, cfg.host_index)
    groups = [bands[w::cfg.workers] for w in range(min(cfg.workers, len(bands)))]
    _parallel(cfg, pairs.run_bands, [(cfg, work, g, counts) for g in groups])


def _clusters(cfg, work, inputs, counts):
    work.require("pairs", range(cfg.bands), "clusters")
    if cfg.host_index == 0:  # one global step: host 0 does it, the others wait for its marker
        clusters.run(cfg, work, counts, [f.relpath for f in inputs])


def _filter(cfg, work, inputs, counts):
    work.require("clusters", [None], "filter")
    if cfg.keep_dropped:
        os.makedirs(cfg.keep_dropped, exist_ok=True)
    _parallel(cfg, filtering.run_unit, [(cfg, work, f, counts) for f in _mine(cfg, inputs)])


_PHASES = {"signatures": _signatures, "pairs": _pairs, "clusters": _clusters, "filter": _filter}


def _mine(cfg: DedupConfig, inputs: list[InputFile]) -> list[InputFile]:
    return host_slice(inputs, cfg.num_hosts, cfg.host_index)


def _parallel(cfg: DedupConfig, fn, jobs: list[tuple]) -> None:
    run_parallel(cfg.workers, fn, jobs)


def _prepare(cfg: DedupConfig, work: Work, fp: str) -> bool:
    """Check the output folder against this run; returns True when it already holds this exact result."""
    return prepare_output(work, cfg.output, fp, cfg.output_settings(), overwrite=cfg.overwrite,
                          single_host=cfg.num_hosts == 1, side_dirs=tuple(filter(None, (cfg.keep_dropped,))))


# ------------------------------------------------------------------------------------------------ manifest
def _finalize(cfg: DedupConfig, work: Work, inputs: list[InputFile], fp: str) -> dict | None:
    """Write the manifest(s) once every input file has been filtered (by any host); else return None."""
    if not all(work.is_done("filter", f.index) for f in inputs):
        return None
    parts = [work.done_info("filter", f.index) for f in inputs]
    info = work.done_info("clusters", None)
    stats = _stats(parts, info)
    base = {
        "stage": "dedup",
        "gecko_version": __version__,
        "schema": "docs",
        "fingerprint": fp,
        "config": {"input": cfg.input, **cfg.output_settings()},
        "inputs": [{"path": f.relpath, "format": f.format, "bytes": f.size,
                    "records": work.done_info("signatures", f.index)["records"]} for f in inputs],
    }
    if cfg.keep_dropped:
        dropped = [s for p in parts for s in p["dropped_shards"]]
        write_manifest(cfg.keep_dropped, {**base, "stage": "dedup-dropped", "shards": dropped,
                                          "stats": {"documents": stats["documents"]}})
    manifest = {**base, "shards": [s for p in parts for s in p["shards"]], "stats": stats}
    write_manifest(cfg.output, manifest)
    if not cfg.keep_work:
        work.remove()
    return manifest


def _stats(parts: list[dict], info: dict) -> dict:
    docs = defaultdict(int)
    text = defaultdict(int)
    by_lang: dict = defaultdict(lambda: defaultdict(int))
    by_source: dict = defaultdict(lambda: defaultdict(int))
    for part in parts:
        for lang, source, reason, n, nbytes in part["tally"]:
            docs[reason] += n
            text[reason] += nbytes
            for table, key in ((by_lang, lang), (by_source, source)):
                table[key]["read"] += n
                table[key][reason] += n
    read = sum(docs.values())
    return {
        "documents": {"read": read, "kept": docs["kept"],
                      "dropped": {r: docs[r] for r in REASONS[1:]}},
        "text_bytes": {"read": sum(text.values()), "kept": text["kept"]},
        "by_lang": {k: _row(v) for k, v in sorted(by_lang.items())},
        "by_source": {k: _row(v) for k, v in sorted(by_source.items())},
        "clusters": info["clusters"],
        "lsh": info["lsh"],
    }


def _row(counts: dict) -> dict:
    return {"read": counts["read"], **{r: counts[r] for r in REASONS}}
