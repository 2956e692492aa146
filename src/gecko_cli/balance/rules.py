"""Quality rules of `gecko balance`: cheap per-document tests whose names are the drop reasons in the manifest.

Each rule is a small `Rule` subclass registered in `RULES`, in the order they are applied; the first rule a
document fails is its drop reason. The base class does the plumbing (which languages a rule judges, which
`RulesConfig` thresholds it reads, turning it off when they are None); a subclass writes only `fails`, and may
write `fails_batch`, the same test for many documents at once over the arrays of `Docs`, which `check_batch`
(what `gecko balance` runs) uses; without it a rule is asked document by document.
The defaults were calibrated on the shared corpus: benchmarks/bench_rules.py prints their drop rates.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from itertools import chain, repeat
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from gecko_cli.config import PARSES_TEXT
from gecko_cli.errors import ConfigError
from gecko_cli.kernels import lines as line_kernel

if TYPE_CHECKING:  # pyarrow is not loaded by the configuration: the gecko script chooses its memory pool first
    import pyarrow as pa

LANGS = ("ko", "en", "code")
_LANG_INDEX = {lang: i for i, lang in enumerate(LANGS)}
PROSE = ("ko", "en")

# Kinds of RulesConfig fields and the values they take; a "setting" cannot be None (off).
_RANGES = {"count": (0, math.inf, "0 or more"), "fraction": (0, 1, "between 0 and 1"), "setting": (1, math.inf, "at least 1")}
_Tests = tuple[tuple[str, "Callable[[Doc], bool]"], ...]


def _limit(default: float | None, kind: str):
    return field(default=default, metadata={"kind": kind, PARSES_TEXT: True})


@dataclass(frozen=True, kw_only=True)
class RulesConfig:
    """Thresholds of the quality rules. None (`off` in a TOML file or `--rule NAME=off`) turns a rule off.

    Attributes:
        min_chars, max_chars: `too_short`, `too_long`: bounds of characters. 5 drops one-word documents but
            keeps 99 % of the ~35-character movie reviews (10 drops 6 %); 1M is above Gopher's 100k words.
        max_dup_line_frac: prose: `dup_lines` above this share of non-blank lines repeating an earlier one
            (Gopher's 0.30 drops 17 % of the Click docs, whose short ``` fences repeat; 0.40 drops 6 %).
        max_dup_line_char_frac: prose: `dup_line_chars` above this share of characters in repeated lines.
        max_code_dup_line_char_frac: the same for code, where `}` and `end` repeat: real files reach 0.65.
        max_dup_para_frac, max_dup_para_char_frac: prose: the same for paragraphs, split on blank lines.
        max_symbol_word_ratio: prose: `symbol_ratio` above this many hashtags and decorative symbols (★ ♥ ■),
            plus ellipses in English, per whitespace-separated word (a short document counts 10 words).
        min_mean_line_chars, max_mean_line_chars: prose: `mean_line_length` outside these bounds of characters
            per non-blank line; the lower bound (menus, tag clouds) judges documents of 3 lines or more.
        max_jamo_frac: Korean: `jamo_runs` above this share of non-space characters in bare jamo (ㅋㅋ, ㅠㅠ).
        max_code_line_chars: code: `minified_code` when any line is longer (StarCoder and Codex use 1000).
        code_long_line_chars: code: lines longer than this count as long for `max_code_long_line_frac`.
        max_code_long_line_frac: code: `minified_code` above this share of characters in long lines.
        max_code_literal_frac: code: `data_literal` above this share of characters in data literals: base64
            or hex runs of 64+ characters, 16+ escaped bytes, runs of 16+ numbers.
    """

    min_chars: int | None = _limit(5, "count")
    max_chars: int | None = _limit(1_000_000, "count")
    max_dup_line_frac: float | None = _limit(0.4, "fraction")
    max_dup_line_char_frac: float | None = _limit(0.2, "fraction")
    max_code_dup_line_char_frac: float | None = _limit(0.8, "fraction")
    max_dup_para_frac: float | None = _limit(0.3, "fraction")
    max_dup_para_char_frac: float | None = _limit(0.2, "fraction")
    max_symbol_word_ratio: float | None = _limit(0.1, "count")
    min_mean_line_chars: float | None = _limit(10, "count")
    max_mean_line_chars: float | None = _limit(10_000, "count")
    max_jamo_frac: float | None = _limit(0.5, "fraction")
    max_code_line_chars: int | None = _limit(1000, "count")
    code_long_line_chars: int = _limit(300, "setting")
    max_code_long_line_frac: float | None = _limit(0.5, "fraction")
    max_code_literal_frac: float | None = _limit(0.5, "fraction")

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, _validated(f.name, getattr(self, f.name), f.metadata["kind"]))
        for low, high in (("min_chars", "max_chars"), ("min_mean_line_chars", "max_mean_line_chars")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ConfigError(f"rule setting {low} = {lo} is above {high} = {hi}",
                                  hint=f"lower {low}, raise {high}, or turn one off with --rule {low}=off")

    @functools.cached_property
    def _tests(self) -> dict[str, tuple[_Tests, _Tests]]:
        """Per language, the rules that apply bound to these thresholds: (for one-line documents, for others)."""
        return _bind_all(self)

    @functools.cached_property
    def _plan(self) -> dict[str, tuple[tuple[str, Rule, tuple], ...]]:
        """Per language, (name, rule, thresholds) of the rules that apply, in order (for `check_batch`)."""
        return {lang: tuple((name, rule, limits) for name, rule in RULES.items()
                            if (limits := rule.limits(self, lang)) is not None) for lang in LANGS}


def _validated(name: str, value, kind: str):
    """A field's value checked against its kind; text from a TOML file or a flag ("0.3", "off") is parsed."""
    hint = f"set it in [balance.rules] or with --rule {name}=VALUE" + ("" if kind == "setting" else " (or off)")
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            value = None if text in ("off", "none") else int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise ConfigError(f"rule setting {name} = {value!r} is not a number", hint=hint) from None
    if value is None and kind != "setting":
        return None
    if value is None:
        raise ConfigError(f"rule setting {name} cannot be off", hint=hint)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"rule setting {name} = {value!r} is not a number", hint=hint)
    if math.isinf(value):
        raise ConfigError(f"rule setting {name} must be a finite number, not {value}", hint=hint)
    lo, hi, text = _RANGES[kind]
    if not lo <= value <= hi:
        raise ConfigError(f"rule setting {name} must be {text}, not {value}", hint=hint)
    return value


