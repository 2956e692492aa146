"""Train GECKO's BPE tokenizer with HuggingFace `tokenizers` and save it in a LLaMA-compatible layout.

Layout (what LLaMA tooling and `transformers` expect from a sentencepiece-style BPE):
ids 0, 1, 2 are `<unk>`, `<s>`, `</s>`; ids 3..258 are the byte tokens `<0x00>`..`<0xFF>`, stored in the model
vocab (never as added tokens, so the literal text "<0x41>" is not matched as a byte); learned tokens follow.
Spaces become `▁`, characters outside the vocab fall back to their UTF-8 bytes, every digit is its own token and
no learned token is longer than `TrainSpec.max_token_chars` characters. `encode` adds `<s>` (LLaMA convention,
`add_bos_token` in tokenizer_config.json); `add_special_tokens=False` gives the bare ids.

Exact round trip: there is no normalizer, and Metaspace uses `prepend_scheme="never"`. With "always" or "first"
Metaspace prepends `▁` only when the text does not already start with one and its decoder strips the first `▁`,
so " hello" and "hello" both decode to "hello" (measured). "never" keeps `decode(encode(x)) == x` for every x;
the cost is that a document's first word is not `▁`-prefixed, which is the same as after a newline.

Pre-tokenizer. Measured on a 5 MB sample of the shared corpus mixed 35/28/37 ko/en/code by bytes, vocab 8000,
tested on held-out documents (every 10th), tokens per 1000 characters ko / en / code (Mistral: 1075 / 289 / 330):
- Metaspace(split=True) + Digits: every `▁` starts a word, so n spaces of indentation cost n tokens:
  596 / 312 / 411.
- Metaspace(split=False), regex split (`▁`-prefixed letter runs, `▁`-prefixed punctuation runs, newline runs,
  `▁` runs that leave their last `▁` to the next word), Digits: 604 / 315 / 335.
- the same, letter runs may start with any one non-letter (".append", "_name", "(self"): 608 / 315 / 310.
- the same, letter runs may end in one of `.,!?` ("이다.", "self,"): 595 / 313 / 328.
- the same, a newline run takes the indentation after it (newline + "▁▁▁", then "▁return"):
  607 / 311 / 290.
- chosen, `SPLIT_PATTERN`: the last three together, then Digits: 597 / 309 / 288.

At vocab 32000, trained on the whole corpus less the held-out documents (26.6 MB: 10.3 MB ko, 7.3 MB en,
9.0 MB code) in 4 to 5 s on 2 CPU cores (about 450 MB peak memory), tokens per 1000 characters against Mistral's 32K
sentencepiece tokenizer: Korean 440 vs 1075 (0.41x), English 256 vs 289 (0.89x), code 249 vs 330 (0.75x).
Metaspace(split=True) at 32000 gives 436 / 253 / 362 (code 1.09x Mistral, over the 5 % target). Round trip is
exact on all 71,000 documents of the corpus.

Threads. The trainer counts words in parallel (tokenizers' rayon pool) and then learns the merges. Its merge
loop also hands every merge's word list to the pool, and at 32,000 merges the pool's wake-ups cost more than they
save: on 2 cores the merges took about 2.5 s in parallel and 1.0 to 1.4 s serially (120,000 futex and 167,000
sched_yield calls, 1.4 s of system time, gone). `_learn` therefore turns tokenizers' parallelism off
(TOKENIZERS_PARALLELISM, which this tokenizers version reads at each parallel step) once the trainer has read the
last document, and restores it afterwards. The merges are the same either way (tests check it); only the time
changes: 5.7 to 6.2 s for the whole training before, 3.9 to 4.5 s after. A tokenizers version that reads the
setting only once would keep the merges parallel: slower, with the same result.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gecko_cli.errors import ConfigError, DataError
from gecko_cli.shards import write_bytes_atomic

if TYPE_CHECKING:
    from tokenizers import Tokenizer

SPECIALS = ("<unk>", "<s>", "</s>")
BYTES = tuple(f"<0x{b:02X}>" for b in range(256))
SPACE = "▁"
DIGITS = tuple("0123456789")
LETTERS = ("A", "B", "C", "D")
# Pieces that must be single tokens: answer letters with and without the space evaluation scores after "Answer:".
REQUIRED = LETTERS + tuple(SPACE + letter for letter in LETTERS) + DIGITS
MODEL_MAX_LENGTH = 8192  # GECKO's context length (DESIGN.md)
_SLACK = 16  # extra merges asked of the trainer, so trimming to the exact size rarely falls short
# Split (after spaces became ▁), in order: a letter run with one optional leading non-letter (▁, ".", "_", "(")
# and one optional trailing sentence mark; a punctuation/symbol run with an optional leading ▁; one digit; a newline
# run plus the indentation after it, less the ▁ that belongs to the next word; other whitespace (tabs); a ▁ run
# that leaves its last ▁ to the next word (GPT-4's `\s+(?!\S)` trick); a ▁ run before a newline or the end.
SPLIT_PATTERN = (
    r"[^\s\p{L}\p{M}\p{N}]?[\p{L}\p{M}]+[.,!?]?|▁?[^\s▁\p{L}\p{M}\p{N}]+|\p{N}"
    r"|[\r\n]+(?:▁+(?=▁[^\s▁]))?|[^\S\r\n]+|▁+(?=▁[^\s▁])|▁+"
)


@dataclass(frozen=True, kw_only=True)
class TrainSpec:
    """What to train.

    Attributes:
        vocab: Exact number of vocab entries, specials and byte tokens included.
        byte_fallback: Encode characters outside the vocab as their UTF-8 byte tokens instead of `<unk>`.
        max_token_chars: Longest learned token in characters, so comment rules and similar runs don't waste vocab.
        min_frequency: Fewest occurrences for a pair to be merged.
    """

    vocab: int = 32000
    byte_fallback: bool = True
    max_token_chars: int = 16
    min_frequency: int = 2

    def __post_init__(self) -> None:
        floor = len(SPECIALS) + len(BYTES) + len(REQUIRED) + 1
        if self.vocab < floor:
            raise ConfigError(f"vocab {self.vocab} is too small: the layout alone needs {floor} entries")
        if self.max_token_chars < 2:
            raise ConfigError(f"max_token_chars must be at least 2, got {self.max_token_chars}")
        if self.min_frequency < 1:
            raise ConfigError(f"min_frequency must be at least 1, got {self.min_frequency}")


def pre_tokenizer():
    """Build the pre-tokenizer: spaces to `▁`, split for prose and code, then single digits.

    Returns:
        A `tokenizers.pre_tokenizers.Sequence`.
    """
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="never", split=False),
        pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.Digits(individual_digits=True),
    ])


def _training_pre_tokenizer():
    """The pre-tokenizer's regex split alone, for text whose spaces are already `▁`."""
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated")


