"""Loading tokenizers to compare: sentencepiece models, tiktoken rank files and HF `tokenizer.json` files.

Every loader returns an `Encoder`: a name, a vocabulary size and `encode` / `encode_batch`, which never add
special tokens (no BOS), so that token counts measure the text alone. The libraries are imported inside the
loaders: importing this module stays cheap.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Protocol

from gecko_cli.errors import DataError, DependencyError

INSTALL_HINT = "pip install sentencepiece tiktoken"


class Encoder(Protocol):
    """A tokenizer reduced to what efficiency measurements need."""

    name: str
    vocab_size: int

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, no special tokens added."""
        ...

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, no special tokens added."""
        ...


class SentencePieceEncoder:
    """A sentencepiece `.model` (for example Mistral's), encoding without BOS or EOS."""

    def __init__(self, name: str, processor):
        self.name = name
        self.vocab_size = processor.get_piece_size()
        self._sp = processor

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, no BOS or EOS."""
        return self._sp.encode(text, out_type=int, add_bos=False, add_eos=False)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, no BOS or EOS (sentencepiece encodes a list on its own threads)."""
        return self._sp.encode(list(texts), out_type=int, add_bos=False, add_eos=False)


class TiktokenEncoder:
    """A tiktoken `Encoding`, encoding ordinary text: special-token strings are plain text here."""

    def __init__(self, name: str, encoding):
        self.name = name
        self.vocab_size = encoding.n_vocab
        self._enc = encoding

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`; special-token strings are encoded as the text they are."""
        return self._enc.encode_ordinary(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, encoded on tiktoken's thread pool."""
        return self._enc.encode_ordinary_batch(list(texts))


class HFEncoder:
    """A HF `tokenizers.Tokenizer` (gecko's own output is one), encoding without its post-processor's specials."""

    def __init__(self, name: str, tokenizer):
        self.name = name
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        self._tok = tokenizer

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without the BOS/EOS a post-processor would add."""
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, encoded in parallel by `tokenizers`."""
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]


def _name_of(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    if base == "tokenizer.json":
        base = os.path.basename(os.path.dirname(os.path.abspath(path))) or base
    stem, ext = os.path.splitext(base)
    return stem if ext in (".model", ".tiktoken", ".json") else base


def _load_sentencepiece(path: str) -> Encoder:
    try:
        import sentencepiece as spm
    except ImportError as e:
        raise DependencyError("sentencepiece is not installed; it is needed to load .model files",
                              hint=INSTALL_HINT) from e
    try:
        processor = spm.SentencePieceProcessor(model_file=path)
    except (OSError, RuntimeError) as e:
        raise DataError(f"{path}: not a readable sentencepiece model ({e})",
                        hint="pass a .model file written by sentencepiece's trainer") from e
    return SentencePieceEncoder(_name_of(path), processor)


def _read_ranks(path: str) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                token, rank = line.split()
                ranks[base64.b64decode(token, validate=True)] = int(rank)
            except (ValueError, binascii.Error) as e:
                raise DataError(f"{path}:{number}: expected 'base64-token rank', got {line[:60]!r}",
                                hint="pass a tiktoken rank file such as cl100k_base.tiktoken") from e
    if not ranks:
        raise DataError(f"{path}: no ranks in the file", hint="pass a tiktoken rank file such as cl100k_base.tiktoken")
    return ranks


def _read_meta(path: str) -> dict:
    meta_path = os.path.splitext(path)[0] + ".meta.json"
    if not os.path.isfile(meta_path):
        raise DataError(f"{path}: {os.path.basename(meta_path)} is missing beside it",
                        hint=f'write {meta_path} as {{"pat_str": "<regex>", "special_tokens": {{"<|endoftext|>": 100257}}}} '
                             "with the pattern and specials of this encoding (tiktoken_ext/openai_public.py lists them)")
    try:
        with open(meta_path, encoding="utf-8") as fh:
            meta = json.load(fh)
        if not isinstance(meta.get("pat_str"), str):
            raise ValueError("no string 'pat_str'")
        if not isinstance(meta.get("special_tokens", {}), dict):
            raise ValueError("'special_tokens' is not an object")
    except (OSError, ValueError, AttributeError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DataError(f"{meta_path}: unreadable ({e})",
                        hint='it must be a JSON object with "pat_str" (a string) and "special_tokens" (name: id)') from e
    return meta


def _load_tiktoken(path: str) -> Encoder:
    try:
        import tiktoken
    except ImportError as e:
        raise DependencyError("tiktoken is not installed; it is needed to load .tiktoken files", hint=INSTALL_HINT) from e
    meta = _read_meta(path)
    name = _name_of(path)
    try:
        encoding = tiktoken.Encoding(name, pat_str=meta["pat_str"], mergeable_ranks=_read_ranks(path),
                                     special_tokens={k: int(v) for k, v in meta.get("special_tokens", {}).items()})
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e})", hint="check the file's permissions") from e
    except (ValueError, TypeError) as e:
        raise DataError(f"{path}: tiktoken rejected the encoding ({e})",
                        hint="check the pattern and special token ids in the .meta.json") from e
    return TiktokenEncoder(name, encoding)


def _load_tokenizer_json(path: str) -> Encoder:
    from gecko_cli.tokenizer.folder import read_tokenizer

    tokenizer, _ = read_tokenizer(path, hint="pass a file written by tokenizers' Tokenizer.save or by "
                                             "`gecko train-tokenizer`")
    return HFEncoder(_name_of(path), tokenizer)


def load(path: str) -> Encoder:
    """Load a tokenizer to measure.

    Args:
        path: a sentencepiece `.model`, a tiktoken rank file (`.tiktoken`, with `NAME.meta.json` beside it holding
            `pat_str` and `special_tokens`), a `tokenizer.json`, or a folder holding `tokenizer.json` (such as
            gecko's own output).

    Returns:
        An `Encoder` named after the file (or the folder, for `tokenizer.json`).

    Raises:
        DataError: the path is missing, of an unknown format, unreadable, or a `.tiktoken` lacks its meta.json.
        DependencyError: sentencepiece, tiktoken or tokenizers is not installed.
    """
    if os.path.isdir(path):
        inner = os.path.join(path, "tokenizer.json")
        if not os.path.isfile(inner):
            raise DataError(f"{path}: folder holds no tokenizer.json",
                            hint="pass the output folder of `gecko train-tokenizer` or a tokenizer file")
        return _load_tokenizer_json(inner)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file", hint="check the path; tokenizers are listed comma-separated")
    if path.endswith(".model"):
        return _load_sentencepiece(path)
    if path.endswith(".tiktoken"):
        return _load_tiktoken(path)
    if path.endswith(".json"):
        return _load_tokenizer_json(path)
    raise DataError(f"{path}: unknown tokenizer format",
                    hint="pass a sentencepiece .model, a .tiktoken rank file, a tokenizer.json or a folder holding one")


def load_many(spec: str) -> list[Encoder]:
    """Load several tokenizers.

    Args:
        spec: comma-separated paths, as for `load` (for example "mistral.model,cl100k_base.tiktoken").

    Returns:
        The encoders in the order given.

    Raises:
        DataError: the spec names no path, or one path cannot be loaded.
    """
    paths = [p.strip() for p in spec.split(",") if p.strip()]
    if not paths:
        raise DataError("no tokenizer paths given", hint="pass comma-separated paths, e.g. a.model,b.tiktoken")
    return [load(p) for p in paths]
