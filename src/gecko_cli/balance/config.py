"""Settings of `gecko balance`: the single source of their defaults."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from gecko_cli.balance.rules import RulesConfig
from gecko_cli.config import PARSES_TEXT, ShardStage, choice, output_settings
from gecko_cli.errors import ConfigError

PHASES = ("scan", "plan", "scatter", "gather")
MIX_LANGS = ("ko", "en", "code", "other")
BY = ("bytes", "tokens")
DEFAULT_MIX = (("ko", 0.35), ("en", 0.28), ("code", 0.37))



@dataclass(frozen=True, kw_only=True)
class BalanceConfig(ShardStage):
    """Everything `gecko balance` needs to know.

    Attributes:
        input: folder of documents (normally dedup's output) or any input `gecko dedup` reads.
        output: folder for the mixed documents.
        mix: target share of each language, summing to 1.
        by: measure shares in `bytes` of text or in `tokens` (estimated with `tokenizer`).
        tokenizer: folder (or tokenizer.json) of a HuggingFace tokenizer, for `by="tokens"`.
        total: output size in bytes or tokens; None: the largest mix with no language above max_epochs.
        max_epochs: most repetitions of any language's documents.
        best_effort: when the cap makes the mix impossible, write the closest mix instead of stopping.
        relabel: detect every document's language, ignoring existing labels.
        keep_other: keep documents in no known language (label `other`) instead of dropping them.
        scrub_pii: replace e-mail addresses, phone, resident registration and card numbers by placeholders.
        rules: thresholds of the quality rules (a None threshold turns its rule off).
        apply_rules: False turns every quality rule off.
        token_sample_bytes: text per language tokenized to estimate tokens per byte.
        dry_run: print the plan and write nothing.
        batch_rows: documents read per batch: 8,192 here (2,048 for the other stages), the batches an input file
            holds joined up to that (shards/tabular.py): each batch costs the scan some fixed work, about 1 ms
            (a scan of the deduplicated sample corpus, whose files hold batches of 2,048 documents, takes
            0.69 instead of 0.73 s with one worker).
        The settings every shard stage shares (seed, reading, --keep-dropped, output shards, workers, hosts,
        phases) are ShardStage's.
    """

    input: str = "clean"
    output: str = "mixed"
    mix: tuple[tuple[str, float], ...] = field(default=DEFAULT_MIX, metadata={PARSES_TEXT: True})
    by: str = "bytes"
    tokenizer: str | None = None
    total: float | None = field(default=None, metadata={PARSES_TEXT: True})
    max_epochs: float = 4.0
    best_effort: bool = False
    relabel: bool = False
    keep_other: bool = False
    scrub_pii: bool = True
    rules: RulesConfig = field(default_factory=RulesConfig)
    apply_rules: bool = True
    token_sample_bytes: int = 4_000_000
    dry_run: bool = False
    batch_rows: int = 8192

    def __post_init__(self):
        if isinstance(self.mix, str):
            object.__setattr__(self, "mix", parse_mix(self.mix))
        elif isinstance(self.mix, dict):
            object.__setattr__(self, "mix", tuple(self.mix.items()))
        check_mix(dict(self.mix))
        object.__setattr__(self, "mix", tuple((n, s + 0.0) for n, s in self.mix))  # a share written -0 is 0
        if isinstance(self.total, str):
            from gecko_cli.balance.sizes import parse_total

            object.__setattr__(self, "total", parse_total(self.total, self.by))
        choice("--by", self.by, BY)
        self.check_stage(PHASES, sizes=("token_sample_bytes",))
        if self.by == "tokens" and not self.tokenizer:
            raise ConfigError("--by tokens needs --tokenizer", hint="pass the folder that `gecko train-tokenizer` wrote")
        if self.total is not None and self.total <= 0:
            raise ConfigError(f"--total must be positive, not {self.total}")
        if self.max_epochs <= 0:
            raise ConfigError(f"--max-epochs must be positive, not {self.max_epochs}")

    @property
    def mix_dict(self) -> dict[str, float]:
        return dict(self.mix)

    def output_settings(self) -> dict:
        """The settings that decide the output bytes (what the fingerprint covers)."""
        d = output_settings(self)
        d["mix"] = self.mix_dict
        if d["tokenizer"]:
            d["tokenizer"] = os.path.abspath(d["tokenizer"])
        return d

    def scan_settings(self) -> dict:
        """The settings the scan phase depends on: other changes (mix shares, total, epochs) reuse a scan."""
        d = self.output_settings()
        keep = ("relabel", "keep_other", "scrub_pii", "rules", "apply_rules", "seed", "token_sample_bytes",
                "text_field", "on_bad_record", "exclude", "keep_dropped", "batch_rows")
        out = {k: d[k] for k in keep}
        out["mix_langs"] = sorted(lang for lang, share in self.mix if share > 0)
        out["token_samples"] = self.by == "tokens"  # a scan by bytes takes none, and the plan by tokens needs them
        return out


def parse_mix(text: str) -> tuple[tuple[str, float], ...]:
    """Parse `ko=0.35,en=0.28,code=0.37` (shares may also be percentages: ko=35,en=28,code=37)."""
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            share = float(value)
        except ValueError:
            share = None
        if not sep or share is None:
            raise ConfigError(f"--mix: cannot read {part!r}", hint="write it like ko=0.35,en=0.28,code=0.37")
        if name.strip() in (n for n, _ in pairs):
            raise ConfigError(f"--mix names {name.strip()!r} twice", hint="give each language one share")
        pairs.append((name.strip(), share))
    if pairs and sum(s for _, s in pairs) > 1.5:  # percentages
        pairs = [(n, s / 100) for n, s in pairs]
    return tuple(pairs)


def check_mix(mix: dict[str, float]) -> None:
    """A mix names known languages once each, with finite, non-negative shares summing to 1."""
    if not mix:
        raise ConfigError("--mix is empty", hint="write it like ko=0.35,en=0.28,code=0.37")
    unknown = [n for n in mix if n not in MIX_LANGS]
    if unknown:
        raise ConfigError(f"--mix names an unknown language {unknown[0]!r}",
                          hint=f"languages are {', '.join(MIX_LANGS)}")
    odd = [n for n, s in mix.items() if isinstance(s, bool) or not isinstance(s, int | float) or not math.isfinite(s)]
    if odd:
        raise ConfigError(f"--mix: the share of {odd[0]} is {mix[odd[0]]!r}, not a finite number",
                          hint="write it like ko=0.35,en=0.28,code=0.37")
    negative = [n for n, s in mix.items() if s < 0]
    if negative:
        raise ConfigError(f"--mix: the share of {negative[0]} is {mix[negative[0]]:g}; shares must not be negative",
                          hint="give a language you do not want 0, or leave it out")
    total = sum(mix.values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"--mix shares sum to {total:g}, not 1",
                          hint="make them add up to 1, e.g. ko=0.35,en=0.28,code=0.37")