_KIND = {f.name: f.metadata["kind"] for f in fields(RulesConfig)}


class Parts(NamedTuple):
    """Statistics of a document's lines or paragraphs, stripped; blank ones are left out of the counts."""

    items: list[str]  # every part, stripped, blanks included
    n: int  # non-blank parts
    repeated: int  # non-blank parts that repeat an earlier one
    chars: int  # characters in non-blank parts
    repeated_chars: int  # characters in parts that repeat an earlier one


def _parts(items: list[str]) -> Parts:
    items = list(map(str.strip, items))
    distinct = set(items)
    blank = "" in distinct
    n = len(items) - items.count("") if blank else len(items)
    chars = sum(map(len, items))
    return Parts(items, n, n - len(distinct) + blank, chars, chars - sum(map(len, distinct)))


def _one(text: str) -> Parts:
    return Parts([text], 1, 0, len(text), 0)


class Doc:
    """A document's text and language, with the views of it that several rules share, computed on first use."""

    __slots__ = ("text", "lang", "_lines", "_paragraphs")

    def __init__(self, text: str, lang: str):
        self.text = text.strip()
        self.lang = lang
        self._lines: Parts | None = None
        self._paragraphs: Parts | None = None

    def lines(self) -> Parts:
        """The document's lines."""
        if self._lines is None:
            self._lines = _parts(self.text.splitlines()) if "\n" in self.text else _one(self.text)
        return self._lines

    def paragraphs(self) -> Parts:
        """The document's paragraphs: runs of lines between blank lines."""
        if self._paragraphs is None:
            lines = self.lines()
            if lines.n == len(lines.items):  # no blank line: one paragraph
                self._paragraphs = _one(self.text)
            else:  # "\n\n\n" leaves a "\n" at the start of the next part: _parts strips it
                self._paragraphs = _parts("\n".join(lines.items).split("\n\n"))
        return self._paragraphs


class LineStats(NamedTuple):
    """`Parts` of the lines of every document of a batch, as arrays (one value per document)."""

    n: np.ndarray
    repeated: np.ndarray
    chars: np.ndarray
    repeated_chars: np.ndarray