def _empty_tokenizer(model) -> Tokenizer:
    from tokenizers import Tokenizer, decoders

    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizer()
    tok.decoder = decoders.Sequence([
        decoders.ByteFallback(),
        decoders.Metaspace(replacement=SPACE, prepend_scheme="never", split=False),
    ])
    return tok


def _alphabet_limit(vocab: int) -> int:
    # Korean needs about 2,000 syllables; rarer characters (Hanja, emoji) are better served by byte fallback than by
    # a vocab slot each. At 32000 on the shared corpus (2,791 distinct characters, 2,047 Hangul syllables), limits
    # of 1000 / 1500 / 2000 / none gave Korean 449 / 440 / 440 / 441 tokens per 1000 characters.
    return max(vocab // 16, 100)


# Characters joined per bincount: 1M keeps the joined text (4 MB as UTF-32) in cache, and each bincount is only
# as long as the chunk's largest code point (about 55,000 for Hangul), not all 0x110000: 2 to 3x faster than
# 4M-character chunks counted into full-length arrays, measured on the 27 MB benchmark sample.
_COUNT_CHUNK = 1 << 20


def count_chars(texts: Iterable[str]) -> np.ndarray:
    """Occurrences of every code point (an array of 0x110000 counts) in `texts`, spaces counted as `▁` (as the
    pre-tokenizer sees them)."""
    counts = np.zeros(0x110000, np.int64)
    chunk: list[str] = []
    size = 0

    def flush() -> None:
        data = "".join(chunk).encode("utf-32-le", "surrogatepass")
        found = np.bincount(np.frombuffer(data, np.uint32))
        counts[:len(found)] += found

    for text in texts:
        chunk.append(text)
        size += len(text)
        if size >= _COUNT_CHUNK:
            flush()
            chunk, size = [], 0
    if chunk:
        flush()
    counts[ord(SPACE)] += counts[ord(" ")]
    counts[ord(" ")] = 0
    return counts


def choose_alphabet(counts: np.ndarray, limit: int) -> list[str]:
    """The characters the BPE starts from: the required ones (▁, A-D, digits), then the most frequent others up
    to `limit` in all, ties broken by code point, so that the choice never depends on hash or thread order."""
    required = [SPACE, *LETTERS, *DIGITS]
    taken = {ord(c) for c in required}
    present = np.flatnonzero(counts)
    present = present[~np.isin(present, list(taken))]
    order = np.lexsort((present, -counts[present]))  # count descending, then code point ascending
    room = max(limit - len(required), 0)
    return required + [chr(int(c)) for c in present[order][:room]]


_PARALLELISM = "TOKENIZERS_PARALLELISM"


@contextlib.contextmanager
def _serial_merges():
    """Yield a function that turns tokenizers' parallelism off for the rest of a training (call it once the
    trainer has read every document: the word counting before it stays parallel); restore the setting on exit."""
    before = os.environ.get(_PARALLELISM)

    def serial() -> None:
        os.environ[_PARALLELISM] = "false"

    try:
        yield serial
    finally:
        if before is None:
            os.environ.pop(_PARALLELISM, None)
        else:
            os.environ[_PARALLELISM] = before


def _spaced(texts: Iterable[str], done: Callable[[], None]) -> Iterator[str]:
    """The texts with spaces as `▁`; `done()` is called when the last one has been handed over."""
    for text in texts:
        yield text.replace(" ", SPACE)
    done()


def _learn(texts: Iterable[str], alphabet: list[str], spec: TrainSpec) -> tuple[list[str], list[tuple[str, str]]]:
    """Run the HF BPE trainer from `alphabet` and return the learned alphabet and merges in training order.

    The trainer sees the text with spaces already turned into `▁` and splits it with the regex alone
    (`_training_pre_tokenizer`): the same words the saved pre-tokenizer makes, without its Metaspace pass (a
    copy of every document with per-byte alignments) or its Digits pass (the regex already isolates each digit);
    tests/tokenizer/test_trainer.py checks that the two agree. Giving the trainer the whole alphabet
    (`initial_alphabet`, `limit_alphabet` = its size) keeps the result deterministic: when the trainer itself
    cuts the alphabet at `limit_alphabet`, characters tied at the cut are chosen in hash-map order, which
    changes the merges from run to run. The merge loop runs serially (`_serial_merges`, module docstring)."""
    from tokenizers import Tokenizer, models, trainers

    tok = Tokenizer(models.BPE(unk_token=SPECIALS[0], byte_fallback=spec.byte_fallback))
    tok.pre_tokenizer = _training_pre_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab - len(SPECIALS) - len(BYTES) + _SLACK,
        min_frequency=spec.min_frequency,
        special_tokens=[],
        limit_alphabet=len(alphabet),
        initial_alphabet=alphabet,
        max_token_length=spec.max_token_chars,
        show_progress=False,
    )
    with _serial_merges() as serial:
        tok.train_from_iterator(_spaced(texts, serial), trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    merged = {a + b for a, b in merges}
    by_id = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    alphabet = [token for token, _ in by_id if token not in merged]
    return alphabet, merges


def _fit(alphabet: list[str], merges: list[tuple[str, str]], vocab: int) -> list[tuple[str, str]]:
    """Trim the last merges and append any missing required ones so the layout has exactly `vocab` entries."""
    required = [(SPACE, piece[1:]) for piece in REQUIRED if piece.startswith(SPACE)]
    base = len(SPECIALS) + len(BYTES) + len(alphabet)
    kept = list(merges)
    while True:
        tokens = {a + b for a, b in kept}
        extra = [m for m in required if m[0] + m[1] not in tokens]
        size = base + len(tokens) + len(extra)
        if size <= vocab or not kept:
            break
        # Later merges only build on earlier ones, so dropping from the end never orphans a kept merge.
        kept.pop()
    if size != vocab:
        raise DataError(
            f"only {size:,} vocab entries could be learned from this text, not the {vocab:,} asked for",
            hint="train on more (or more varied) text, or ask for a smaller vocab",
        )
    return kept + extra


def _assemble(alphabet: list[str], merges: list[tuple[str, str]], spec: TrainSpec) -> Tokenizer:
    from tokenizers import AddedToken, models, processors

    vocab: dict[str, int] = {}
    for token in (*SPECIALS, *BYTES, *alphabet, *(a + b for a, b in merges)):
        vocab.setdefault(token, len(vocab))
    model = models.BPE(vocab=vocab, merges=merges, unk_token=SPECIALS[0], byte_fallback=spec.byte_fallback,
                       fuse_unk=True)
    tok = _empty_tokenizer(model)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    bos = SPECIALS[1]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])])
    return tok


