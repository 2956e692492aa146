"""Settings of `gecko dedup`: the single source of their defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from gecko_cli.config import ShardStage, choice, output_settings
from gecko_cli.errors import ConfigError

PHASES = ("signatures", "pairs", "clusters", "filter")
SHINGLES = ("char", "word")
SCHEMES = ("oph", "perm")
KEEP = ("first", "longest")
ON_BAD = ("error", "skip")



@dataclass(frozen=True, kw_only=True)
class DedupConfig(ShardStage):
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
        warn_cluster_size: clusters at least this large are reported as worth a look.
        The settings every shard stage shares (seed, reading, output shards, workers, hosts, phases) are
        ShardStage's.
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
    warn_cluster_size: int = 100

    def __post_init__(self):
        choice("--shingle", self.shingle, SHINGLES)
        choice("--scheme", self.scheme, SCHEMES)
        choice("--keep", self.keep, KEEP)
        self.check_stage(PHASES, sizes=("ngram", "num_perm", "warn_cluster_size"))
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"--threshold must be in (0, 1], not {self.threshold}")
        if self.verify_bins < 0:
            raise ConfigError(f"--verify-bins must be 0 or more, not {self.verify_bins}")
        if not self.auto_bands and self.bands * self.rows != self.num_perm:
            raise ConfigError(
                f"--bands {self.bands} x --rows {self.rows} = {self.bands * self.rows}, not --num-perm {self.num_perm}",
                hint="choose bands and rows whose product is num-perm, or pass --auto-bands",
            )

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
