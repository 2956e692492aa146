"""The `gecko dedup` command: flags onto DedupConfig, run, print the report."""

from typing import Annotated, Optional

import typer

from gecko_cli import options as o
from gecko_cli.dedup.config import KEEP, PHASES, SCHEMES, SHINGLES
from gecko_cli.dedup.config import DedupConfig as C
from gecko_cli.options import choices

Shingle, Scheme, Keep, Phase = (choices(n, v) for n, v in (("Shingle", SHINGLES), ("Scheme", SCHEMES),
                                                             ("Keep", KEEP), ("Phase", ("all", *PHASES))))

HELP = """Remove exact and near-duplicate documents, keeping one per cluster.

Exact duplicates (same normalized text) go first; near duplicates are found with MinHash LSH and every
candidate pair is verified against --threshold. Writes OUTPUT/shard-*.arrow and OUTPUT/manifest.json, which
accounts for every input document.

\b
Examples:
  gecko dedup raw/ clean/
  gecko dedup raw/ clean/ --workers 2 --threshold 0.8 --keep-dropped dropped/
  gecko dedup raw/ clean/ --phase signatures --num-hosts 8 --host-index 3
"""


def dedup(
    ctx: typer.Context,
    input: Annotated[Optional[str], typer.Argument(help="Input folder (searched recursively) or file. [default: raw/]")] = None,
    output: Annotated[Optional[str], typer.Argument(help="Output folder. [default: clean/]")] = None,
    threshold: Annotated[float, typer.Option(help="Least estimated Jaccard similarity of near duplicates.")] = C.threshold,
    shingle: Annotated[Shingle, typer.Option(help="char: character n-grams; word: word n-grams.")] = Shingle(C.shingle),
    ngram: Annotated[int, typer.Option(help="Characters (or words) per shingle.")] = C.ngram,
    num_perm: Annotated[int, typer.Option(help="MinHash values per document.")] = C.num_perm,
    bands: Annotated[int, typer.Option(help="LSH bands.")] = C.bands,
    rows: Annotated[int, typer.Option(help="MinHash values per band.")] = C.rows,
    auto_bands: Annotated[bool, typer.Option(help="Derive bands and rows from --threshold.")] = C.auto_bands,
    verify_bins: Annotated[int, typer.Option(min=0, help="Bins of the sketch that verifies pairs (0: the signature).")] = (
        C.verify_bins),
    scheme: Annotated[Scheme, typer.Option(help="oph: one-permutation hashing; perm: num-perm hash functions.")] = Scheme(C.scheme),
    keep: Annotated[Keep, typer.Option(help="Which document of a cluster to keep: first or longest.")] = Keep(C.keep),
    keep_dropped: Annotated[Optional[str], typer.Option(help="Also write dropped documents here, with reason and cluster.")] = None,
    shard_size: Annotated[str, typer.Option(help="Target text size of an output shard.")] = "256MB",
    warn_cluster_size: Annotated[int, typer.Option(help="Warn about clusters at least this large.")] = C.warn_cluster_size,
    phase: Annotated[Phase, typer.Option(help="all, or one phase (see README: many hosts).")] = Phase(C.phase),
    keep_work: Annotated[bool, typer.Option(help="Keep the intermediate files (.gecko-work/) after success.")] = False,
    text_field: o.TextField = C.text_field,
    on_bad_record: o.OnBadRecord = o.OnBad(C.on_bad_record),
    exclude: o.Exclude = None,
    seed: o.Seed = C.seed,
    workers: o.Workers = C.workers,
    num_hosts: o.NumHosts = C.num_hosts,
    host_index: o.HostIndex = C.host_index,
    overwrite: o.Overwrite = False,
    config: o.ConfigOpt = None,
    json_out: o.JsonOut = False,
) -> None:
    from gecko_cli.cli import build_config, input_path
    from gecko_cli.dedup.report import print_report
    from gecko_cli.dedup.run import run

    cfg = build_config(ctx, C, "dedup", paths={"input": "raw", "output": "clean"})
    input_path(cfg.input, made_by=None)
    print_report(run(cfg), json_out=json_out)


dedup.__doc__ = HELP
