"""`gecko dedup`: run the phases (all, or one on this host's slice) and write the manifest when complete."""

from __future__ import annotations

import glob
import json
import os
import signal
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

from gecko_cli import __version__
from gecko_cli.console import log
from gecko_cli.dedup import clusters, filtering, pairs, signatures
from gecko_cli.dedup.config import PHASES, DedupConfig
from gecko_cli.dedup.work import REASONS, Work
from gecko_cli.errors import ConfigError
from gecko_cli.shards import (
    MANIFEST,
    InputFile,
    check_hosts,
    discover,
    fingerprint,
    host_slice,
    read_manifest,
    remove_temp_files,
    write_json_atomic,
    write_manifest,
)


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
    if cfg.workers == 1 or len(jobs) <= 1:
        for job in jobs:
            fn(*job)
        return
    with ProcessPoolExecutor(max_workers=min(cfg.workers, len(jobs)), mp_context=get_context("fork"),
                             initializer=_die_with_parent) as pool:
        for fut in [pool.submit(fn, *job) for job in jobs]:
            fut.result()


def _die_with_parent() -> None:
    # A worker whose parent is killed (kill -9, preemption) stops too, instead of writing on as an orphan.
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# ------------------------------------------------------------------------------------ output folder state
def _prepare(cfg: DedupConfig, work: Work, fp: str) -> bool:
    """Check the output folder against this run; returns True when it already holds this exact result."""
    out = cfg.output
    manifest_path = os.path.join(out, MANIFEST)
    hint = "pass --overwrite to replace it, or choose another output folder"
    if os.path.exists(manifest_path):
        old = read_manifest(out)
        if old.get("fingerprint") == fp and not cfg.overwrite:
            return True
        if not cfg.overwrite:
            raise ConfigError(f"{out} holds the output of a dedup run with other settings or inputs", hint=hint)
        _clear(cfg, work)
    elif os.path.exists(work.state):
        old = _read_state(work)
        if old.get("fingerprint") != fp:
            if not cfg.overwrite and _any_done(work):
                raise ConfigError(f"{out} holds an unfinished dedup run with other settings or inputs", hint=hint)
            _clear(cfg, work)
    elif os.path.isdir(out) and os.listdir(out):
        if not cfg.overwrite:
            raise ConfigError(f"{out} is not empty and is not a gecko dedup output", hint=hint)
        _clear(cfg, work)
    elif cfg.overwrite:
        _clear(cfg, work)
    os.makedirs(out, exist_ok=True)
    work.make()
    if cfg.num_hosts == 1:
        remove_temp_files(out)
        for sub in ("signatures", "pairs", "clusters", "filter"):
            remove_temp_files(os.path.join(work.root, sub))
        if cfg.keep_dropped and os.path.isdir(cfg.keep_dropped):
            remove_temp_files(cfg.keep_dropped)
    write_json_atomic(work.state, {"fingerprint": fp, "config": cfg.output_settings()})
    return False


def _any_done(work: Work) -> bool:
    """Whether an unfinished run got as far as finishing some unit (else it can restart with new settings)."""
    return bool(glob.glob(os.path.join(glob.escape(work.root), "*", "done*.json")))


def _read_state(work: Work) -> dict:
    try:
        with open(work.state, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def _clear(cfg: DedupConfig, work: Work) -> None:
    work.remove()
    for folder in filter(None, (cfg.output, cfg.keep_dropped)):
        for path in glob.glob(os.path.join(glob.escape(folder), "shard-*.arrow")) + [os.path.join(folder, MANIFEST)]:
            if os.path.exists(path):
                os.remove(path)


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
