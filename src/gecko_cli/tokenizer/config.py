"""Settings of `gecko train-tokenizer` and `gecko tokenizer-report`."""

from __future__ import annotations

from dataclasses import dataclass

from gecko_cli.config import at_least, check_apart, choice, output_settings
from gecko_cli.errors import ConfigError

#: Ids 0..258 hold <unk>, <s>, </s> and the 256 byte tokens; a vocabulary needs room for learned tokens too.
RESERVED = 259


@dataclass(frozen=True, kw_only=True)
class TokenizerConfig:
    """Everything `gecko train-tokenizer` needs to know.

    Attributes:
        input: folder of documents (normally balance's output), or any input `gecko dedup` reads.
        output: folder for the tokenizer files and its report.
        vocab: exact number of vocabulary entries.
        byte_fallback: characters the vocabulary lacks are encoded as UTF-8 byte tokens instead of <unk>.
        max_token_chars: longest token the trainer may learn, in characters.
        min_frequency: least count of a pair for it to be merged.
        sample_bytes: text to train on, drawn in the input's language mix.
        heldout_fraction: share of documents (by a hash of their id) kept out of training for the checks.
        heldout_bytes: most held-out text used for the checks and the report.
        compare: reference tokenizers for the efficiency table (.model, .tiktoken, tokenizer.json or a folder).
        seed: seed of the held-out split.
        text_field, on_bad_record, exclude: as for `gecko dedup`, for inputs that are not gecko shards.
        overwrite: replace a tokenizer trained with other settings.
    """

    input: str = "mixed"
    output: str = "tokenizer"
    vocab: int = 32000
    byte_fallback: bool = True
    max_token_chars: int = 16
    min_frequency: int = 2
    sample_bytes: int = 1_000_000_000
    heldout_fraction: float = 0.02
    heldout_bytes: int = 20_000_000
    compare: tuple[str, ...] = ()
    seed: int = 0
    text_field: str = "text"
    on_bad_record: str = "error"
    exclude: tuple[str, ...] = ()
    overwrite: bool = False

    def __post_init__(self):
        if isinstance(self.compare, str):
            object.__setattr__(self, "compare", tuple(p for p in self.compare.split(",") if p.strip()))
        if self.vocab < RESERVED + 256:
            raise ConfigError(f"--vocab {self.vocab} is too small: {RESERVED} ids are reserved (<unk>, <s>, </s> and "
                              "256 byte tokens) and the learned tokens must at least cover the text's alphabet",
                              hint=f"use at least {RESERVED + 256}; GECKO uses 32000")
        if not 0 < self.heldout_fraction < 0.5:
            raise ConfigError(f"--heldout-fraction must be between 0 and 0.5, not {self.heldout_fraction}")
        at_least(self, 2, ("max_token_chars",))  # a token of one character is not learned: it is in the alphabet
        at_least(self, 1, ("min_frequency", "sample_bytes", "heldout_bytes"))
        choice("--on-bad-record", self.on_bad_record, ("error", "skip"))
        check_apart(self.input, self.output)

    def output_settings(self) -> dict:
        """The settings that decide the tokenizer (what its fingerprint covers); --compare only adds to the report."""
        d = output_settings(self)
        d.pop("compare")
        return d
