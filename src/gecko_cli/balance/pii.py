"""Personal data scrubbing of `gecko balance`: e-mail addresses, phone numbers, resident registration numbers
(주민등록번호) and payment card numbers become placeholders.

Numbers are found in two steps: one regex proposes candidates by shape, then a validator per shape decides what
a candidate is (a date and gender digit for resident numbers, the Luhn check for cards, known prefixes and digit
counts for phones) or rejects it. Candidates glued to letters, digits or `_-+/@` on the left, or to a decimal
point, are parts of identifiers, versions, paths or longer numbers and stay. Resident numbers written with
their dash need no checksum: numbers issued since October 2020 no longer follow it, and the dash, the date and
the gender digit are rare together by chance. Bare 13-digit runs (timestamps, ids) must also pass the checksum.
`scrub_batch` gives the same results for a batch of texts, with one search for numbers over the batch.
"""

from __future__ import annotations

import datetime
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat

import numpy as np
import pyarrow as pa

from gecko_cli.kernels import numbers as number_kernel

KINDS = ("email", "phone", "rrn", "card")
PLACEHOLDERS = {"email": "<EMAIL>", "phone": "<PHONE>", "rrn": "<RRN>", "card": "<CARD>"}

# --------------------------------------------------------------------------------------------------- e-mail
# Found from the "@" (a fast literal search), then the local part is matched backwards from it.
_DOMAIN = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])")
# The local part: up to 64 of these characters before the "@", not starting with a dot. It is matched on the
# reversed text before the "@" (a search for a match that ends at the "@" would try every start before it).
_LOCAL_REVERSED = re.compile(r"[A-Za-z0-9._%+-]{1,64}")
_NOT_PERSONAL = frozenset({"git"})  # git@github.com:owner/repo is an SSH address, not a person's


def _emails(text: str, found: dict[str, int]) -> str:
    pieces, pos = [], 0
    for m in _DOMAIN.finditer(text):
        at = m.start()
        run = _LOCAL_REVERSED.match(text[max(pos, at - 64):at][::-1])
        local = run.group()[::-1].lstrip(".") if run is not None else ""
        if not local or local in _NOT_PERSONAL:
            continue
        pieces += (text[pos:at - len(local)], PLACEHOLDERS["email"])
        pos = m.end()
    if not pieces:
        return text
    found["email"] = len(pieces) // 2
    pieces.append(text[pos:])
    return "".join(pieces)


