"""Reading KMMLU and MMLU from the CSV files of their public releases.

Layouts (`--data-dir` may be the release folder, a folder holding it as `kmmlu/` or `mmlu/`, or the parent of
either one's `data/`):
- KMMLU: `{Subject}-dev.csv`, `{Subject}-test.csv` (and, on the Hub, `{Subject}-train.csv`) side by side, with
  a header naming question, answer (1..4), A, B, C, D among others; columns are found by name, as some files
  order them differently.
- MMLU: `dev/{subject}_dev.csv` and `test/{subject}_test.csv`, headerless as in the original release (question,
  A, B, C, D, answer letter) or with a header: question, choice0..choice3 (or A..D), answer (0..3 or a letter).
Subjects match in any case, with `_`, `-` and spaces alike (`criminal_law` finds `Criminal-Law`). KMMLU
subjects keep their file names; MMLU subjects are lower case, as the harness names them.

The harness reads KMMLU's CSVs with `datasets`, which types each column with pandas, so a number-only choice
column reaches the prompt as numbers and an empty cell as `None`; `harness_cells` reproduces that, so prompts
match character for character. MMLU stays text: the harness reads it from `cais/mmlu`, whose choices are strings.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from gecko_cli.errors import ConfigError, DataError

SUITES = ("kmmlu", "mmlu")
LETTERS = "ABCD"


@dataclass(frozen=True)
class Row:
    """One question: its text, four choices as the prompt shows them, and the gold index 0..3."""

    question: str
    choices: tuple[str, str, str, str]
    answer: int


@dataclass(frozen=True)
class Subject:
    """One subject's few-shot pool (dev) and questions (test), in file order."""

    name: str
    dev: list[Row]
    test: list[Row]


# --- pandas' column types (default read_csv options, as `datasets`' csv loader calls it) ------------------------

_NA_TOKENS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
    "NULL", "NaN", "None", "n/a", "nan", "null",
})
_SPACE = " \t\n\r\f\v"
_INT = re.compile(rf"[{_SPACE}]*[+-]?[0-9]+[{_SPACE}]*")
_INF = {s + w: -math.inf if s == "-" else math.inf for s in ("", "+", "-") for w in ("inf", "infinity")}
_BOOLS = {"True": "True", "TRUE": "True", "true": "True", "False": "False", "FALSE": "False", "false": "False"}
_MAX_DIGITS = 17
_POW10 = [float(f"1e{k}") for k in range(309)]  # as the C literals 1e0..1e308


def _pandas_float(token: str) -> float | None:
    """pandas' default C float parser (`precise_xstrtod`, then the inf spellings); None where it rejects the token.

    It keeps 17 significant digits and scales by a power of ten, so a longer number can differ from Python's
    float() in the last bit: the prompt shows pandas' value. This is pandas 2's parser; pandas 3 differs only on
    tokens no benchmark holds (17 or more leading zeros, exponents past 308 or of 18 or more digits, and some
    numbers of 19 or more digits, which it rounds correctly).
    """
    s, i, n = token, 0, len(token)
    while i < n and s[i] in _SPACE:
        i += 1
    negative = i < n and s[i] == "-"
    i += i < n and s[i] in "+-"
    number, exponent, digits = 0.0, 0, 0
    while i < n and "0" <= s[i] <= "9":
        if digits < _MAX_DIGITS:
            number, digits = number * 10.0 + (ord(s[i]) - 48), digits + 1
        else:
            exponent += 1
        i += 1
    if i < n and s[i] == ".":
        i, decimals = i + 1, 0
        while digits < _MAX_DIGITS and i < n and "0" <= s[i] <= "9":
            number, digits, decimals, i = number * 10.0 + (ord(s[i]) - 48), digits + 1, decimals + 1, i + 1
        while i < n and "0" <= s[i] <= "9":
            i += 1
        exponent -= decimals
    if digits == 0:
        return _INF.get(token.lower())
    number = -number if negative else number
    if i < n and s[i] in "eE":
        j = i + 1
        sign = -1 if j < n and s[j] == "-" else 1
        j += j < n and s[j] in "+-"
        e_digits, e = 0, 0
        while e_digits < _MAX_DIGITS and j < n and "0" <= s[j] <= "9":
            e, e_digits, j = e * 10 + (ord(s[j]) - 48), e_digits + 1, j + 1
        if e_digits:
            exponent, i = exponent + sign * e, j
    if exponent > 308:
        return _INF.get(token.lower())
    if exponent >= 0:
        number *= _POW10[exponent]
    elif exponent >= -308:
        number /= _POW10[-exponent]
    else:
        number = 0.0 if exponent < -616 else number / _POW10[-308 - exponent] / _POW10[308]
    while i < n and s[i] in _SPACE:
        i += 1
    if i < n or math.isinf(number):
        return _INF.get(token.lower())
    return number


