"""The files pack's phases hand to each other, under OUT/.gecko-work/, and the tokenizer it packs with."""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass

import numpy as np

from gecko_cli.errors import DataError
from gecko_cli.stage import WorkDir, memmap

#: Per packed row: real tokens, tokens per language (schemas.PACKED_LANGS), text bytes covered.
ROW_META = np.dtype([("used", "<i4"), ("lang_tokens", "<i4", (4,)), ("text_bytes", "<i8")])
SPLITS = ("train", "val")


class Work(WorkDir):
    """The work folder of one pack output."""

    def __init__(self, out_dir: str):
        super().__init__(out_dir, ("encode", "write"), "pack")

    def rows_file(self, split: str, unit: int) -> str:
        return self.path("encode", f"rows-{split}-{unit:05d}.bin")

    def meta_file(self, split: str, unit: int) -> str:
        return self.path("encode", f"meta-{split}-{unit:05d}.bin")

    def rows(self, split: str, unit: int, seq_len: int, dtype) -> np.ndarray:
        return memmap(self.rows_file(split, unit), dtype).reshape(-1, seq_len)

    def meta(self, split: str, unit: int) -> np.ndarray:
        return memmap(self.meta_file(split, unit), ROW_META)


@dataclass(frozen=True)
class TokenizerInfo:
    """What pack needs to know of the tokenizer, and what the manifest records of it."""

    path: str
    fingerprint: str
    vocab_size: int
    bos_id: int
    eos_id: int
    pad_id: int

    @property
    def dtype(self):
        return np.uint16 if self.vocab_size <= 65536 else np.uint32

    def load(self):
        """The tokenizer, reading special-token look-alikes in documents (a literal "<s>") as plain text.

        Loaded once per process: a 32K tokenizer takes about 40 ms to load, more than many input files take to pack.
        """
        return _load(self.path, self.fingerprint)


@functools.lru_cache(maxsize=2)
def _load(path: str, fingerprint: str):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    tok.encode_special_tokens = True
    return tok


def tokenizer_info(path: str) -> TokenizerInfo:
    """Check the tokenizer before any work starts: a complete folder, readable, LLaMA layout, ids that fit the
    token type.

    Args:
        path: the tokenizer folder or its tokenizer.json (--tokenizer).
    """
    from gecko_cli.tokenizer.folder import load_tokenizer, tokenizer_file

    hint = "pass --tokenizer with the folder that `gecko train-tokenizer` wrote"
    tok, blob = load_tokenizer(path, hint)
    path = tokenizer_file(path)
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    if bos is None or eos is None:
        raise DataError(f"{path}: the tokenizer has no <s> and </s> tokens", hint=hint)
    vocab = tok.get_vocab_size()
    if vocab > 2**32:
        raise DataError(f"{path}: a vocabulary of {vocab:,} does not fit 32-bit token ids", hint=hint)
    unk = tok.token_to_id("<unk>")
    return TokenizerInfo(path=os.path.abspath(path), fingerprint=hashlib.sha256(blob).hexdigest()[:16],
                         vocab_size=vocab, bos_id=bos, eos_id=eos, pad_id=unk if unk is not None else eos)