class Docs:
    """A batch of documents in one language: the batch counterpart of `Doc`. Views that several rules share
    are arrays with a value per document, computed on first use by C-level loops (`map` over str methods,
    numpy; the line statistics by the kernel of kernels/lines.py when it is available), so that a batch of short
    documents costs little Python per document."""

    #: Without the line kernel, lines are split and compared this many characters of text at a time: their
    #: strings then stay in cache.
    LINE_CHUNK = 1 << 18

    def __init__(self, texts: Sequence[str], lang: str, utf8: pa.Array | pa.ChunkedArray | None = None,
                 rows: np.ndarray | None = None):
        """`utf8`, when given, is an Arrow string column that holds the same texts (before they are stripped)
        at `rows`: the kernels that can then read their lines, code points and bytes from it (lines,
        codepoints, byteclasses)."""
        self.texts = list(map(str.strip, texts))
        self.lang = lang
        self.size = len(self.texts)
        self._utf8 = (utf8, np.arange(self.size) if rows is None else rows) if utf8 is not None else None
        self._counted: np.ndarray | bool | None = None  # False: the kernel does not run here
        self._byte_stats: dict[tuple[bytes, ...], tuple[np.ndarray, np.ndarray] | None] = {}
        self._holds: dict[str, np.ndarray] = {}
        self.lengths = _ints(map(len, self.texts), self.size)
        self.multiline = self._in_column("\n")  # before the texts are stripped: those are looked at again
        if self.multiline is None:
            self.multiline = _contains(self.texts, "\n")
        else:
            some = np.flatnonzero(self.multiline)
            self.multiline[some] = _contains([self.texts[i] for i in some.tolist()], "\n")
        self._lines: LineStats | None = None
        self._paragraphs: LineStats | None = None
        self._line_lengths: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._wide: np.ndarray | None = None
        self._code_points: tuple[np.ndarray, np.ndarray] | None = None

    def doc(self, i: int) -> Doc:
        """Document `i` as a Doc (for rules without array code)."""
        return Doc(self.texts[i], self.lang)

    def holds(self, char: str) -> np.ndarray:
        """Per document, whether it holds `char`, an ASCII character that is not whitespace (stripping leaves
        it)."""
        if char not in self._holds:
            found = self._in_column(char)
            self._holds[char] = found if found is not None else _contains(self.texts, char)
        return self._holds[char]

    def count(self, substring: str, rows: np.ndarray) -> np.ndarray:
        """Per document of `rows`, how often it holds `substring` (as `str.count`), a string without whitespace
        (stripping leaves each of its occurrences): from the column's bytes by kernels/byteclasses.py (memchr)
        when there is one and the kernel runs here."""
        if self._utf8 is not None:
            from gecko_cli.kernels import byteclasses

            counted = byteclasses.occurrences(self._utf8[0], self._utf8[1][rows], substring)
            if counted is not None:
                return counted
        texts = self.texts if len(rows) == self.size else [self.texts[i] for i in rows.tolist()]  # (rows: sorted)
        return _ints(map(str.count, texts, repeat(substring)), len(rows))

    def _in_column(self, char: str) -> np.ndarray | None:
        """Whether each text holds the ASCII `char` before it is stripped, read from the column's bytes by
        kernels/byteclasses.py (memchr); None without the column or the kernel."""
        if self._utf8 is None:
            return None
        from gecko_cli.kernels import byteclasses

        found = byteclasses.found(*self._utf8, char.encode())
        return None if found is None else found[:, 0].copy()

    def wide(self) -> np.ndarray:
        """The documents that are not pure ASCII."""
        if self._wide is None:
            self._wide = np.flatnonzero(~np.fromiter(map(str.isascii, self.texts), bool, self.size))
        return self._wide

    def count_in(self, ranges: tuple[tuple[int, int], ...]) -> np.ndarray:
        """Per document, its code points in `ranges` (inclusive bounds, beyond ASCII, no whitespace in them, so
        that they count the same in the stripped text). The sets of `COUNTED_RANGES` are counted together, from
        the Arrow column when there is one and the kernel runs here."""
        if self._utf8 is not None and ranges in COUNTED_RANGES:
            if self._counted is None:
                from gecko_cli.kernels import codepoints

                counted = codepoints.counts(*self._utf8, COUNTED_RANGES)
                self._counted = False if counted is None else counted
            if self._counted is not False:
                return self._counted[:, COUNTED_RANGES.index(ranges)]
        return np.bincount(self.chars_in(ranges), minlength=self.size)

    def byte_stats(self, classes: tuple[bytes, ...]) -> tuple[np.ndarray, np.ndarray] | None:
        """Per document, its bytes in each class and its longest run of bytes of the first class, read from the
        Arrow column (kernels/byteclasses.py; no class may hold whitespace); None without the column or the
        kernel."""
        if self._utf8 is None:
            return None
        if classes not in self._byte_stats:
            from gecko_cli.kernels import byteclasses

            self._byte_stats[classes] = byteclasses.stats(*self._utf8, classes)
        return self._byte_stats[classes]

    def long_runs(self, rows: np.ndarray, members: bytes, min_run: int, tail: bytes = b"",
                  max_tail: int = 0) -> np.ndarray | None:
        """Per document of `rows`, its characters in runs of at least `min_run` of `members` (ASCII) with up to
        `max_tail` of `tail` after each (kernels/byteclasses.py `long_runs`), read from the Arrow column (none of
        them may be whitespace, so that they count the same in the stripped texts); None without the column or
        the kernel."""
        if self._utf8 is None:
            return None
        from gecko_cli.kernels import byteclasses

        return byteclasses.long_runs(self._utf8[0], self._utf8[1][rows], members, min_run, tail, max_tail)

    def chars_in(self, ranges: tuple[tuple[int, int], ...]) -> np.ndarray:
        """The document of every character (in order) whose code point is in one of `ranges` (inclusive
        bounds, beyond ASCII)."""
        if self._code_points is None:
            self._code_points = _code_points([self.texts[i] for i in self.wide().tolist()])
        return self.wide()[_chars_in(*self._code_points, ranges)]

    def lines(self) -> LineStats:
        """Per document, the statistics of `Doc.lines()`."""
        if self._lines is None:
            self._lines = self._line_stats()
        return self._lines

    def paragraphs(self) -> LineStats:
        """Per prose document, the statistics of `Doc.paragraphs()` where a line repeats (elsewhere no
        paragraph can repeat: their values there are those of one paragraph)."""
        self.lines()
        return self._paragraphs

    def line_lengths(self, i: int) -> np.ndarray:
        """The lengths of the (stripped) lines of document `i`."""
        self.lines()
        lengths, start, end = self._line_lengths
        return lengths[start[i]:end[i]] if start[i] >= 0 else self.lengths[i:i + 1]

    def _line_stats(self) -> LineStats:
        n, repeated = np.ones(self.size, np.int64), np.zeros(self.size, np.int64)
        chars, repeated_chars = self.lengths.copy(), np.zeros(self.size, np.int64)
        paragraphs = LineStats(n.copy(), repeated.copy(), chars.copy(), repeated_chars.copy())
        start, end = np.full(self.size, -1, np.int64), np.full(self.size, -1, np.int64)
        rows = np.flatnonzero(self.multiline)
        # What `_parts` computes, for every document with a line break at once (a stripped text neither starts
        # nor ends with a line break, so each has 2 lines or more): by the kernel, or the same in Python.
        split = line_kernel.stats_column(self._utf8[0], self._utf8[1][rows]) if self._utf8 is not None else None
        if split is None:
            texts = [self.texts[i] for i in rows.tolist()]
            split = line_kernel.stats(texts) or split_lines(texts, self.LINE_CHUNK)
        n[rows] = split.count - split.blanks
        repeated[rows] = n[rows] - split.distinct + (split.blanks > 0)
        chars[rows] = split.chars
        repeated_chars[rows] = split.chars - split.distinct_chars  # 0 where no line repeats
        if self.lang in PROSE:  # paragraphs, as `Doc.paragraphs()`, where they can repeat
            k = np.flatnonzero((repeated[rows] > 0) & (split.blanks > 0))
            paragraphs.n[rows[k]] = split.paragraphs[k]
            paragraphs.repeated[rows[k]] = split.paragraphs[k] - split.distinct_paragraphs[k]
            paragraphs.chars[rows[k]] = split.paragraph_chars[k]
            paragraphs.repeated_chars[rows[k]] = split.paragraph_chars[k] - split.distinct_paragraph_chars[k]
        start[rows] = np.cumsum(split.count) - split.count
        end[rows] = start[rows] + split.count
        self._line_lengths = (split.lengths, start, end)
        self._paragraphs = paragraphs
        return LineStats(n, repeated, chars, repeated_chars)