def column_type(values: list[str]) -> tuple[str, list]:
    """The type pandas gives a CSV column, and its cells as that type (None where a cell is missing).

    int (int64 or uint64) if every cell is an integer and none is missing; float if every present cell is a number
    (integers with missing cells too, and a column of missing cells only); bool if every present cell is one of
    True/TRUE/true/False/FALSE/false; else text. Missing: pandas' default NA strings, the empty one included.
    Not reproduced: pandas' mix of rules for integers beyond 64 bits, read here as text.
    """
    present = [v for v in values if v not in _NA_TOKENS]
    kind: str = "text"
    parse: Callable[[str], object] = str
    if all(_INT.fullmatch(v) for v in present) and present:
        ints = [int(v) for v in present]
        if all(-(2**63) <= i < 2**63 for i in ints) or all(0 <= i < 2**64 for i in ints):
            kind, parse = ("int", int) if len(present) == len(values) else ("float", lambda v: float(int(v)))
    elif None not in (floats := {v: _pandas_float(v) for v in present}).values():
        kind, parse = "float", floats.__getitem__
    elif all(v in _BOOLS for v in present):
        kind, parse = "bool", lambda v: _BOOLS[v] == "True"
    return kind, [None if v in _NA_TOKENS else parse(v) for v in values]


def _arrow_float(x: float) -> str:
    """Arrow's float-to-string cast: shortest round-trip digits, plain notation only for 1e-6 <= |x| < 1e10."""
    if math.isinf(x) or x == 0:
        return {math.inf: "inf", -math.inf: "-inf"}.get(x) or ("-0" if math.copysign(1.0, x) < 0 else "0")
    d = Decimal(repr(x)).normalize()
    exp = d.adjusted()
    if -6 <= exp < 10:
        return format(d, "f")
    sign, digits, _ = d.as_tuple()
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp)}"


# How a cell prints once `datasets` has cast it from its own column type to the first split's: (own, first) -> str.
# Other pairs fail to cast, so the harness could not load such a file; they print as their own type.
_CASTS: dict[tuple[str, str], Callable[[object], str]] = {
    ("text", "text"): str, ("int", "int"): str, ("float", "float"): str, ("bool", "bool"): str,
    ("int", "text"): str, ("float", "text"): _arrow_float, ("bool", "text"): lambda b: "true" if b else "false",
    ("int", "float"): lambda i: str(float(i)),
}


def harness_cells(values: list[str], first_split_type: str = "text") -> list[str]:
    """One CSV column's cells as the harness's prompt template prints them.

    `datasets` types each split's file with pandas (see `column_type`), then casts every split after the first
    one it builds to the first one's column types; jinja prints the result with str(), None as "None". On the
    Hub, KMMLU's train split comes first, so its column types decide how dev and test cells print: where train's
    column is text, a dev cell "2.50" in an all-number column prints "2.5" and "2.0" prints "2" (Arrow's float
    formatting); where train's column is float too, they print "2.5" and "2.0" (Python's).

    Args:
        values: the raw cells of one column of one split, in file order.
        first_split_type: the column's type (a `column_type` kind) in the split built first.

    Returns:
        The cells as text, in the same order.
    """
    kind, cells = column_type(values)
    show = _CASTS.get((kind, first_split_type), str)
    return ["None" if c is None else show(c) for c in cells]


# --- CSV reading -------------------------------------------------------------------------------------------------


