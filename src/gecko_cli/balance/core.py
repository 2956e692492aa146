"""Pure per-document logic of `gecko balance`: label, apply the quality rules, scrub personal data."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from gecko_cli.balance import langid, pii, rules

LANG_CODES = {"ko": 0, "en": 1, "code": 2, "other": 3}
LANG_NAMES = tuple(LANG_CODES)
OTHER_REASON = "other_language"
NOT_IN_MIX = "not_in_mix"


@dataclass
class Outcome:
    """What happened to a batch of documents.

    Attributes:
        langs: final label of each document.
        reasons: None for a kept document, else the drop reason.
        texts: the text of each document, personal data scrubbed when it is kept.
        pii: how many of each kind of personal data were replaced.
    """

    langs: list[str]
    reasons: list[str | None]
    texts: list[str]
    pii: Counter = field(default_factory=Counter)


def process(texts: list[str], labels: list[str | None], metas: list[dict], *, relabel: bool, keep_other: bool,
            rule_cfg: rules.RulesConfig | None, scrub: bool, mix_langs: set[str]) -> Outcome:
    """Label, filter and scrub a batch of documents.

    Args:
        texts: the documents' texts.
        labels: their existing `lang` labels (None when unlabelled).
        metas: their other string fields (source, id, path...), which the language detector may use.
        relabel: detect every language, ignoring existing labels.
        keep_other: keep documents labelled `other`.
        rule_cfg: quality-rule thresholds, or None for no rules.
        scrub: replace personal data by placeholders in kept documents.
        mix_langs: languages the mixture wants; documents in others are dropped.

    Returns:
        An Outcome.
    """
    out = Outcome([], [], [])
    for text, label, meta in zip(texts, labels, metas):
        lang = label if (label in LANG_CODES and not relabel) else langid.detect(text, meta)
        reason = None
        if lang == "other" and not keep_other:
            reason = OTHER_REASON
        elif lang not in mix_langs:
            reason = NOT_IN_MIX
        elif rule_cfg is not None and lang != "other":
            reason = rules.check(text, lang, rule_cfg)
        if reason is None and scrub:
            text, found = pii.scrub(text)
            if found:
                out.pii.update({k: v for k, v in found.items() if v})
        out.langs.append(lang)
        out.reasons.append(reason)
        out.texts.append(text)
    return out


def doc_keys(ids: list[str], seed: int) -> np.ndarray:
    """A uint64 key per document from a seeded hash of its id: the order of sampling and shuffling."""
    salt = f"{seed}\0".encode()
    return np.fromiter((int.from_bytes(hashlib.blake2b(salt + i.encode("utf-8", "surrogatepass"), digest_size=8)
                                       .digest(), "little") for i in ids), dtype=np.uint64, count=len(ids))


def copy_keys(keys: np.ndarray, copy: np.ndarray) -> np.ndarray:
    """The shuffle key of copy `copy` of each document (splitmix64 of key and copy number)."""
    with np.errstate(over="ignore"):
        x = keys + (copy.astype(np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def copy_ids(ids: list[str], copy: np.ndarray) -> list[str]:
    """Ids of repeated documents: the first copy keeps the id, copy n >= 1 gets `id~epN`."""
    return [i if c == 0 else f"{i}~ep{c}" for i, c in zip(ids, copy.tolist())]