def train(texts: Sequence[str] | Iterable[str] | Callable[[], Iterable[str]], spec: TrainSpec) -> Tokenizer:
    """Train on documents read twice: once to count characters (the alphabet), once to learn the merges.

    Args:
        texts: Documents (Korean, English, code), each a string: a function that returns a fresh iterable of
            the same documents each time it is called (streamed: they are never all held in memory), or a
            sequence; a one-shot iterator is first read into a list.
        spec: Vocab size and training options.

    Returns:
        A `tokenizers.Tokenizer` with exactly `spec.vocab` entries in the layout the module docstring describes.

    Raises:
        DataError: The texts are too few to learn `spec.vocab` entries.
    """
    if callable(texts):
        passes = texts
    else:
        docs = list(texts) if iter(texts) is texts else texts
        passes = lambda: docs  # noqa: E731
    alphabet = choose_alphabet(count_chars(passes()), _alphabet_limit(spec.vocab))
    alphabet, merges = _learn(passes(), alphabet, spec)
    tok = _assemble(alphabet, _fit(alphabet, merges, spec.vocab), spec)
    size = tok.get_vocab_size(with_added_tokens=True)
    assert size == spec.vocab, f"assembled {size} entries, expected {spec.vocab}"
    return tok


def transformers_config() -> dict:
    """The tokenizer_config.json that makes `AutoTokenizer.from_pretrained` use tokenizer.json as is.

    Returns:
        The config as a dict.
    """
    unk, bos, eos = SPECIALS
    decoder = {str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                        "single_word": False, "special": True} for i, s in enumerate(SPECIALS)}
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": decoder,
        "bos_token": bos,
        "eos_token": eos,
        "unk_token": unk,
        "pad_token": None,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "legacy": False,
        "model_max_length": MODEL_MAX_LENGTH,
        "padding_side": "right",
    }


def save(tok: Tokenizer, folder: str) -> list[str]:
    """Write tokenizer.json, tokenizer_config.json and special_tokens_map.json, each atomically.

    Args:
        tok: A tokenizer from `train`.
        folder: Output folder; created if missing.

    Returns:
        The three paths written.
    """
    os.makedirs(folder, exist_ok=True)
    unk, bos, eos = SPECIALS
    files = {
        "tokenizer.json": tok.to_str(pretty=True),
        "tokenizer_config.json": json.dumps(transformers_config(), indent=2, ensure_ascii=False),
        "special_tokens_map.json": json.dumps({"bos_token": bos, "eos_token": eos, "unk_token": unk}, indent=2),
    }
    paths = []
    for name, text in files.items():
        path = os.path.join(folder, name)
        write_bytes_atomic(path, (text + "\n").encode("utf-8"))
        paths.append(path)
    return paths