def _read_csv(path: str) -> list[tuple[int, list[str]]]:
    """Non-blank records of a CSV file as (line number, fields), as pandas reads it (a BOM is dropped)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            return [(reader.line_num, rec) for rec in reader if rec]
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text (byte {e.start})", hint="save the file as UTF-8") from None
    except csv.Error as e:
        raise DataError(f"{path} is not valid CSV: {e}", hint="re-download the file from its release") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}", hint="check the file's permissions") from None


def _columns(path: str, header: list[str], wanted: list[tuple[str, ...]], hint: str) -> list[int]:
    """Index of each wanted column; each entry lists accepted names, matched case-insensitively."""
    names = [h.strip().lower() for h in header]
    found = []
    for alternatives in wanted:
        idx = next((names.index(a.lower()) for a in alternatives if a.lower() in names), None)
        if idx is None:
            raise DataError(f"{path} has no column {' or '.join(repr(a) for a in alternatives)} "
                            f"(columns: {', '.join(h.strip() for h in header)})", hint=hint)
        found.append(idx)
    return found


def _check_width(path: str, records: list[tuple[int, list[str]]], width: int) -> None:
    for n, (line, rec) in enumerate(records, 1):
        if len(rec) != width:
            raise DataError(f"{path} row {n} (line {line}) has {len(rec)} fields, expected {width}",
                            hint="a quote is probably missing around a field holding a comma")


def _answer(path: str, n: int, line: int, value: str, accepted: dict[str, int]) -> int:
    gold = accepted.get(str(int(value)) if _INT.fullmatch(value) else value.strip())  # " 02" reads as 2, as in pandas
    if gold is None:
        raise DataError(f"{path} row {n} (line {line}): answer {value!r} is not one of {', '.join(accepted)}",
                        hint="fix or remove that row")
    return gold


_KMMLU_HINT = "KMMLU CSVs have the header question,answer,A,B,C,D,... with answers 1..4"
_KMMLU_ANSWERS = {str(i + 1): i for i in range(4)}
_CHUNK_ROWS = 10_000  # `datasets` hands pandas a CSV in chunks of this many rows; the first one sets the types


def _kmmlu_table(path: str) -> tuple[list[tuple[int, list[str]]], list[int]]:
    """A KMMLU file's rows (line number, fields) after the header, and where question, answer, A..D are."""
    records = _read_csv(path)
    if not records:
        raise DataError(f"{path} is empty", hint=_KMMLU_HINT)
    (_, header), body = records[0], records[1:]
    cols = _columns(path, header, [("question",), ("answer",), *((c,) for c in LETTERS)], _KMMLU_HINT)
    _check_width(path, body, len(header))
    return body, cols


def _read_kmmlu(files: dict[str, str]) -> tuple[list[Row], list[Row]]:
    # The harness builds the train split first and casts dev and test to its column types (see harness_cells).
    # Without the train file they are taken to be text, as they are wherever a column holds any non-number.
    first = ["text"] * len(LETTERS)
    if "train" in files:
        body, (_, _, *cs) = _kmmlu_table(files["train"])
        first = [column_type([rec[c] for _, rec in body[:_CHUNK_ROWS]])[0] for c in cs]
    splits = []
    for split in ("dev", "test"):
        body, (q, a, *cs) = _kmmlu_table(files[split])
        choices = list(zip(*(harness_cells([rec[c] for _, rec in body], t) for c, t in zip(cs, first))))
        splits.append([Row(rec[q], choices[n - 1], _answer(files[split], n, line, rec[a], _KMMLU_ANSWERS))
                       for n, (line, rec) in enumerate(body, 1)])
    return splits[0], splits[1]


_MMLU_HINT = "MMLU CSVs are headerless (question,A,B,C,D,answer letter) or have a header question,choice0..choice3,answer"
_MMLU_ANSWERS = {**{str(i): i for i in range(4)}, **{c: i for i, c in enumerate(LETTERS)}}
_MMLU_HEADERLESS_ANSWERS = {c: i for i, c in enumerate(LETTERS)}


def _read_mmlu(files: dict[str, str]) -> tuple[list[Row], list[Row]]:
    return _read_mmlu_split(files["dev"]), _read_mmlu_split(files["test"])


def _read_mmlu_split(path: str) -> list[Row]:
    records = _read_csv(path)
    if not records:
        raise DataError(f"{path} is empty", hint=_MMLU_HINT)
    header = [h.strip().lower() for h in records[0][1]]
    if "question" in header and "answer" in header:
        wanted = [("question",), *((f"choice{i}", c) for i, c in enumerate(LETTERS)), ("answer",)]
        cols, body, accepted = _columns(path, records[0][1], wanted, _MMLU_HINT), records[1:], _MMLU_ANSWERS
        width = len(header)
    else:
        cols, body, accepted, width = list(range(6)), records, _MMLU_HEADERLESS_ANSWERS, 6
    _check_width(path, body, width)
    q, c0, c1, c2, c3, a = cols
    return [Row(rec[q], (rec[c0], rec[c1], rec[c2], rec[c3]), _answer(path, n, line, rec[a], accepted))
            for n, (line, rec) in enumerate(body, 1)]


# --- finding subjects ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    folders: tuple[str, ...]  # where the files are, under the release folder ("" = in it)
    pattern: re.Pattern  # a file name, with groups name and split
    lower: bool  # subject names in lower case
    read: Callable[[dict[str, str]], tuple[list[Row], list[Row]]]  # {split: path} -> (dev, test)
    expected: str  # the file names, for messages


