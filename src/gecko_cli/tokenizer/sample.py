"""The training sample and the held-out documents, streamed from the input in its language mix."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from gecko_cli import schemas
from gecko_cli.shards import InputFile, iter_records

_COPY = "~ep"  # balance's suffix for repeated documents: all copies of a document fall on the same side


@dataclass
class Sample:
    """What was drawn: training bytes per language, and the held-out documents as (lang, text)."""

    quota: dict[str, float]
    train_bytes: dict[str, int] = field(default_factory=dict)
    train_docs: int = 0
    heldout: list[tuple[str, str]] = field(default_factory=list)
    heldout_bytes: int = 0


def language_mix(folder: str) -> dict[str, float] | None:
    """The output shares of each language from a `gecko balance` manifest, or None without one."""
    path = os.path.join(folder, "manifest.json")
    if not os.path.isdir(folder) or not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            langs = json.load(fh).get("stats", {}).get("languages", {})
        return {lang: float(row["share_out"]) for lang, row in langs.items() if row.get("share_out", 0) > 0} or None
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return None


def is_heldout(doc_id: str, fraction: float, seed: int) -> bool:
    """Whether a document is held out of training (a seeded hash of its id, copies included)."""
    base = doc_id.split(_COPY)[0]
    digest = hashlib.blake2b(f"{seed}\0{base}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") < fraction * 2**64


def stream(files: list[InputFile], sample: Sample, *, sample_bytes: int, heldout_fraction: float,
           heldout_bytes: int, seed: int, text_field: str, on_bad: str) -> Iterator[str]:
    """Yield training texts until every language's quota of `sample_bytes` is met, filling `sample` as it goes.

    Languages without a quota (an input without a balance manifest) share `sample_bytes` first come, first
    served; documents without a label count as "unknown".
    """
    total = 0
    for f in files:
        for batch in iter_records(f, text_field=text_field, on_bad=on_bad, want_table=True):
            langs = batch.table[schemas.LANG].to_pylist()
            for text, doc_id, lang in zip(batch.texts, batch.ids, langs):
                if text is None:
                    continue
                lang = lang or "unknown"
                size = len(text.encode("utf-8"))
                if is_heldout(doc_id, heldout_fraction, seed):
                    if sample.heldout_bytes < heldout_bytes:
                        sample.heldout.append((lang, text))
                        sample.heldout_bytes += size
                    continue
                limit = sample.quota.get(lang, 0.0) * sample_bytes if sample.quota else sample_bytes
                used = sample.train_bytes.get(lang, 0) if sample.quota else total
                if used >= limit:
                    continue
                sample.train_bytes[lang] = sample.train_bytes.get(lang, 0) + size
                sample.train_docs += 1
                total += size
                yield text
            if total >= sample_bytes and sample.heldout_bytes >= heldout_bytes:
                return
