"""Settings of `gecko pack`: the single source of their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from gecko_cli.config import ShardStage, choice, output_settings
from gecko_cli.errors import ConfigError

PHASES = ("encode", "write")
STRATEGIES = ("concat", "best-fit")


@dataclass(frozen=True, kw_only=True)
class PackConfig(ShardStage):
    """Everything `gecko pack` needs to know.

    Attributes:
        input: folder of documents (normally balance's output).
        output: folder for the packed rows (and `val/` for the held-out split).
        tokenizer: folder written by `gecko train-tokenizer` (or its tokenizer.json).
        seq_len: tokens per row.
        strategy: `concat` (documents end to end, cut at row boundaries) or `best-fit` (documents no longer than a
            row are never cut; rows are padded).
        val_fraction: share of documents (by a hash of their id) held out into `val/`.
        rows_per_batch: rows per record batch in the output, so that a random row costs one small batch to read.
        The settings every shard stage shares (seed of the row shuffle, reading, output shard size, workers,
        hosts, phases) are ShardStage's.
    """

    input: str = "mixed"
    output: str = "packed"
    tokenizer: str = "tokenizer"
    seq_len: int = 8192
    strategy: str = "concat"
    val_fraction: float = 0.005
    rows_per_batch: int = 8

    def __post_init__(self):
        choice("--strategy", self.strategy, STRATEGIES)
        self.check_stage(PHASES, sizes=("rows_per_batch",))
        if self.seq_len < 2:
            raise ConfigError(f"--seq-len must be at least 2 (<s> and one token), not {self.seq_len}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"--val-fraction must be in [0, 1), not {self.val_fraction}")
        if self.keep_dropped is not None:
            raise ConfigError("gecko pack drops no documents: --keep-dropped does not apply")

    def output_settings(self) -> dict:
        """The settings that decide the output bytes (the tokenizer enters the fingerprint by its contents)."""
        d = output_settings(self)
        d.pop("tokenizer")
        return d