def _child(folder: str, name: str) -> str | None:
    """The folder inside `folder` called `name`, in any case, if there is one."""
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return None
    match = next((e for e in entries if e.lower() == name.lower() and os.path.isdir(os.path.join(folder, e))), None)
    return os.path.join(folder, match) if match else None


def _find(root: str, layout: _Layout) -> dict[str, dict[str, str]]:
    """{subject key: {"name": subject name, split: path, ...}} for the layout's files under root."""
    found: dict[str, dict[str, str]] = {}
    for folder in (_child(root, f) if f else root for f in layout.folders):
        for entry in sorted(os.listdir(folder)) if folder else ():
            path = os.path.join(folder, entry)
            if not ((m := layout.pattern.fullmatch(entry)) and os.path.isfile(path)):
                continue
            files = found.setdefault(subject_key(m["name"]), {"name": m["name"].lower() if layout.lower else m["name"]})
            split = m["split"].lower()
            if split in files:
                raise DataError(f"{files[split]} and {path} are the same subject's {split} file",
                                hint="subject names ignore case and _/-: remove one of the two")
            files[split] = path
    return found


LAYOUTS: dict[str, _Layout] = {
    "kmmlu": _Layout(("",), re.compile(r"(?P<name>.+)-(?P<split>dev|test|train)\.csv", re.I), False, _read_kmmlu,
                     "{Subject}-dev.csv and {Subject}-test.csv"),
    "mmlu": _Layout(("dev", "test"), re.compile(r"(?P<name>.+)_(?P<split>dev|test)\.csv", re.I), True, _read_mmlu,
                    "dev/{subject}_dev.csv and test/{subject}_test.csv"),
}


def subject_key(name: str) -> str:
    """How subject names compare: case, `_`, `-` and spaces do not matter."""
    return re.sub(r"[\s_-]+", "-", name.strip().lower())


def _locate(folder: str, suite: str, layout: _Layout) -> tuple[str, dict[str, dict[str, str]]]:
    """The first of folder, folder/<suite>, folder/data, folder/<suite>/data that holds the suite's files."""
    suite_dir = _child(folder, suite)
    for root in (folder, suite_dir, _child(folder, "data"), suite_dir and _child(suite_dir, "data")):
        if root and (found := _find(root, layout)):
            return root, found
    raise DataError(f"no {suite.upper()} files in {folder}: expected {layout.expected}",
                    hint=f"point --data-dir at the folder holding the {suite.upper()} CSVs, or at its parent "
                         f"with a {suite}/ folder in it")


def load_subjects(folder: str, suite: str, subjects: list[str] | None) -> list[Subject]:
    """Read the dev and test rows of the subjects of one suite.

    Args:
        folder: the release folder, or a folder holding it as `<suite>/`, or the parent of either's `data/`.
        suite: "kmmlu" or "mmlu".
        subjects: names to load, in this order, in any case and with `_` or `-` (None or empty: every subject
            found, sorted by name).

    Returns:
        The subjects, each with its dev rows (the few-shot pool) and test rows, in file order.

    Raises:
        ConfigError: an unknown suite, or a subject not in the folder (the hint lists those available).
        DataError: a missing folder, no files in the suite's layout, a subject without its dev or test file, a
            file without an expected column, a row with the wrong number of fields, or a bad answer.
    """
    layout = LAYOUTS.get(suite)
    if layout is None:
        raise ConfigError(f"unknown multiple-choice suite {suite!r}", hint=f"use one of: {', '.join(SUITES)}")
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise DataError(f"eval data folder {folder} {what}",
                        hint=f"point --data-dir at the folder holding {suite}/ ({layout.expected})")
    root, found = _locate(folder, suite, layout)
    if not subjects:
        return [_load_one(root, found[key], layout) for key in sorted(found)]
    keys: list[str] = []
    for asked in subjects:
        key = subject_key(asked)
        if key not in found:
            available = ", ".join(found[k]["name"] for k in sorted(found))
            raise ConfigError(f"{suite} subject {asked!r} not found in {root}", hint=f"available: {available}")
        if key not in keys:
            keys.append(key)
    return [_load_one(root, found[key], layout) for key in keys]


def _load_one(root: str, files: dict[str, str], layout: _Layout) -> Subject:
    name = files["name"]
    for split in ("dev", "test"):
        if split not in files:
            have = ", ".join(os.path.basename(v) for k, v in files.items() if k != "name")
            raise DataError(f"subject {name!r} in {root} has {have} but no {split} file",
                            hint=f"each subject needs both files: {layout.expected}")
    dev, test = layout.read(files)
    if not test:
        raise DataError(f"{files['test']} has no questions", hint="re-download the file from its release")
    return Subject(name, dev, test)
