"""Settings of `gecko dedup`: the single source of their defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from gecko_cli.config import choice, output_settings
from gecko_cli.errors import ConfigError

PHASES = ("signatures", "pairs", "clusters", "filter")
SHINGLES = ("char", "word")
SCHEMES = ("oph", "perm")
KEEP = ("first", "longest")
ON_BAD = ("error", "skip")



@dataclass(frozen=True, kw_only=True)
class DedupConfig:
    """Everything `gecko dedup` needs to know.

    Attributes:
        input: folder (searched recursively) or file of documents.
        output: folder for the kept documents.
        threshold: least estimated Jaccard similarity of near duplicates.
        shingle: `char` (character n-grams of the normalized text) or `word` (word n-grams).
        ngram: characters or words per shingle.
        num_perm: MinHash values per document.
        bands, rows: LSH banding; bands * rows must equal num_perm. `auto_bands` derives them from threshold.
        verify_bins: bins of the finer sketch that verifies candidate pairs; 0 verifies with the signature.
        scheme: `oph` (one-permutation hashing, densified) or `perm` (num_perm hash functions).
        keep: which document of a cluster is kept: `first` in input order, or `longest` (ties: first).
        seed: seed of the hash functions.
        text_field: the input field or column holding the text.
        on_bad_record: `error` stops at the first bad record; `skip` drops it and counts it.
        keep_dropped: folder for dropped documents, with reason and cluster, or None.
        exclude: glob patterns of input files to leave out.
        shard_bytes: target size of output shards (bytes of text).
        warn_cluster_size: clusters at least this large are reported as worth a look.
        batch_rows: records read per batch.
        workers, num_hosts, host_index, phase, overwrite, keep_work: how and where the work runs.
    """

    input: str = "raw"
    output: str = "clean"
    threshold: float = 0.8
    shingle: str = "char"
    ngram: int = 5
    num_perm: int = 112
    bands: int = 14
    rows: int = 8
    auto_bands: bool = False
    verify_bins: int = 448
    scheme: str = "oph"
    keep: str = "first"
    seed: int = 0
    text_field: str = "text"
    on_bad_record: str = "error"
    keep_dropped: str | None = None
    exclude: tuple[str, ...] = ()
    shard_bytes: int = 256_000_000
    warn_cluster_size: int = 100
    batch_rows: int = 2048
    workers: int = 1
    num_hosts: int = 1
    host_index: int = 0
    phase: str = "all"
    overwrite: bool = False
    keep_work: bool = False

    def __post_init__(self):
        choice("--shingle", self.shingle, SHINGLES)
        choice("--scheme", self.scheme, SCHEMES)
        choice("--keep", self.keep, KEEP)
        choice("--on-bad-record", self.on_bad_record, ON_BAD)
        choice("--phase", self.phase, ("all", *PHASES))
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"--threshold must be in (0, 1], not {self.threshold}")
        if self.verify_bins < 0:
            raise ConfigError(f"--verify-bins must be 0 or more, not {self.verify_bins}")
        for name in ("ngram", "num_perm", "workers", "shard_bytes", "batch_rows", "warn_cluster_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}")
        if not self.auto_bands and self.bands * self.rows != self.num_perm:
            raise ConfigError(
                f"--bands {self.bands} x --rows {self.rows} = {self.bands * self.rows}, not --num-perm {self.num_perm}",
                hint="choose bands and rows whose product is num-perm, or pass --auto-bands",
            )
        if self.keep_dropped is not None and _same_path(self.keep_dropped, self.output):
            raise ConfigError("--keep-dropped must be another folder than the output")
        if _same_path(self.input, self.output):
            raise ConfigError("the output folder must differ from the input folder")

    def resolved(self) -> DedupConfig:
        """The config with derived values filled in (bands and rows from the threshold when asked)."""
        if not self.auto_bands:
            return self
        from gecko_cli.dedup.lsh import optimal_bands

        bands, rows = optimal_bands(self.threshold, self.num_perm)
        return dataclasses.replace(self, bands=bands, rows=rows, num_perm=bands * rows, auto_bands=False)

    def output_settings(self) -> dict:
        """The settings that decide the output bytes (what the fingerprint covers)."""
        return output_settings(self)




def _same_path(a: str, b: str) -> bool:
    import os

    return os.path.abspath(a) == os.path.abspath(b)
