"""Scoring keep/drop decisions against the ground truth of shared/bench/plant_duplicates.py.

A *group* is a base document with its planted near, exact and normalized copies. The planter does not check
base documents against each other, and the sample corpus has natural near duplicates (successive versions of
the Rust book's listings, for one), so a dropped base document is judged by the definition the tools share:
exact Jaccard similarity of character 5-gram sets of the normalized text at or above the threshold.

- precision: share of dropped documents that are duplicates: a member of a planted group, or a document with
  exact Jaccard >= threshold to another member of the cluster it was dropped in.
- recall: share of planted copies that are not left in the output beside their base (dropping the copy, the
  base, or both in favour of a third document all remove the duplicate).
- recall_at_threshold: the same over the copies whose exact Jaccard to their base reaches the threshold, the
  near duplicates that the threshold itself defines; copies edited more than that are not duplicates at it.
- hardneg_kept: share of planted hard negatives (documents sharing 50-70 % of a base's words) left in.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

NGRAM = 5
COPY_KINDS = ("near", "exact", "normexact")


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


class Truth:
    """The planted ground truth with the corpus texts."""

    def __init__(self, truth_path: Path, docs: dict[str, dict]):
        with open(truth_path, encoding="utf-8") as fh:
            self.truth = {r["id"]: r for r in map(json.loads, fh) if r}
        self.docs = docs
        self.group = {i: (r["src"] if r["kind"] in COPY_KINDS else i) for i, r in self.truth.items()}
        self.size = Counter(self.group.values())
        self._grams: dict[str, set[str]] = {}
        self.copies = [i for i, r in self.truth.items() if r["kind"] in COPY_KINDS]
        self.copy_jaccard = {i: self.jaccard(i, self.truth[i]["src"]) for i in self.copies}

    def grams(self, doc_id: str) -> set[str]:
        """Character 5-grams of a document's normalized text (a shorter text is one shingle)."""
        from gecko_cli.dedup.normalize import normalize_text

        if doc_id not in self._grams:
            n = normalize_text(self.docs[doc_id]["text"] or "")
            self._grams[doc_id] = {n[j:j + NGRAM] for j in range(len(n) - NGRAM + 1)} or ({n} if n else set())
        return self._grams[doc_id]

    def jaccard(self, a: str, b: str) -> float:
        """Exact Jaccard similarity of the 5-gram sets of two documents."""
        x, y = self.grams(a), self.grams(b)
        return len(x & y) / len(x | y) if x | y else 1.0

    def score(self, kept_ids: list[str], dup_of: dict[str, str | None], threshold: float) -> dict:
        """Precision, recall and kept hard negatives of one tool's decisions.

        Args:
            kept_ids: ids of the documents the tool kept.
            dup_of: for each dropped document, the id of the document its cluster kept (None: not a duplicate,
                e.g. empty).
            threshold: the Jaccard threshold the tool ran with.
        """
        kept = set(kept_ids)
        members = defaultdict(list)
        for doc_id, keeper in dup_of.items():
            members[keeper].append(doc_id)
        dropped = [i for i in self.truth if i not in kept]
        wrong = []
        for doc_id in dropped:
            if self.size[self.group[doc_id]] >= 2:
                continue
            keeper = dup_of.get(doc_id)
            cluster = [keeper, *members[keeper]] if keeper in self.docs else []
            best = max((self.jaccard(doc_id, m) for m in cluster if m != doc_id), default=0.0)
            if best < threshold:
                wrong.append({"id": doc_id, "kind": self.truth[doc_id]["kind"], "dup_of": keeper,
                              "best_jaccard_in_cluster": round(best, 4)})
        both_kept = {i for i in self.copies if i in kept and self.truth[i]["src"] in kept}
        at_thr = [i for i in self.copies if self.copy_jaccard[i] >= threshold]
        hardneg = [i for i, r in self.truth.items() if r["kind"] == "hardneg"]
        return {
            "documents": len(self.truth), "kept": len(kept), "dropped": len(dropped),
            "precision": _ratio(len(dropped) - len(wrong), len(dropped)),
            "recall": _ratio(len(self.copies) - len(both_kept), len(self.copies)),
            "recall_at_threshold": _ratio(sum(i not in both_kept for i in at_thr), len(at_thr)),
            "copies_at_threshold": len(at_thr),
            "hardneg_kept": _ratio(sum(i in kept for i in hardneg), len(hardneg)),
            "recall_breakdown": self._breakdown(both_kept),
            "wrong_drops": wrong,
        }

    def _breakdown(self, both_kept: set[str]) -> dict:
        """Recall of planted copies by kind, by near-copy edit rate and by exact Jaccard to the base."""
        tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for doc_id in self.copies:
            r = self.truth[doc_id]
            j = self.copy_jaccard[doc_id]
            keys = [f"kind {r['kind']}", f"Jaccard {min(int(j * 10) / 10, 0.9):.1f}+"]
            if r["kind"] == "near":
                keys.append(f"edit rate {r['edit_rate']:.2f}")
            for key in keys:
                tally[key][0] += doc_id not in both_kept
                tally[key][1] += 1
        return {k: {"found": f, "n": n, "recall": _ratio(f, n)} for k, (f, n) in sorted(tally.items())}
