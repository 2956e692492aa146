"""The language mixture: how much of each language to output, and which documents to repeat or leave out.

Pure functions: sizes in, plan out. Sizes are in one unit, bytes of text or (estimated) tokens.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from gecko_cli.errors import DataError
from gecko_cli.kernels.order import argsort

_EPS = 1e-9


@dataclass
class LangPlan:
    """One language's part of the plan: available size (after quality rules), target size and epochs."""

    lang: str
    share: float
    available: float
    target: float

    @property
    def epochs(self) -> float:
        return self.target / self.available if self.available else 0.0


@dataclass
class MixPlan:
    """The whole plan; `achieved` says whether every language got its share of `total`."""

    langs: list[LangPlan]
    total: float
    achieved: bool
    note: str = ""

    def as_dict(self) -> dict:
        return {"total": self.total, "achieved": self.achieved, "note": self.note,
                "langs": [{**asdict(p), "epochs": p.epochs} for p in self.langs]}


def plan_mixture(available: dict[str, float], mix: dict[str, float], *, total: float | None, max_epochs: float,
                 best_effort: bool, unit: str = "bytes") -> MixPlan:
    """Decide each language's output size.

    Args:
        available: size of each language's documents after the quality rules.
        mix: target share of each language (sums to 1).
        total: output size; None for the largest output that keeps every language within max_epochs.
        max_epochs: most repetitions of a language's documents.
        best_effort: when the cap makes `total` impossible, give the capped languages their cap and share the
            rest among the others, instead of raising.
        unit: name of the size unit, for messages.

    Returns:
        The plan.
    """
    wanted = {lang: s for lang, s in mix.items() if s > 0}
    empty = [lang for lang in wanted if available.get(lang, 0) <= 0]
    if empty:
        raise DataError(f"--mix asks for {empty[0]!r} but the input has no {empty[0]} documents "
                        "(after language labels and quality rules)",
                        hint=f"give {empty[0]} a share of 0, or add {empty[0]} documents to the input")
    cap = {lang: max_epochs * available[lang] for lang in wanted}
    largest = min(cap[lang] / s for lang, s in wanted.items())
    if total is None:
        targets = {lang: s * largest for lang, s in wanted.items()}
        return _plan(available, mix, targets, largest, True)
    targets = {lang: s * total for lang, s in wanted.items()}
    over = {lang: t / available[lang] for lang, t in targets.items() if t > cap[lang] * (1 + _EPS)}
    if not over:
        return _plan(available, mix, targets, total, True)
    worst = max(over, key=over.get)
    message = (f"the mix needs {over[worst]:.2f} epochs of {worst} for a total of {_fmt(total, unit)}, "
               f"above --max-epochs {max_epochs:g}")
    if not best_effort:
        raise DataError(message, hint=f"lower --total to at most {_fmt(largest, unit)}, raise --max-epochs, "
                                      "or pass --best-effort to write the closest mix")
    targets = _water_fill(wanted, cap, total)
    return _plan(available, mix, targets, sum(targets.values()), False, note=message + "; wrote the closest mix")


def _water_fill(shares: dict[str, float], cap: dict[str, float], total: float) -> dict[str, float]:
    """Give every language its share of what is left, capping those that hit their cap, until stable."""
    targets: dict[str, float] = {}
    free = dict(shares)
    left = total
    while free:
        weight = sum(free.values())
        capped = {lang for lang, s in free.items() if left * s / weight > cap[lang] * (1 + _EPS)}
        if not capped:
            targets.update({lang: left * s / weight for lang, s in free.items()})
            break
        for lang in capped:
            targets[lang] = cap[lang]
            left -= cap[lang]
            del free[lang]
    return targets


def _plan(available, mix, targets, total, achieved, note="") -> MixPlan:
    langs = [LangPlan(lang, mix.get(lang, 0.0), available.get(lang, 0.0), targets.get(lang, 0.0))
             for lang in sorted(set(available) | set(mix), key=_order)]
    return MixPlan(langs, total, achieved, note)


def _order(lang: str) -> tuple[int, str]:
    known = ("ko", "en", "code", "other")
    return (known.index(lang) if lang in known else len(known), lang)


def _fmt(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}"


def copies(keys: np.ndarray, sizes: np.ndarray, epochs: float) -> tuple[int, int]:
    """How to reach `epochs` repetitions of a language's documents, exactly in size.

    Every document is repeated floor(epochs) times; the fractional rest is met by one more copy of the
    documents with the smallest keys (seeded hashes of their ids) until that fraction of the size is reached.

    Args:
        keys: uint64 key of each document of the language.
        sizes: size of each document.
        epochs: target size over available size.

    Returns:
        (whole, threshold): every document gets `whole` copies, plus one if its key <= threshold
        (threshold -1 when no document gets one more).
    """
    whole = math.floor(epochs + _EPS)
    frac = epochs - whole
    if frac <= _EPS or not len(keys):
        return whole, -1
    order = argsort(keys)
    reach = np.cumsum(sizes[order]) >= frac * sizes.sum() * (1 - _EPS)
    last = int(np.argmax(reach)) if reach.any() else len(order) - 1
    return whole, int(keys[order][last])