def split_lines(texts: list[str], chunk_chars: int = Docs.LINE_CHUNK) -> line_kernel.LineArrays:
    """`kernels.lines.stats` in Python: the lines of `chunk_chars` characters of texts at a time are split and
    compared together (their strings then stay in cache)."""
    sizes = _ints(map(len, texts), len(texts))
    cuts = np.searchsorted(np.cumsum(sizes), np.arange(chunk_chars, sizes.sum(), chunk_chars), side="right")
    parts = []
    for chunk in np.split(np.arange(len(texts)), np.unique(np.maximum(cuts, 1))):
        if not chunk.size:
            continue
        items = list(map(list, map(map, repeat(str.strip), map(str.splitlines, [texts[i] for i in chunk.tolist()]))))
        distinct = list(map(set, items))
        count = _ints(map(len, items), len(items))
        blanks = _ints(map(list.count, items, repeat("")), len(items))
        lengths = np.fromiter(map(len, chain.from_iterable(items)), np.int64, int(count.sum()))
        total = _segment_sums(lengths, count)
        n_distinct = _ints(map(len, distinct), len(items))
        # The characters of the distinct lines: all of them where no line repeats, which is the common case.
        distinct_chars = total.copy()
        some = np.flatnonzero(count - blanks - n_distinct + (blanks > 0)).tolist()
        distinct_chars[some] = _ints(map(sum, map(map, repeat(len), map(distinct.__getitem__, some))), len(some))
        paragraphs = np.zeros((len(items), 4), np.int64)  # where a line repeats and a blank line exists
        for k in (k for k in some if blanks[k]):
            p = _parts("\n".join(items[k]).split("\n\n"))
            paragraphs[k] = (p.n, p.n - p.repeated, p.chars, p.chars - p.repeated_chars)
        parts.append(line_kernel.LineArrays(count, blanks, n_distinct, distinct_chars, total, *paragraphs.T, lengths))
    if not parts:
        return line_kernel.LineArrays(*(np.zeros(0, np.int64) for _ in line_kernel.LineArrays._fields))
    return line_kernel.LineArrays(*map(np.concatenate, zip(*parts)))


def _ints(values, count: int) -> np.ndarray:
    return np.fromiter(values, np.int64, count)


def _contains(texts: list[str], char: str) -> np.ndarray:
    return np.fromiter(map(operator.contains, texts, repeat(char)), bool, len(texts))


def _segment_sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sums of consecutive segments of `values`, `counts` long each."""
    total = np.zeros(len(values) + 1, np.int64)
    np.cumsum(values, out=total[1:])
    ends = np.cumsum(counts)
    return total[ends] - total[ends - counts]


def _code_points(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The code points of the texts joined by newlines, and where each text starts in them."""
    starts = np.zeros(len(texts), np.int64)
    np.cumsum(_ints(map(len, texts[:-1]), len(texts) - 1) + 1, out=starts[1:])
    return np.frombuffer("\n".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32), starts


