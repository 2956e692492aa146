"""Checks on a trained tokenizer: exact round trip, single-token answer letters and digits, vocab composition.

Each check takes a `tokenizers.Tokenizer` and returns a JSON-ready dict, so reports and tests read the same numbers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

from gecko_cli.tokenizer.trainer import BYTES, DIGITS, LETTERS, SPACE, SPECIALS

if TYPE_CHECKING:
    from tokenizers import Tokenizer

BATCH_DOCS = 256  # documents encoded per call: keeps the batch encoder busy while bounding memory
PREFIX_CHARS = 80  # how much of the first failing document a report shows
_BYTE = re.compile(r"<0x[0-9A-F]{2}>")
COMPOSITION_KEYS = ("special", "byte", "hangul", "latin", "digit", "code_punctuation", "other")


def _batches(texts: Iterable[str]) -> Iterator[list[str]]:
    it = iter(texts)
    while batch := list(islice(it, BATCH_DOCS)):
        yield batch


def round_trip(tok: Tokenizer, texts: Iterable[str]) -> dict:
    """Encode and decode every document and count those that do not come back exactly.

    Special tokens are kept when decoding, so text that contains "<s>" literally still round-trips.

    Args:
        tok: A `tokenizers.Tokenizer`.
        texts: Documents, streamed.

    Returns:
        {"documents", "failures", "unk_ids" (how many ids were `<unk>`), "first_failure"}; first_failure is
        None or {"index", "text_prefix"}.
    """
    unk_id = tok.token_to_id(SPECIALS[0])
    documents = failures = unk_ids = 0
    first_failure = None
    for batch in _batches(texts):
        encodings = tok.encode_batch(batch, add_special_tokens=False)
        decoded = tok.decode_batch([e.ids for e in encodings], skip_special_tokens=False)
        for offset, (text, enc, back) in enumerate(zip(batch, encodings, decoded, strict=True)):
            unk_ids += enc.ids.count(unk_id)
            if back != text:
                failures += 1
                if first_failure is None:
                    first_failure = {"index": documents + offset, "text_prefix": text[:PREFIX_CHARS]}
        documents += len(batch)
    return {"documents": documents, "failures": failures, "unk_ids": unk_ids, "first_failure": first_failure}


def single_tokens(tok: Tokenizer) -> dict:
    """Check that the answer letters (bare and after a space) and each digit encode as exactly one token.

    Args:
        tok: A `tokenizers.Tokenizer`.

    Returns:
        {"letters": {" A": bool, ..., "A": bool, ...}, "digits": {"0": bool, ...}, "ok": all of them}. A piece
        that encodes as `<unk>` is not a token of its own.
    """
    unk_id = tok.token_to_id(SPECIALS[0])

    def one(text: str) -> bool:
        ids = tok.encode(text, add_special_tokens=False).ids
        return len(ids) == 1 and ids[0] != unk_id

    letters = {piece: one(piece) for piece in (*(" " + x for x in LETTERS), *LETTERS)}
    digits = {d: one(d) for d in DIGITS}
    return {"letters": letters, "digits": digits, "ok": all(letters.values()) and all(digits.values())}


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalpha() or (ch.isalpha() and "LATIN" in unicodedata.name(ch, ""))


def _is_code_punctuation(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "PSZC"


def classify(token: str, specials: frozenset[str] = frozenset(SPECIALS)) -> str:
    """Name the composition class of one vocab entry.

    Args:
        token: The entry as stored in the vocab (`▁` for a space).
        specials: Entries that count as special tokens.

    Returns:
        One of `COMPOSITION_KEYS`. A leading `▁` is ignored for hangul, latin and digit, so "▁서울" is hangul.
    """
    if token in specials:
        return "special"
    if _BYTE.fullmatch(token):
        return "byte"
    body = token[1:] if token.startswith(SPACE) and len(token) > 1 else token
    for key, test in (("hangul", _is_hangul), ("latin", _is_latin), ("digit", str.isdigit),
                      ("code_punctuation", _is_code_punctuation)):
        if all(test(ch) for ch in body):
            return key
    return "other"


def composition(tok: Tokenizer) -> dict:
    """Count vocab entries by class: special, byte, hangul, latin, digit, code_punctuation, other.

    code_punctuation is entries made only of punctuation, symbols and whitespace (`▁`, indentation runs, "):");
    other is mixed scripts and everything else (Hanja, letters mixed with punctuation, ...).

    Args:
        tok: A `tokenizers.Tokenizer`.

    Returns:
        A dict of counts, one per key of `COMPOSITION_KEYS`, that sums to the vocab size.
    """
    vocab = tok.get_vocab(with_added_tokens=True)
    specials = frozenset(SPECIALS)
    byte_ids = {vocab.get(b) for b in BYTES}
    counts = dict.fromkeys(COMPOSITION_KEYS, 0)
    for token, idx in vocab.items():
        key = classify(token, specials)
        if key == "byte" and idx not in byte_ids:
            key = "other"
        counts[key] += 1
    return counts
