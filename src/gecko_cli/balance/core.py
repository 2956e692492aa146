"""Pure per-document logic of `gecko balance`: label, apply the quality rules, scrub personal data."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from gecko_cli import compute
from gecko_cli.balance import langid, pii, rules
from gecko_cli.kernels import byteclasses as byte_kernel
from gecko_cli.kernels import keys as key_kernel
from gecko_cli.kernels import numbers as number_kernel

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
        scrubbed: the rows whose text the scrubber changed (the others are the input texts).
        codes: the labels as `LANG_CODES` (uint8).
        kept: whether each document is kept (its reason is None).
    """

    langs: list[str]
    reasons: list[str | None]
    texts: list[str]
    pii: Counter = field(default_factory=Counter)
    scrubbed: list[int] = field(default_factory=list)
    codes: np.ndarray | None = None
    kept: np.ndarray | None = None


def process(texts: Sequence[str], labels: Sequence[str | None] | None, metas: Mapping[str, Sequence] | None, *,
            relabel: bool, keep_other: bool, rule_cfg: rules.RulesConfig | None, scrub: bool,
            mix_langs: set[str], utf8: pa.Array | pa.ChunkedArray | None = None) -> Outcome:
    """Label, filter and scrub a batch of documents.

    Each step runs over the whole batch at once (`langid.detect_batch`, `rules.check_batch`,
    `pii.scrub_batch`); the results are those of `detect`, `check` and `scrub` document by document.

    Args:
        texts: the documents' texts.
        labels: their existing `lang` labels (None when unlabelled); None with `relabel`.
        metas: their other string fields (source, id, path...) as columns: name -> a value per document (a
            list or a pyarrow string array), which the language detector may use.
        relabel: detect every language, ignoring existing labels.
        keep_other: keep documents labelled `other`.
        rule_cfg: quality-rule thresholds, or None for no rules.
        scrub: replace personal data by placeholders in kept documents.
        mix_langs: languages the mixture wants; documents in others are dropped.
        utf8: the same texts as an Arrow string column, when the caller has it: the scrubber's search for
            numbers then skips the texts whose bytes show they hold none (kernels/numbers.py), and the rules
            read their lines, code points and bytes from it (`rules.Docs`).

    Returns:
        An Outcome.
    """
    size = len(texts)
    if relabel or labels is None:
        langs = langid.detect_batch(texts, metas, utf8)
    else:
        langs = list(labels)
        unknown = [i for i, label in enumerate(langs) if label not in LANG_CODES]
        if unknown:
            meta = {k: _take(v, unknown) for k, v in metas.items()} if metas else None
            for i, lang in zip(unknown, langid.detect_batch([texts[i] for i in unknown], meta)):
                langs[i] = lang
    codes = np.fromiter(map(LANG_CODES.__getitem__, langs), np.uint8, size)
    reasons = np.full(size, None, object)
    other = codes == LANG_CODES["other"]
    dropped = other if not keep_other else np.zeros(size, bool)
    reasons[dropped] = OTHER_REASON
    in_mix = np.array([lang in mix_langs for lang in LANG_NAMES])[codes]
    reasons[~dropped & ~in_mix] = NOT_IN_MIX
    if rule_cfg is not None:
        judged = np.flatnonzero(~dropped & in_mix & ~other)
        if judged.size:
            every = judged.size == size  # the common case: no copies of the lists
            rows = judged.tolist()
            reasons[judged] = rules.check_batch(texts if every else [texts[i] for i in rows],
                                                langs if every else [langs[i] for i in rows], rule_cfg, utf8, judged)
    out = Outcome(langs, reasons.tolist(), list(texts), codes=codes, kept=np.equal(reasons, None).astype(bool))
    if scrub:
        kept = np.flatnonzero(out.kept).tolist()
        numbers = number_kernel.candidates(utf8) if utf8 is not None else None
        chosen = texts if len(kept) == size else [texts[i] for i in kept]
        runs = None
        if numbers is not None:  # the runs of digits of the texts that have some, found in their bytes too
            numbers = numbers[kept]
            flagged = np.flatnonzero(numbers)
            spans = number_kernel.run_spans(utf8, np.asarray(kept, np.int64)[flagged])
            runs = None if spans is None else (flagged[spans[0]], spans[1], spans[2])
        ats = byte_kernel.found(utf8, kept, b"@") if utf8 is not None else None
        changed, out.pii = pii.scrub_batch(chosen, numbers, runs, None if ats is None else ats[:, 0])
        for j, text in changed.items():
            out.texts[kept[j]] = text
        out.scrubbed = sorted(kept[j] for j in changed)
    return out


def _take(values: Sequence, rows: list[int]) -> Sequence:
    if hasattr(values, "take"):  # pyarrow
        return compute.take(values, rows)
    return [values[i] for i in rows]


def doc_keys(ids: list[str] | pa.Array | pa.ChunkedArray, seed: int) -> np.ndarray:
    """A uint64 key per document from a seeded hash of its id: the order of sampling and shuffling.

    Args:
        ids: the documents' ids, as a list or an Arrow string column (then hashed by kernels/keys.py when it is
            available here).
        seed: the run's seed.
    """
    if not isinstance(ids, list):
        keys = key_kernel.doc_keys(ids, f"{seed}\0".encode())
        if keys is not None:
            return keys
        ids = ids.to_pylist()
    salted = hashlib.blake2b(f"{seed}\0".encode(), digest_size=8)  # hashes of salt + id, from a copy of it
    digests = []
    for i in ids:
        h = salted.copy()
        h.update(i.encode("utf-8", "surrogatepass"))
        digests.append(h.digest())
    return np.frombuffer(b"".join(digests), dtype="<u8").astype(np.uint64)  # little-endian integers


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


def copy_id_column(ids: pa.Array, copy: np.ndarray) -> pa.Array:
    """`copy_ids` of a string array, by Arrow kernels."""
    if ids.null_count or not len(ids):  # `copy_ids` writes a missing id as "None~epN"
        return pa.array(copy_ids(ids.to_pylist(), copy), pa.string())
    suffixes = pa.array([""] + [f"~ep{c}" for c in range(1, int(copy.max()) + 1)], pa.string())
    return compute.binary_join_element_wise(ids, compute.take(suffixes, compute.array(copy, np.int64)), separator="")