def _chars_in(code_points: np.ndarray, starts: np.ndarray, ranges: tuple[tuple[int, int], ...]) -> np.ndarray:
    """The text of each code point (in order) in one of `ranges`."""
    found = np.zeros(len(code_points), bool)
    for lo, hi in ranges:
        found |= (code_points - np.uint32(lo)) <= np.uint32(hi - lo)  # wraps below lo
    return np.searchsorted(starts, np.flatnonzero(found), side="right") - 1




class Rule(ABC):
    """A quality rule: subclasses set these attributes and write `fails`.

    Attributes:
        name: the drop reason written to the manifest.
        fields: language -> the RulesConfig fields whose values `fails` receives; other languages are exempt.
        multiline: True when a one-line document cannot fail the rule, which then skips such documents.
    """

    name: str
    fields: dict[str, tuple[str, ...]]
    multiline: bool = False

    def limits(self, cfg: RulesConfig, lang: str) -> tuple | None:
        """The values of the rule's `fields` for one language; None when `lang` is exempt or every threshold is
        None (the rule is off)."""
        names = self.fields.get(lang)
        if names is None:
            return None
        limits = tuple(getattr(cfg, n) for n in names)
        if all(v is None for n, v in zip(names, limits) if _KIND[n] != "setting"):
            return None
        return limits

    def bind(self, cfg: RulesConfig, lang: str) -> Callable[[Doc], bool] | None:
        """The rule's test for one language, with its thresholds fixed.

        Args:
            cfg: the thresholds.
            lang: "ko", "en" or "code".

        Returns:
            A function of a Doc, True when it fails; None when `lang` is exempt or every threshold is None.
        """
        limits = self.limits(cfg, lang)
        return None if limits is None else functools.partial(self.fails, *limits)

    @abstractmethod
    def fails(self, *limits_then_doc) -> bool:
        """Whether a Doc breaks the rule: takes the values of `fields`, then the Doc (last, for partial)."""

    def fails_batch(self, limits: tuple, docs: Docs, rows: np.ndarray) -> np.ndarray:
        """`fails` for the documents `rows` of a batch at once: a bool per row. Subclasses override it with
        array code; this default asks `fails` document by document."""
        return np.fromiter((self.fails(*limits, docs.doc(i)) for i in rows.tolist()), bool, len(rows))


def _on(langs: tuple[str, ...], *names: str) -> dict[str, tuple[str, ...]]:
    return {lang: names for lang in langs}


class Length(Rule):
    """Too few or too many characters, surrounding whitespace aside."""

    def __init__(self, name: str, field: str, outside: Callable[[int, float], bool]):
        self.name, self.fields, self.outside = name, _on(LANGS, field), outside

    def fails(self, limit: float, doc: Doc) -> bool:
        return self.outside(len(doc.text), limit)

    def fails_batch(self, limits: tuple, docs: Docs, rows: np.ndarray) -> np.ndarray:
        return self.outside(docs.lengths[rows], limits[0])


class MinifiedCode(Rule):
    """Generated or minified code: one very long line, or most characters in long lines."""

    name = "minified_code"
    fields = _on(("code",), "max_code_line_chars", "max_code_long_line_frac", "code_long_line_chars")

    def fails(self, max_line: int | None, max_frac: float | None, long_line: int, doc: Doc) -> bool:
        if len(doc.text) <= long_line and (max_line is None or len(doc.text) <= max_line):
            return False
        lines = doc.lines()
        lengths = list(map(len, lines.items))
        longest = max(lengths)
        if max_line is not None and longest > max_line:
            return True
        if max_frac is None or longest <= long_line:
            return False
        return sum(n for n in lengths if n > long_line) > max_frac * lines.chars

    def fails_batch(self, limits: tuple, docs: Docs, rows: np.ndarray) -> np.ndarray:
        max_line, max_frac, long_line = limits
        size = docs.lengths[rows]
        judged = size > long_line
        if max_line is not None:
            judged |= size > max_line
        if not judged.any():
            return judged
        lines = docs.lines()
        for j in np.flatnonzero(judged).tolist():  # the long documents
            lengths = docs.line_lengths(int(rows[j]))
            longest = int(lengths.max())
            if max_line is not None and longest > max_line:
                continue
            if max_frac is None or longest <= long_line:
                judged[j] = False
            else:
                judged[j] = int(lengths[lengths > long_line].sum()) > max_frac * lines.chars[rows[j]]
        return judged