# -------------------------------------------------------------------------------------------------- numbers
# Candidate shapes, tried in this order at each position. Every one ends where no letter, digit, dash or
# decimal part follows, so no shape matches the head of a longer number.
_END = r"(?![\w-]|[.,]\d)"
_SHAPES = {
    "rrn": r"\d{6}-\d{7}",  # YYMMDD-GNNNNNN
    "digits": r"\d{9,19}",  # bare: a mobile number, a resident number or a card
    "card": r"\d{4}(?P<cs>[ -])(?:\d{4}(?P=cs)\d{4}(?P=cs)\d{1,4}(?:(?P=cs)\d{3})?|\d{6}(?P=cs)\d{4,5})",  # 4-4-4-4, 4-6-5
    "intl": r"\+[1-9]\d{0,2}(?:[ -]?(?:\(0\)|\(\d{1,4}\)|\d{1,4})){2,6}",  # +82 10-1234-5678, +44 (0)20 7946 0958
    "mobile": r"01[016789](?P<ms>[ .-])\d{3,4}(?P=ms)\d{4}",  # 010-1234-5678, 010 1234 5678
    "landline": r"0(?:2|[3-6][1-5]|[78]0|50\d|60)(?P<ls>[ .-])\d{3,4}(?P=ls)\d{4}",  # 02-123-4567, 031.123.4567
    "area": r"\(0(?:2|[3-6][1-5]|[78]0)\) ?\d{3,4}[ -]\d{4}",  # (02) 123-4567
    "service": r"1[5-8]\d\d-\d{4}",  # 1588-1234
    "nanp": r"(?:\([2-9]\d\d\) ?|[2-9]\d\d-)[2-9]\d\d-\d{4}",  # (415) 555-0132, 415-555-0132
}
_NUMBER = re.compile("|".join(f"(?P<{name}>{shape}){_END}" for name, shape in _SHAPES.items()), re.ASCII)
# _NUMBER is slow to scan (no fast first-character test), so it runs only inside the runs of digits and
# separators (single spaces) that this fast regex finds first: every shape is such a run, of 8 digits or more.
_RUN = re.compile(r"[0-9+(](?=[0-9 ().+-]{8})(?:[0-9().+-]++| (?=[0-9(]))++")
_MIN_DIGITS = 8
_RIGHT_STOP = frozenset("0123456789_-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LEFT_STOP = _RIGHT_STOP | frozenset("+/@")

_CENTURY = {"1": 1900, "2": 1900, "3": 2000, "4": 2000, "5": 1900, "6": 1900, "7": 2000, "8": 2000}  # 5-8: foreigners
_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
# Card networks: (lowest, highest prefix, lengths): Visa, Mastercard, Amex, Diners, JCB, Discover, UnionPay.
# Most long integers (ids, keys, constants) fail these before they get a 1-in-10 chance at the Luhn check.
_NETWORKS = (("4", "4", (13, 16, 19)), ("51", "55", (16,)), ("2221", "2720", (16,)), ("34", "34", (15,)),
             ("37", "37", (15,)), ("300", "305", (14, 16)), ("36", "36", (14, 16)), ("38", "39", (16,)),
             ("3528", "3589", (16, 17, 18, 19)), ("6011", "6011", (16, 19)), ("644", "649", (16, 19)),
             ("65", "65", (16, 19)), ("62", "62", (16, 17, 18, 19)))


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _rrn_date(d: str) -> bool:
    """A valid birth date (YYMMDD) and gender/century digit at the start of 13 digits."""
    century = _CENTURY.get(d[6])
    if century is None:
        return False
    try:
        datetime.date(century + int(d[:2]), int(d[2:4]), int(d[4:6]))
    except ValueError:
        return False
    return True


def _rrn_checksum(d: str) -> bool:
    total = sum(int(c) * w for c, w in zip(d, _RRN_WEIGHTS))
    return (11 - total % 11) % 10 == int(d[12]) or (d[6] in "5678" and (13 - total % 11) % 10 == int(d[12]))


def _luhn(d: str) -> bool:
    return (sum(map(int, d[-1::-2])) + sum(_LUHN_DOUBLE[int(c)] for c in d[-2::-2])) % 10 == 0


# The networks by length: most runs of digits (9 to 12 long) are no card of any network.
_NETWORKS_BY_LENGTH = {n: tuple((lo, hi) for lo, hi, lengths in _NETWORKS if n in lengths) for n in range(20)}


def _card(d: str) -> bool:
    return any(lo <= d[:len(lo)] <= hi for lo, hi in _NETWORKS_BY_LENGTH.get(len(d), ())) and _luhn(d)


def _bare(text: str) -> str | None:
    if len(text) == 13 and _rrn_date(text) and _rrn_checksum(text):
        return "rrn"
    if _card(text):
        return "card"
    return "phone" if text.startswith(("010", "011", "016", "017", "018", "019")) and len(text) in (10, 11) else None


def _service(text: str) -> str | None:
    head, tail = int(text[:4]), int(text[5:])
    return None if head < tail <= 2099 else "phone"  # 1600-1700 is a span of years


#: Shape -> what a candidate of that shape is ("rrn", "card", "phone"), or None when it is none of them.
_VALIDATORS: dict[str, Callable[[str], str | None]] = {
    "rrn": lambda text: "rrn" if _rrn_date(text.replace("-", "")) else None,
    "digits": _bare,
    "card": lambda text: "card" if _card(_digits(text)) else None,
    "intl": lambda text: "phone" if 8 <= len(_digits(text)) <= 15 else None,
    "mobile": lambda text: "phone",
    "landline": lambda text: "phone",
    "area": lambda text: "phone",
    "service": _service,
    "nanp": lambda text: "phone",
}


def _free(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] stands alone: not glued to an identifier, a path or a longer number."""
    if start and (text[start - 1] in _LEFT_STOP or (text[start - 1] in ".," and text[start - 2:start - 1].isdigit())):
        return False
    return end == len(text) or not (text[end] in _RIGHT_STOP or (text[end] in ".," and text[end + 1:end + 2].isdigit()))


def _candidates(text: str, run_start: int, run_end: int) -> list[tuple[int, int, str | None]]:
    """(start, end, kind or None) of each candidate in a run of digits and separators, text[run_start:run_end]."""
    r = text[run_start:run_end]
    if r.isdigit():  # most runs in code are plain numbers: judged without the slow regex
        return [(run_start, run_end, _bare(r))] if 9 <= len(r) <= 19 else []
    if len(r) - sum(map(r.count, " ().+-")) < _MIN_DIGITS:
        return []
    # Two characters past the run let _END see what follows it; no shape can reach into them.
    return [(m.start(), m.end(), _VALIDATORS[m.lastgroup](m.group()))
            for m in _NUMBER.finditer(text, run_start, min(run_end + 2, len(text)))]


def _numbers(text: str, found: dict[str, int], runs: Iterable[tuple[int, int]] | None = None) -> str:
    """The text with its numbers replaced, counted into `found`; `runs`, when given, are the (start, end) of the
    matches of _RUN in it (all that _candidates does not drop at once), else they are searched for."""
    pieces, pos = [], 0
    for run_start, run_end in runs if runs is not None else (m.span() for m in _RUN.finditer(text)):
        for start, end, kind in _candidates(text, run_start, run_end):
            if kind is not None and _free(text, start, end):
                found[kind] = found.get(kind, 0) + 1
                pieces += (text[pos:start], PLACEHOLDERS[kind])
                pos = end
    if not pieces:
        return text
    pieces.append(text[pos:])
    return "".join(pieces)


def scrub(text: str) -> tuple[str, dict[str, int]]:
    """The text with personal data replaced by placeholders, and how many of each kind were replaced.

    Args:
        text: a document.

    Returns:
        The scrubbed text (the same object when nothing was found) and a count per kind in KINDS, with the
        kinds that were not found left out (an empty dict for a clean text).
    """
    found: dict[str, int] = {}
    if "@" in text:
        text = _emails(text, found)
    text = _numbers(text, found)
    return text, found


def scrub_batch(texts: Sequence[str], numbers: np.ndarray | None = None,
                runs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                ats: np.ndarray | None = None) -> tuple[dict[int, str], Counter]:
    """`scrub` of a batch of texts at once: the same results, with one search for numbers over the batch.

    Args:
        texts: the documents.
        numbers: a bool per text, False where it holds no run that `_RUN` could match (found from the UTF-8
            bytes by kernels/numbers.py): those texts are not searched for numbers. None searches them all.
        runs: the matches of `_RUN` in the texts, found in their UTF-8 bytes by kernels/numbers.py `run_spans`
            (which, start, end: a text's index and where in it), with `numbers`: then no text is searched for
            them (the runs of texts whose e-mail addresses were replaced are found again by the kernel, in
            their new text; by the regex where it does not run).
        ats: a bool per text, whether it holds an "@" (found in its UTF-8 bytes); None: looked for in the texts.

    Returns:
        The scrubbed text of each document that changed, by its index (the others are clean), and how many of
        each kind were replaced in all of them (kinds not found left out).
    """
    changed: dict[int, str] = {}
    total: Counter = Counter()
    texts = list(texts)
    if ats is None:
        ats = np.fromiter(map(operator.contains, texts, repeat("@")), bool, len(texts))
    for i in np.flatnonzero(ats).tolist():
        found: dict[str, int] = {}  # e-mail addresses: text by text (few have an "@"); numbers next
        out = _emails(texts[i], found)
        if found:
            texts[i] = changed[i] = out
            total.update(found)
    if runs is not None and numbers is not None:  # numbers at the runs found, text by text
        spans: dict[int, list[tuple[int, int]]] = {}
        for i, start, end in zip(*(a.tolist() for a in runs)):
            spans.setdefault(i, []).append((start, end))
        moved = [i for i in changed if numbers[i]]  # replaced e-mail addresses moved the runs: found again
        for i in moved:
            spans.pop(i, None)
        again = None
        if moved:  # (a lone surrogate, which a JSON escape may give, is one 3-byte character to the kernel)
            utf8 = pa.array([texts[i].encode("utf-8", "surrogatepass") for i in moved], pa.binary())
            again = number_kernel.run_spans(utf8.view(pa.string()), np.arange(len(moved)))
        if again is not None:
            for j, start, end in zip(*(a.tolist() for a in again)):
                spans.setdefault(moved[j], []).append((start, end))
            moved = []
        for i, where in [*spans.items(), *((i, None) for i in moved)]:
            found = {}
            out = _numbers(texts[i], found, where)
            if found:
                texts[i] = changed[i] = out
                total.update(found)
        return changed, total
    # Numbers: one search over the texts joined by newlines. A run, a candidate and the characters `_free`
    # reads around it never include a newline, and a newline stands where a text begins or ends. (Replacing an
    # e-mail address inserts no digit or separator, so it makes no new run.)
    searched = list(range(len(texts))) if numbers is None else np.flatnonzero(numbers).tolist()
    if not searched:
        return changed, total
    chosen = [texts[i] for i in searched]
    joined = "\n".join(chosen)
    starts = np.zeros(len(chosen), np.int64)
    np.cumsum(np.fromiter(map(len, chosen[:-1]), np.int64, len(chosen) - 1) + 1, out=starts[1:])
    hits: dict[int, list[tuple[int, int, str]]] = {}
    for run in _RUN.finditer(joined):
        for start, end, kind in _candidates(joined, *run.span()):
            if kind is not None and _free(joined, start, end):
                hits.setdefault(int(np.searchsorted(starts, start, side="right")) - 1, []).append((start, end, kind))
    for j, found_here in hits.items():
        i = searched[j]
        base, pos, pieces = int(starts[j]), 0, []
        text = texts[i]
        for start, end, kind in found_here:
            pieces += (text[pos:start - base], PLACEHOLDERS[kind])
            pos = end - base
            total[kind] += 1
        pieces.append(text[pos:])
        changed[i] = "".join(pieces)
    return changed, total
