"""Reading the tokenizer a stage works with (pack, balance --by tokens, tokenizer-report): checked before any work.

A tokenizer is a folder holding `tokenizer.json`, or the file itself. A folder that `gecko train-tokenizer`
writes is complete once its manifest.json is written, last; while it runs, the folder holds a `.gecko-work/`
marker, and it also writes report.json and report.md. So a folder with any of these but no train-tokenizer
manifest is an unfinished run and is refused; a folder with none of them (a HuggingFace tokenizer folder, or
the copy a pretrain run keeps) is taken as it is.
"""

from __future__ import annotations

import json
import os

from gecko_cli.errors import DataError, DependencyError
from gecko_cli.shards import MANIFEST
from gecko_cli.stage import WORK_DIR

TOKENIZER_FILE = "tokenizer.json"
#: Files only `gecko train-tokenizer` writes into a tokenizer folder (besides its manifest).
GECKO_FILES = ("report.json", "report.md")
HINT = "pass the folder that `gecko train-tokenizer` wrote, or a HuggingFace tokenizer.json"


def tokenizer_file(path: str) -> str:
    """The tokenizer.json of a tokenizer folder, or `path` itself when it names a .json file."""
    return path if path.endswith(".json") else os.path.join(path, TOKENIZER_FILE)


def check_complete(path: str) -> None:
    """Refuse a tokenizer folder that `gecko train-tokenizer` started but did not finish.

    Args:
        path: the tokenizer folder, or a tokenizer.json (whose folder is checked).
    """
    if path.endswith(".json") and os.path.basename(path) != TOKENIZER_FILE:
        return  # a tokenizer file of its own: not part of a gecko folder
    folder = (os.path.dirname(path) or ".") if path.endswith(".json") else path
    if not os.path.isdir(folder):
        return
    names = set(os.listdir(folder))
    if MANIFEST in names:
        stage = _manifest_stage(os.path.join(folder, MANIFEST))
        if stage == "train-tokenizer":
            return
        raise DataError(f"{folder}: its {MANIFEST} is not one of `gecko train-tokenizer` (stage {stage!r})",
                        hint=HINT)
    marks = sorted(names & {WORK_DIR, *GECKO_FILES})
    if marks:
        raise DataError(f"{folder} holds an unfinished `gecko train-tokenizer` run ({', '.join(marks)} but no {MANIFEST})",
                        hint="run the same `gecko train-tokenizer` command again (with --overwrite), then use the folder")


def _manifest_stage(path: str):
    try:
        with open(path, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError, RecursionError) as e:  # ValueError: bad JSON or UTF-8
        raise DataError(f"{path}: unreadable manifest ({e})", hint="run `gecko train-tokenizer` again with --overwrite") from None
    return manifest.get("stage") if isinstance(manifest, dict) else None


def read_tokenizer(path: str, hint: str = HINT) -> tuple:
    """Load a tokenizer file with clear errors: missing, unreadable, not UTF-8, not a tokenizer.

    Args:
        path: a tokenizer.json (or another .json file written by tokenizers).
        hint: what to tell the user when it cannot be used.

    Returns:
        (the `tokenizers.Tokenizer`, the file's bytes).
    """
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise DependencyError("the `tokenizers` package is not installed", hint="pip install tokenizers") from None
    if not os.path.exists(path):
        raise DataError(f"{path} not found", hint=hint)
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
        return Tokenizer.from_str(blob.decode("utf-8")), blob
    except Exception as e:  # OSError, UnicodeDecodeError; tokenizers raises plain Exception on bad JSON
        why = (str(e).splitlines() or [type(e).__name__])[0][:200]
        raise DataError(f"{path}: not a readable tokenizer ({why})", hint=hint) from None


def load_tokenizer(path: str, hint: str = HINT) -> tuple:
    """The tokenizer of a folder (or its tokenizer.json) that a stage is given: complete, readable.

    Returns:
        (the `tokenizers.Tokenizer`, the bytes of its tokenizer.json).
    """
    check_complete(path)
    return read_tokenizer(tokenizer_file(path), hint)