_B64_RUN = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{64,}={0,2}")
# Base64 characters -> "a", others -> " ": a run of 64 is then a substring search, far faster than _B64_RUN.
_B64_TABLE = bytes(0x61 if chr(i).isascii() and (chr(i).isalnum() or chr(i) in "+/") else 0x20 for i in range(256))
_DIGITS = b"0123456789"
#: The bytes `DataLiteral` counts from the Arrow column: base64 characters (for their longest run), backslashes,
#: digits; none is whitespace, so the counts are the same before and after the text is stripped.
_LITERAL_BYTES = (bytes(i for i in range(256) if _B64_TABLE[i] == 0x61), b"\\", _DIGITS)
_ESCAPES = re.compile(r"(?:\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[0-7]{1,3})){16,}")
_NUMBER = r"[-+]?\d(?:[eE][-+]\d|[\w.])*+"  # 42, 0xFF, 1.5e-3, 10L: possessive, so failing runs do not backtrack
_NUMBERS = re.compile(rf"(?<![\w.]){_NUMBER}(?:[\s,;:\[\](){{}}]++{_NUMBER}){{15,}}")  # not from mid-token


class DataLiteral(Rule):
    """Code that is mostly data: base64 or hex blobs, escaped byte strings, giant numeric arrays."""

    name = "data_literal"
    fields = _on(("code",), "max_code_literal_frac")

    def fails(self, max_frac: float, doc: Doc) -> bool:
        text = doc.text
        budget = max_frac * len(text)
        raw = text.encode("utf-8", "surrogatepass")
        return _literal_chars(text, b"a" * 64 in raw.translate(_B64_TABLE), 6 * text.count("\\") > budget,
                              10 * (len(raw) - len(raw.translate(None, _DIGITS))) > budget) > budget

    def fails_batch(self, limits: tuple, docs: Docs, rows: np.ndarray) -> np.ndarray:
        (max_frac,) = limits
        counted = docs.byte_stats(_LITERAL_BYTES)
        if counted is None:
            return super().fails_batch(limits, docs, rows)
        counts, longest = counted[0][rows], counted[1][rows]
        budget = max_frac * docs.lengths[rows]
        b64, escapes, numbers = longest >= 64, 6 * counts[:, 1] > budget, 10 * counts[:, 2] > budget
        out = np.zeros(len(rows), bool)
        b64_chars = np.zeros(len(rows), np.int64)  # the characters of _B64_RUN's matches, from the bytes
        found = docs.long_runs(rows[b64], _LITERAL_BYTES[0], 64, b"=", 2) if b64.any() else None
        if found is not None:
            b64_chars[b64] = found
        for j in np.flatnonzero(b64 | escapes | numbers).tolist():
            literal = _literal_chars(docs.texts[int(rows[j])], b64[j] and found is None, escapes[j], numbers[j])
            out[j] = b64_chars[j] + literal > budget[j]
        return out


def _literal_chars(text: str, b64: bool, escapes: bool, numbers: bool) -> int:
    """The characters of `text` in data literals of the kinds asked for: base64 runs (the text holds 64 base64
    characters in a row), escaped bytes (an escape has one backslash in at most 6 characters: asked when there
    are enough backslashes), runs of numbers (at least a digit per 10 characters, "0xFF,     ": asked when there
    are enough digits)."""
    literal = 0
    if b64:
        literal += sum(map(len, _B64_RUN.findall(text)))
    if escapes:
        literal += sum(map(len, _ESCAPES.findall(text)))
    if numbers:
        literal += sum(map(len, _NUMBERS.findall(text)))
    return literal


class Repetition(Rule):
    """Gopher's repetition rules: too large a share of lines or paragraphs (or of their characters) repeat.

    Every line of a repeated paragraph is a repeated line, so the line statistics bound the paragraph ones:
    below that bound, the paragraphs are not split.
    """

    multiline = True

    def __init__(self, name: str, fields: dict[str, tuple[str, ...]], *, paragraphs: bool = False, chars: bool = False):
        self.name, self.fields, self.paragraphs, self.chars = name, fields, paragraphs, chars

    def fails(self, max_frac: float, doc: Doc) -> bool:
        parts = doc.lines()
        if self.paragraphs:  # repeated paragraphs hold repeated lines and at most a newline per line
            if not parts.repeated or (self.chars and parts.repeated_chars + parts.repeated <= max_frac * parts.chars):
                return False
            parts = doc.paragraphs()
        if self.chars:
            return parts.repeated_chars > max_frac * parts.chars
        return parts.repeated > max_frac * parts.n

    def fails_batch(self, limits: tuple, docs: Docs, rows: np.ndarray) -> np.ndarray:
        (max_frac,) = limits
        lines = docs.lines()
        n, repeated, chars, repeated_chars = (a[rows] for a in lines[:4])
        if self.paragraphs:  # the bound on the lines decides most documents; the others are split
            split = repeated > 0
            if self.chars:
                split &= repeated_chars + repeated > max_frac * chars
            n, repeated, chars, repeated_chars = (a[rows] for a in docs.paragraphs())
            out = repeated_chars > max_frac * chars if self.chars else repeated > max_frac * n
            return split & out
        if self.chars:
            return repeated_chars > max_frac * chars
        return repeated > max_frac * n


class MeanLineLength(Rule):
    name = "mean_line_length"
    fields = _on(PROSE, "min_mean_line_chars", "max_mean_line_chars")
    min_lines = 3  # the lower bound judges documents of 3 lines or more: too_short judges shorter ones

    def fails(self, low: float | None, high: float | None, doc: Doc) -> bool:
        if "\n" not in doc.text:  # one line: only the upper bound applies
            return high is not None and len(doc.text) > high
        lines = doc.lines()
        mean = lines.chars / max(lines.n, 1)
        return (high is not None and mean > high) or (low is not None and lines.n >= self.min_lines and mean < low)

    def fails_batch(self, limits: tuple, docs: Docs, rows: np.ndarray) -> np.ndarray:
        low, high = limits
        multi = docs.multiline[rows]
        out = np.zeros(len(rows), bool)
        if high is not None:
            out[~multi] = docs.lengths[rows[~multi]] > high
        if multi.any():
            lines, r = docs.lines(), rows[multi]
            n = lines.n[r]
            mean = lines.chars[r] / np.maximum(n, 1)
            fails = np.zeros(len(r), bool)
            if high is not None:
                fails |= mean > high
            if low is not None:
                fails |= (n >= self.min_lines) & (mean < low)
            out[multi] = fails
        return out


_HASHTAG = re.compile(r"#(?=\w)")  # a hashtag, not a `# comment`, a `## heading` or a `####` rule
_DECORATION = re.compile("[\u2580-\u259f\u25a0-\u25ff\u2600-\u27bf\u2b00-\u2bff]")  # blocks, shapes, dingbats
_DECORATION_RANGES = ((0x2580, 0x27BF), (0x2B00, 0x2BFF))  # the same characters


def _hashtags(text: str) -> int:
    return len(_HASHTAG.findall(text)) if "#" in text else 0


def _decorations(text: str) -> int:
    return 0 if text.isascii() else len(_DECORATION.findall(text))


def _symbol_counts(docs: Docs, rows: np.ndarray) -> np.ndarray:
    """`_SYMBOLS[lang]` of the documents `rows`."""
    size = len(rows)
    out = np.zeros(size, np.int64)
    for j in np.flatnonzero(docs.holds("#")[rows]).tolist():
        out[j] += _hashtags(docs.texts[int(rows[j])])
    if docs.lang == "en":
        out += docs.count("...", rows)
        out += docs.count("\u2026", rows)
    return out + docs.count_in(_DECORATION_RANGES)[rows]


_SYMBOLS = {  # what counts as a symbol: Korean writes "..." as ordinary punctuation (재미없다...)
    "en": lambda text: _hashtags(text) + text.count("...") + text.count("\u2026") + _decorations(text),
    "ko": lambda text: _hashtags(text) + _decorations(text),
}
_SYMBOL_MIN_WORDS = 10  # ratios over a handful of words are noise: a short document counts as 10 words


class SymbolRatio(Rule):
    name = "symbol_ratio"
    fields = _on(PROSE, "max_symbol_word_ratio")

    def fails(self, max_ratio: float, doc: Doc) -> bool:
        text = doc.text
        symbols = _SYMBOLS[doc.lang](text)
        # Every non-blank line holds a word: counting the words (slow) is needed only above that bound.
        if symbols <= max_ratio * max(_SYMBOL_MIN_WORDS, doc.lines().n if "\n" in text else 1):
            return False
        return symbols > max_ratio * len(text.split())

    def fails_batch(self, limits: tuple, docs: Docs, rows: np.ndarray) -> np.ndarray:
        (max_ratio,) = limits
        symbols = _symbol_counts(docs, rows)
        out = symbols > max_ratio * _SYMBOL_MIN_WORDS  # a document counts at least that many words
        if out.any():
            lines_n = np.where(docs.multiline[rows], docs.lines().n[rows], 1)
            out &= symbols > max_ratio * np.maximum(_SYMBOL_MIN_WORDS, lines_n)
            for j in np.flatnonzero(out).tolist():
                out[j] = symbols[j] > max_ratio * len(docs.texts[int(rows[j])].split())
        return out


_JAMO = re.compile("[\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\ud7b0-\ud7ff\uffa0-\uffdc]+")  # + conjoining, halfwidth
_CONJOINING = re.compile("[\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff]")
_CONJOINING_RANGES = ((0x1100, 0x11FF), (0xA960, 0xA97F), (0xD7B0, 0xD7FF))  # the same characters
_JAMO_RANGES = (*_CONJOINING_RANGES, (0x3131, 0x318E), (0xFFA0, 0xFFDC))
#: The sets of code points that rules count per document (`Docs.count_in`), counted in one pass.
COUNTED_RANGES = (_DECORATION_RANGES, _JAMO_RANGES, _CONJOINING_RANGES)


class JamoRuns(Rule):
    """Bare Hangul jamo (ㅋㅋㅋ, ㅠㅠ) dominating a Korean document."""

    name = "jamo_runs"
    fields = _on(("ko",), "max_jamo_frac")

    def fails(self, max_frac: float, doc: Doc) -> bool:
        text = doc.text
        runs = _JAMO.findall(text)
        if not runs:
            return False
        if _CONJOINING.search("".join(runs)):  # decomposed (NFD) syllables are conjoining jamo: compose first
            text = unicodedata.normalize("NFC", text)
            runs = _JAMO.findall(text)
        return sum(map(len, runs)) > max_frac * (len(text) - text.count(" ") - text.count("\n") - text.count("\t"))

    def fails_batch(self, limits: tuple, docs: Docs, rows: np.ndarray) -> np.ndarray:
        (max_frac,) = limits
        out = np.zeros(len(rows), bool)
        jamo = docs.count_in(_JAMO_RANGES)[rows]  # the runs' lengths add up to the jamo in the text
        decomposed = docs.count_in(_CONJOINING_RANGES)[rows] > 0
        for j in np.flatnonzero((jamo > 0) & decomposed).tolist():  # NFD text: composed first, by `fails`
            out[j] = self.fails(max_frac, docs.doc(int(rows[j])))
        some = np.flatnonzero((jamo > 0) & ~decomposed)
        texts = [docs.texts[i] for i in rows[some].tolist()]
        blanks = sum(_ints(map(str.count, texts, repeat(blank)), len(texts)) for blank in " \n\t")
        out[some] = jamo[some] > max_frac * (docs.lengths[rows[some]] - blanks)
        return out


#: Every rule by name, in the order they are applied: cheap and decisive ones first.
RULES: dict[str, Rule] = {rule.name: rule for rule in (
    Length("too_short", "min_chars", operator.lt), Length("too_long", "max_chars", operator.gt),
    MinifiedCode(), DataLiteral(),
    Repetition("dup_lines", _on(PROSE, "max_dup_line_frac")),
    Repetition("dup_line_chars", {**_on(PROSE, "max_dup_line_char_frac"), "code": ("max_code_dup_line_char_frac",)},
               chars=True),
    Repetition("dup_paragraphs", _on(PROSE, "max_dup_para_frac"), paragraphs=True),
    Repetition("dup_paragraph_chars", _on(PROSE, "max_dup_para_char_frac"), paragraphs=True, chars=True),
    MeanLineLength(), SymbolRatio(), JamoRuns())}


def _bind_all(cfg: RulesConfig) -> dict[str, tuple[_Tests, _Tests]]:
    plan = {}
    for lang in LANGS:
        tests = [(name, rule, test) for name, rule in RULES.items() if (test := rule.bind(cfg, lang)) is not None]
        plan[lang] = (tuple((n, t) for n, r, t in tests if not r.multiline), tuple((n, t) for n, r, t in tests))
    return plan


def check_batch(texts: Sequence[str], langs: Sequence[str], cfg: RulesConfig,
                utf8: pa.Array | pa.ChunkedArray | None = None, utf8_rows: Sequence[int] | None = None,
                ) -> list[str | None]:
    """`check` of a batch of documents at once: the same reasons, with array code instead of a Python loop per
    document.

    Args:
        texts: the documents.
        langs: the language of each: "ko", "en" or "code".
        cfg: the thresholds.
        utf8: the same texts as an Arrow string column, when the caller has it: text i is its row
            `utf8_rows[i]` (row i without `utf8_rows`). Some counts are then read from its bytes.
        utf8_rows: see `utf8`.

    Returns:
        A name from `rule_names()` or None per document.

    Raises:
        ValueError: a language is not one of LANGS.
    """
    size = len(texts)
    reasons = np.full(size, None, object)
    codes = np.fromiter(map(_LANG_INDEX.get, langs, repeat(-1)), np.int64, size)
    if size and codes.min() < 0:
        lang = langs[int(np.argmin(codes))]
        raise ValueError(f"quality rules judge only {', '.join(LANGS)} documents, not {lang!r}")
    for code in np.flatnonzero(np.bincount(codes, minlength=len(LANGS))).tolist():
        lang = LANGS[code]
        where = np.flatnonzero(codes == code)
        every = where.size == size  # the common case (a batch in one language): no copy of the texts
        at = where if utf8_rows is None else np.asarray(utf8_rows, np.int64)[where]
        docs = Docs(texts if every else [texts[i] for i in where.tolist()], lang, utf8, at if utf8 is not None else None)
        alive = np.ones(docs.size, bool)
        for name, rule, limits in cfg._plan[lang]:
            rows = np.flatnonzero(alive & docs.multiline if rule.multiline else alive)
            if not rows.size:
                continue
            failed = rows[rule.fails_batch(limits, docs, rows)]
            alive[failed] = False
            reasons[where[failed]] = name
    return reasons.tolist()


def check(text: str, lang: str, cfg: RulesConfig) -> str | None:
    """The name of the first rule the document fails (its drop reason), or None to keep it.

    Args:
        text: the document.
        lang: its language: "ko", "en" or "code".
        cfg: the thresholds.

    Returns:
        A name from `rule_names()`, or None.

    Raises:
        ValueError: `lang` is not one of LANGS.
    """
    plan = cfg._tests.get(lang)
    if plan is None:
        raise ValueError(f"quality rules judge only {', '.join(LANGS)} documents, not {lang!r}")
    doc = Doc(text, lang)
    for name, fails in plan["\n" in doc.text]:
        if fails(doc):
            return name
    return None


def rule_names() -> tuple[str, ...]:
    """The names of every rule (every possible drop reason of `check`), in the order they are applied."""
    return tuple(RULES)
